package install

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testenv"
)

// hostTree is a small host: nginx's conf directory (where the journal
// goes), a modules directory with a module, modules-enabled with a link.
func hostTree(t *testing.T) (root, conf, mods, enabled string) {
	t.Helper()
	root = t.TempDir()
	conf, mods, enabled = filepath.Join(root, "etc"), filepath.Join(root, "modules"), filepath.Join(root, "etc", "modules-enabled")
	for _, d := range []string{conf, mods, enabled} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(filepath.Join(mods, "a.so"), []byte("old a"), 0o600)
	os.Symlink("/elsewhere", filepath.Join(enabled, "50-mod-a.conf"))
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{filepath.Join(mods, "a.so"), mods, enabled, conf, root} {
		os.Chtimes(p, old, old)
	}
	return root, conf, mods, enabled
}

// TestRecoverAfterKillAtEveryStep is issue 21 item 1 at the file level:
// an install killed after any number of its changes, and also between
// recording a change and making it (a write's temporary file left), is
// undone exactly by Recover: contents, modes, link targets and times.
func TestRecoverAfterKillAtEveryStep(t *testing.T) {
	t.Parallel()
	for n := 0; n <= 4; n++ {
		for _, midway := range []bool{false, true} {
			root, conf, mods, enabled := hostTree(t)
			before := snapshot(t, root)
			avail := filepath.Join(root, "modules-available", "mod-a.conf")
			var x tx
			if err := x.begin(conf); err != nil {
				t.Fatal(err)
			}
			ops := []struct {
				path string
				do   func() error
			}{
				{filepath.Join(mods, "a.so"), func() error { return x.write(filepath.Join(mods, "a.so"), []byte("new a"), 0o644) }},
				{filepath.Join(mods, "b.so"), func() error { return x.write(filepath.Join(mods, "b.so"), []byte("b"), 0o644) }},
				{avail, func() error { return x.write(avail, []byte("load_module a;"), 0o644) }},
				{filepath.Join(enabled, "50-mod-a.conf"), func() error { return x.symlink(avail, filepath.Join(enabled, "50-mod-a.conf")) }},
			}
			for _, op := range ops[:min(n, len(ops))] {
				if err := op.do(); err != nil {
					t.Fatal(err)
				}
			}
			if midway && n < len(ops) {
				// Killed inside the next write: recorded, its temporary
				// file half-written, the target untouched.
				p := ops[n].path
				if err := x.mkdir(filepath.Dir(p)); err != nil { // recorded, as a write does
					t.Fatal(err)
				}
				x.touch(p)
				op := "new"
				if _, err := os.Lstat(p); err == nil {
					op = "keep"
					os.Link(p, backupOf(p))
				}
				x.record(op, p, map[bool]string{true: backupOf(p)}[op == "keep"])
				os.WriteFile(filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".tmp-12345"), []byte("half"), 0o600)
			}
			// Killed: neither rollback nor commit ran.
			found, err := Recover(conf)
			if err != nil || !found {
				t.Fatalf("n=%d midway=%v: Recover = %v, %v", n, midway, found, err)
			}
			testenv.SameTree(t, "after a kill", before, snapshot(t, root))
			if found, _ := Recover(conf); found {
				t.Error("the journal is still there after recovering")
			}
		}
	}
}

// TestCommittedJournalKeepsTheInstall: killed after the commit was
// recorded, the install stands; only its backups go.
func TestCommittedJournalKeepsTheInstall(t *testing.T) {
	t.Parallel()
	_, conf, mods, _ := hostTree(t)
	var x tx
	x.begin(conf)
	x.write(filepath.Join(mods, "a.so"), []byte("new a"), 0o644)
	x.j.State = "committed"
	x.j.save()
	if found, err := Recover(conf); !found || err != nil {
		t.Fatalf("Recover = %v, %v", found, err)
	}
	entries, _ := os.ReadDir(mods)
	if b, _ := os.ReadFile(filepath.Join(mods, "a.so")); string(b) != "new a" || len(entries) != 1 {
		t.Errorf("a.so %q, entries %v", b, entries)
	}
}

// TestStaleBackupIsNeverDeleted: a backup with no journal (an older
// version's interrupted run) may be the only copy of the previous file:
// the install refuses to go on instead of removing it.
func TestStaleBackupIsNeverDeleted(t *testing.T) {
	t.Parallel()
	_, _, mods, _ := hostTree(t)
	stale := backupOf(filepath.Join(mods, "a.so"))
	os.WriteFile(stale, []byte("the only copy"), 0o644)
	var x tx
	if err := x.write(filepath.Join(mods, "a.so"), []byte("new a"), 0o644); err == nil {
		t.Fatal("the install went on over a stale backup")
	}
	if b, err := os.ReadFile(stale); err != nil || string(b) != "the only copy" {
		t.Errorf("the stale backup: %q %v", b, err)
	}
}

// TestOneInstallAtATime: the host's lock is exclusive.
func TestOneInstallAtATime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unlock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockDir(dir); err == nil {
		t.Error("a second install took the lock")
	}
	unlock()
	unlock2, err := lockDir(dir)
	if err != nil {
		t.Errorf("the lock was not released: %v", err)
	} else {
		unlock2()
	}
}
