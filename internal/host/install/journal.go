package install

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/atomicfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
)

// JournalName is the file, in the modules directory, that records an
// install's changes before they are made.
const JournalName = ".nginx-modbuild-journal.json"

// journal is an install's write-ahead record.
type journal struct {
	path string
	// State is "open" while changes are made, "committed" once they
	// stand (only the backups are left to remove).
	State string `json:"state"`
	Steps []step `json:"steps"`
	// Dirs are the directories whose entries change, with their access
	// and modification times before.
	Dirs map[string][2]time.Time `json:"dirs"`
}

// step is one change, recorded before it is made.
type step struct {
	// Op is "keep" (Path is replaced after being hard-linked to Backup),
	// "new" (Path did not exist), "mkdir" (the directory Path is made) or
	// "temp" (a temporary name).
	Op     string `json:"op"`
	Path   string `json:"path"`
	Backup string `json:"backup,omitempty"`
}

func (j *journal) save() error {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(j.path, append(b, '\n'), 0o600)
}

// begin starts the journal in dir; the directory's own times are kept
// first, since writing the journal changes them.
func (t *tx) begin(dir string) error {
	t.j = &journal{path: filepath.Join(dir, JournalName), State: "open"}
	t.touch(t.j.path)
	t.j.Dirs = t.dirs
	return t.j.save()
}

// Roots are the directories an install changes files in: the modules
// directory, the configuration's directory and the snippet directories
// it includes. A journal step anywhere else is not one install made.
func (h *Host) Roots(l Layout) []string {
	var roots []string
	for _, d := range []string{h.ModulesPath, filepath.Dir(h.ConfPath), l.Dir, l.Available} {
		if d != "" && filepath.IsAbs(d) {
			roots = append(roots, filepath.Clean(d))
		}
	}
	return roots
}

// within reports whether p is a clean absolute path inside (or equal to,
// for a directory) one of roots.
func within(p string, roots []string) bool {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return false
	}
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, r+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// readJournal reads the journal at path, refusing one that is not a
// regular file owned by root (or by this user) and writable by no one
// else: whoever can write it decides which files Recover removes and
// renames, as root.
func readJournal(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file: refused (not a journal install wrote)", path)
	case ok && st.Uid != 0 && int(st.Uid) != os.Geteuid():
		return nil, fmt.Errorf("%s is owned by uid %d, not root: refused (install writes its journal as root; remove it if no install of yours was interrupted)", path, st.Uid)
	case fi.Mode().Perm()&0o022 != 0:
		return nil, fmt.Errorf("%s is writable by others (mode %v): refused (install writes its journal 0600; remove it if no install of yours was interrupted)", path, fi.Mode().Perm())
	}
	return userfile.Read(path, 8<<20)
}

// Recover undoes what an install killed midway (SIGKILL, a lost session)
// left, as its journal in dir says, exactly: every replaced file back
// from its backup (same inode, bytes, mode, times), every new file and
// directory gone, directory times as they were. A journal that says
// "committed" only has its backups removed. Every path the journal names
// must be under roots (Host.Roots), and the journal root's own file. It
// reports whether there was a journal; with an error the journal stays,
// for another try.
func Recover(dir string, roots []string) (bool, error) {
	path := filepath.Join(dir, JournalName)
	b, err := readJournal(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("read %s: %w", path, err)
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return true, fmt.Errorf("%s: %w (an interrupted install's record, unreadable: restore by hand from the *%s files beside the changed ones)", path, err, backupSuffix)
	}
	for _, s := range j.Steps {
		if !within(s.Path, roots) || (s.Backup != "" && s.Backup != backupOf(s.Path)) {
			return true, fmt.Errorf("%s: step %+v is not one install makes (install changes files in %s only): refusing to act on it", path, s, strings.Join(roots, ", "))
		}
	}
	for d := range j.Dirs {
		// A directory whose entries change: in a root, or a root's parent
		// (where the root itself was made).
		if !within(d, roots) && !slices.ContainsFunc(roots, func(r string) bool { return filepath.Dir(r) == d }) {
			return true, fmt.Errorf("%s: the directory %s is not one install changes (install changes files in %s only): refusing to act on it", path, d, strings.Join(roots, ", "))
		}
	}
	var errs []error
	if j.State == "committed" {
		for _, s := range j.Steps {
			if s.Op == "keep" {
				os.Remove(s.Backup)
			}
		}
		return true, os.Remove(path)
	}
	for i := len(j.Steps) - 1; i >= 0; i-- {
		s := j.Steps[i]
		removeTemps(s.Path)
		switch s.Op {
		case "keep":
			// No backup: the link was never made, so the file was never
			// replaced either.
			if err := putBack(s.Backup, s.Path); err != nil {
				errs = append(errs, err)
			}
		case "new", "temp":
			if err := os.Remove(s.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		case "mkdir":
			if err := os.Remove(s.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove the directory %s the install made: %w", s.Path, err))
			}
		}
	}
	if len(errs) > 0 {
		return true, errors.Join(errs...)
	}
	if err := os.Remove(path); err != nil {
		return true, err
	}
	return true, restoreTimes(j.Dirs)
}

// putBack renames backup over path. When the file was not replaced yet,
// both names are links to one file and rename(2) would do nothing: the
// backup name is removed instead. A missing backup means the link was
// never made, so path was never replaced.
func putBack(backup, path string) error {
	bi, err := os.Lstat(backup)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if pi, err := os.Lstat(path); err == nil && os.SameFile(bi, pi) {
		return os.Remove(backup)
	}
	return os.Rename(backup, path)
}

// removeTemps removes the temporary files a write of path leaves when
// killed (atomicfile's .name.tmp-*).
func removeTemps(path string) {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+escapeGlob(filepath.Base(path))+".tmp-*"))
	for _, m := range matches {
		os.Remove(m)
	}
}

func escapeGlob(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(s)
}

// lockDir takes an exclusive lock on the directory itself (no file is
// made, so a host is left exactly as it was), released by the returned
// function; another install holding it is an error.
func lockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another nginx-modbuild install is changing %s now: wait for it to finish", dir)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// RecoverHost is install recover: it takes the host's install lock and
// plays back an interrupted install's journal (in the directory of its
// nginx.conf), reporting whether there was one.
func RecoverHost(h *Host) (bool, error) {
	dir := filepath.Dir(h.ConfPath)
	unlock, err := lockDir(dir)
	if err != nil {
		return false, err
	}
	defer unlock()
	l, _ := DetectLayout(h.ConfPath) // a config that does not parse: the modules and conf directories only
	return Recover(dir, h.Roots(l))
}
