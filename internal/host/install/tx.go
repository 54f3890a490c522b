package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/atomicfile"
)

// tx changes files so that every change can be undone exactly: a file
// about to be replaced is first hard-linked to a backup name beside it,
// and restoring renames the backup back (the same inode, bytes, mode and
// times); a file that did not exist is removed again, and so is a
// directory the transaction made. With a journal (begin), every change is
// recorded before it is made, so that a process killed at any point
// (SIGKILL, a dropped SSH session) leaves what Recover needs to undo it.
type tx struct {
	j    *journal
	undo []func() error
	// dirs are the directories whose entries change, with their times
	// before: restored after a rollback, so not even a directory's
	// modification time tells that anything happened.
	dirs map[string][2]time.Time
	// backups are removed once the change is committed.
	backups []string
	// Log records what was done, for the operator.
	Log []string
}

const backupSuffix = ".nginx-modbuild-prev"

// touch records the times of the directory holding path, once.
func (t *tx) touch(path string) {
	dir := filepath.Dir(path)
	if _, ok := t.dirs[dir]; ok {
		return
	}
	if t.dirs == nil {
		t.dirs = map[string][2]time.Time{}
	}
	if fi, err := os.Stat(dir); err == nil {
		t.dirs[dir] = [2]time.Time{atime(fi), fi.ModTime()}
	}
}

// record writes a step to the journal before it is taken.
func (t *tx) record(op, path, backup string) error {
	if t.j == nil {
		return nil
	}
	t.j.Steps = append(t.j.Steps, step{Op: op, Path: path, Backup: backup})
	t.j.Dirs = t.dirs
	return t.j.save()
}

// keep arranges for path's current state to come back on rollback.
func (t *tx) keep(path string) error {
	t.touch(path)
	_, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := t.record("new", path, ""); err != nil {
			return err
		}
		t.undo = append(t.undo, func() error {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return nil
		})
		return nil
	case err != nil:
		return err
	}
	backup := backupOf(path)
	if _, err := os.Lstat(backup); err == nil {
		// Never deleted unread: it may be the only copy of the file.
		return fmt.Errorf("%s is there, left by an interrupted install with no journal saying what it is: it may be the previous %s; put it back or remove it, then run again", backup, path)
	}
	if err := t.record("keep", path, backup); err != nil {
		return err
	}
	if err := os.Link(path, backup); err != nil {
		return fmt.Errorf("keep the previous %s: %w", path, err)
	}
	t.backups = append(t.backups, backup)
	t.undo = append(t.undo, func() error { return putBack(backup, path) })
	return nil
}

// mkdir makes dir (and parents) if missing, to be removed on rollback.
func (t *tx) mkdir(dir string) error {
	var made []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		made = append(made, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(made) - 1; i >= 0; i-- {
		d := made[i]
		t.touch(d)
		if err := t.record("mkdir", d, ""); err != nil {
			return err
		}
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
		t.undo = append(t.undo, func() error { return os.Remove(d) })
		t.Log = append(t.Log, "made directory "+d)
	}
	return nil
}

// write puts data at path atomically with mode perm.
func (t *tx) write(path string, data []byte, perm fs.FileMode) error {
	if err := t.mkdir(filepath.Dir(path)); err != nil {
		return err
	}
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s exists and is not a regular file: move it away first", path)
	}
	if err := t.keep(path); err != nil {
		return err
	}
	if err := atomicfile.Write(path, data, perm); err != nil {
		return err
	}
	t.Log = append(t.Log, "wrote "+path)
	return nil
}

// remove takes path (a file or a link) away; rollback puts the same
// inode back.
func (t *tx) remove(path string) error {
	if err := t.keep(path); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	t.Log = append(t.Log, "removed "+path)
	return nil
}

// symlink makes path a symbolic link to target, atomically.
func (t *tx) symlink(target, path string) error {
	if err := t.mkdir(filepath.Dir(path)); err != nil {
		return err
	}
	if cur, err := os.Readlink(path); err == nil && cur == target {
		return nil
	}
	if fi, err := os.Lstat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory: move it away first", path)
	}
	if err := t.keep(path); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-link")
	os.Remove(tmp)
	if err := t.record("temp", tmp, ""); err != nil {
		return err
	}
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	t.Log = append(t.Log, "linked "+path+" -> "+target)
	return nil
}

// rollback undoes every change, newest first.
func (t *tx) rollback() error {
	var errs []error
	for i := len(t.undo) - 1; i >= 0; i-- {
		if err := t.undo[i](); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && t.j != nil {
		// Kept while anything could not be put back: Recover tries again.
		if err := os.Remove(t.j.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, restoreTimes(t.dirs))
	t.undo, t.backups, t.dirs = nil, nil, nil
	return errors.Join(errs...)
}

// commit keeps the changes and drops the backups: the journal says
// "committed" first, so a kill while the backups go never undoes a
// finished install.
func (t *tx) commit() error {
	if t.j != nil {
		t.j.State = "committed"
		if err := t.j.save(); err != nil {
			return err
		}
	}
	for _, b := range t.backups {
		os.Remove(b)
	}
	t.undo, t.backups = nil, nil
	if t.j != nil {
		return os.Remove(t.j.path)
	}
	return nil
}

func restoreTimes(dirs map[string][2]time.Time) error {
	var errs []error
	for dir, times := range dirs {
		if _, err := os.Stat(dir); err == nil {
			if err := os.Chtimes(dir, times[0], times[1]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func backupOf(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+backupSuffix)
}

// atime is a file's access time (its modification time where the system
// does not say).
func atime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Atim.Sec, st.Atim.Nsec)
	}
	return fi.ModTime()
}
