package install

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
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
			found, err := Recover(conf, []string{conf, mods, filepath.Join(root, "modules-available")})
			if err != nil || !found {
				t.Fatalf("n=%d midway=%v: Recover = %v, %v", n, midway, found, err)
			}
			testenv.SameTree(t, "after a kill", before, snapshot(t, root))
			if found, _ := Recover(conf, []string{conf, mods, filepath.Join(root, "modules-available")}); found {
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
	if found, err := Recover(conf, []string{conf, mods}); !found || err != nil {
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

// TestForgedJournalMovesNothingOutside is issue 30's item 7: a journal
// naming files outside the modules and configuration directories (to
// delete, rename over, re-time) is refused whole, and so is one that is
// not root's or is writable by others; nothing on the host changes.
func TestForgedJournalMovesNothingOutside(t *testing.T) {
	t.Parallel()
	root, conf, mods, _ := hostTree(t)
	outside := filepath.Join(root, "outside")
	os.MkdirAll(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "victim"), []byte("precious"), 0o600)
	os.WriteFile(filepath.Join(outside, "victim"+backupSuffix), []byte("attacker's"), 0o600)
	roots := []string{conf, mods}
	forge := func(j string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(conf, JournalName)
		if err := os.WriteFile(p, []byte(j), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
	}
	victim := filepath.Join(outside, "victim")
	for _, c := range []struct {
		what, journal string
		mode          os.FileMode
		want          string
	}{
		{"a new file outside", `{"state":"open","steps":[{"op":"new","path":"` + victim + `"}]}`, 0o600, "not one install makes"},
		{"a backup renamed over a file outside", `{"state":"open","steps":[{"op":"keep","path":"` + victim + `","backup":"` + victim + backupSuffix + `"}]}`, 0o600, "not one install makes"},
		{"a path climbing out", `{"state":"open","steps":[{"op":"new","path":"` + mods + `/../outside/victim"}]}`, 0o600, "not one install makes"},
		{"a directory outside re-timed", `{"state":"open","steps":[],"dirs":{"` + outside + `":["2001-01-01T00:00:00Z","2001-01-01T00:00:00Z"]}}`, 0o600, "not one install changes"},
		{"a journal others can write", `{"state":"open","steps":[]}`, 0o622, "writable by others"},
	} {
		forge(c.journal, c.mode)
		before := snapshot(t, root)
		found, err := Recover(conf, roots)
		if !found || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Recover = %v, %v", c.what, found, err)
		}
		testenv.SameTree(t, c.what, before, snapshot(t, root))
		os.Remove(filepath.Join(conf, JournalName))
	}
	if os.Geteuid() == 0 {
		forge(`{"state":"open","steps":[]}`, 0o600)
		os.Chown(filepath.Join(conf, JournalName), 1234, 1234)
		if _, err := Recover(conf, roots); err == nil || !strings.Contains(err.Error(), "owned by uid 1234") {
			t.Errorf("a journal of uid 1234: %v", err)
		}
	}
}
