package sysdeps

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/lines"
)

// Wanted is a file a build stopped without: a header a source includes
// (ldap.h, gssapi/gssapi.h), a library a link names (-lldap: ldap) or a
// command (cargo, g++ for cc1plus).
type Wanted struct {
	Kind WantKind
	Name string
}

// WantKind says what a Wanted file is.
type WantKind string

const (
	Header  WantKind = "header"
	Lib     WantKind = "library"
	Command WantKind = "command"
)

func (w Wanted) String() string {
	switch w.Kind {
	case Header:
		return "<" + w.Name + ">"
	case Lib:
		return "-l" + w.Name
	}
	return "the command " + w.Name
}

// matches reports whether path (as a Contents index lists it, without a
// leading slash) is the file w stands for.
func (w Wanted) matches(path string) bool {
	switch w.Kind {
	case Header:
		// Where the compiler looks by default: /usr/include and its
		// multiarch directory (a header one directory down, as
		// mailutils/ldap.h, is another <…>).
		dir, ok := strings.CutSuffix(path, "/"+w.Name)
		return ok && (dir == "usr/include" || multiarchInclude.MatchString(dir))
	case Lib:
		return libPath.MatchString(path) && (strings.HasSuffix(path, "/lib"+w.Name+".so") || strings.HasSuffix(path, "/lib"+w.Name+".a"))
	case Command:
		dir, ok := strings.CutSuffix(path, "/"+w.Name)
		return ok && slices.Contains([]string{"usr/bin", "usr/sbin", "bin", "sbin"}, dir)
	}
	return false
}

// multiarchInclude is /usr/include's multiarch directory.
var multiarchInclude = regexp.MustCompile(`^usr/include/[a-z0-9_]+-linux-gnu[a-z0-9_]*$`)

// libPath is a library directory the linker searches by default.
var libPath = regexp.MustCompile(`^(?:usr/)?lib(?:64)?/(?:[a-z0-9_]+-linux-gnu[a-z0-9_]*/)?lib[^/]+\.(?:so|a)$`)

// contentsConf declares the Contents index to apt as apt-file's
// configuration does (/etc/apt/apt.conf.d/50apt-file.conf), so apt
// downloads it with the release's other lists, verified by its signed
// InRelease.
const contentsConf = `Acquire::IndexTargets::deb::Contents-deb-nginx-modbuild {
    MetaKey "$(COMPONENT)/Contents-$(ARCHITECTURE)";
    ShortDescription "Contents-$(ARCHITECTURE)";
    Description "$(RELEASE)/$(COMPONENT) $(ARCHITECTURE) Contents (deb)";
    flatMetaKey "Contents-$(ARCHITECTURE)";
    flatDescription "$(RELEASE) Contents (deb)";
    PDiffs "false";
    KeepCompressed "true";
};
`

// contentsConfPath is where Provides writes contentsConf for the time it
// asks apt (and removes it again).
var contentsConfPath = "/etc/apt/apt.conf.d/50nginx-modbuild-contents"

// FileIndex finds which packages of a distribution hold a file, from the
// distribution's own file index: Debian's Contents-<arch> (what apt-file
// reads), downloaded once per run by apt.
type FileIndex struct {
	Distro distro.Distro
	Run    Runner
	Log    interface{ Printf(string, ...any) }
	// Dir keeps copies of the Contents files apt downloaded (a later
	// apt-get update without the Contents target, the Installer's,
	// removes apt's own): the cell's work directory.
	Dir string
	// files are those copies, made once per run; err why there are none.
	files []string
	err   error
}

// NoFileIndex says the distribution family has no file index this
// tool reads.
type NoFileIndex struct{ Family distro.Family }

func (e *NoFileIndex) Error() string {
	return fmt.Sprintf("looking up which package has a file is done for apt's Contents index only, not for %s (dnf provides '*/FILE', apk's so:/cmd: providers): declare the package (packages: {%s: [...]})", e.Family, e.Family)
}

// Provides returns the packages whose files include w, the index's
// best first (for a command, the package named after it; then in the
// index's order), and the command that searched.
func (x *FileIndex) Provides(ctx context.Context, w Wanted) ([]string, string, error) {
	if x.Distro.Family != distro.Apt {
		return nil, "", &NoFileIndex{Family: x.Distro.Family}
	}
	if err := x.load(ctx); err != nil {
		return nil, "", err
	}
	var pkgs []string
	for _, f := range x.files {
		// Decompressed, a release's Contents is some hundred megabytes:
		// grep keeps only the lines naming the file.
		out, err := x.Run(ctx, []string{"sh", "-c", `/usr/lib/apt/apt-helper cat-file "$1" | grep -F -- "$2"; [ $? -le 1 ]`, "sh", f, w.needle()})
		if err != nil {
			return nil, "", fmt.Errorf("read %s: apt-helper cat-file: %w\n%s", f, err, lines.Last(string(out), 5))
		}
		for _, p := range contentsMatches(out, w) {
			if !slices.Contains(pkgs, p) {
				pkgs = append(pkgs, p)
			}
		}
	}
	if w.Kind == Command {
		if i := slices.Index(pkgs, w.Name); i > 0 {
			pkgs = append([]string{w.Name}, slices.Delete(pkgs, i, i+1)...)
		}
	}
	return pkgs, fmt.Sprintf("%s's Contents index (apt-get indextargets Contents-deb)", x.Distro.Name), nil
}

// needle is a string every Contents line of w's file holds.
func (w Wanted) needle() string {
	if w.Kind == Lib {
		return "/lib" + w.Name + "."
	}
	return "/" + w.Name
}

// contentsMatches are the packages a Contents file lists for w's file.
func contentsMatches(contents []byte, w Wanted) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(contents))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	needle := w.needle()
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, needle) {
			continue
		}
		// "path<spaces>section/pkg,section/pkg2"; a path may hold spaces,
		// the package list never does.
		i := strings.LastIndexAny(line, " \t")
		if i < 0 {
			continue
		}
		path, list := strings.TrimSpace(line[:i]), line[i+1:]
		if !w.matches(path) {
			continue
		}
		for _, q := range strings.Split(list, ",") {
			if _, p, ok := strings.Cut(q, "/"); ok {
				q = p
			}
			if q != "" && !slices.Contains(out, q) {
				out = append(out, q)
			}
		}
	}
	return out
}

// load has apt download the Contents index of every source the host
// uses and reads it.
func (x *FileIndex) load(ctx context.Context) error {
	if x.files != nil || x.err != nil {
		return x.err
	}
	x.err = x.fetch(ctx)
	return x.err
}

func (x *FileIndex) fetch(ctx context.Context) error {
	if err := os.WriteFile(contentsConfPath, []byte(contentsConf), 0o644); err != nil {
		return fmt.Errorf("declare the Contents index to apt: %w", err)
	}
	defer os.Remove(contentsConfPath)
	if x.Log != nil {
		x.Log.Printf("looking up the missing files in %s's Contents index (apt-get update with Contents-deb, as apt-file does)", x.Distro.Name)
	}
	update := []string{"apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-q"}
	// apt keeps only what its signed InRelease vouches for: a file of
	// another size (a mirror mid-sync) is refused and the others kept, so
	// a failed update can still leave a usable index.
	upOut, upErr := x.Run(ctx, update)
	out, err := x.Run(ctx, []string{"apt-get", "indextargets", "--format", "$(FILENAME)", "Identifier: Contents-deb-nginx-modbuild"})
	if err != nil {
		return fmt.Errorf("list %s's Contents index: apt-get indextargets: %w\n%s", x.Distro.Name, err, lines.Last(string(out), 10))
	}
	dir := filepath.Join(x.Dir, "contents-index")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, f := range strings.Fields(string(out)) {
		// On disk it may carry its compression's extension; apt-helper
		// cat-file decompresses by the name's extension.
		src := f
		if _, err := os.Stat(src); err != nil {
			m, _ := filepath.Glob(f + ".*")
			if len(m) == 0 {
				continue // not downloaded (refused, or the source has none)
			}
			src = m[0]
		}
		b, err := os.ReadFile(src) // compressed: some megabytes
		dst := filepath.Join(dir, fmt.Sprintf("%d-%s", i, filepath.Base(src)))
		if err == nil {
			err = os.WriteFile(dst, b, 0o644)
		}
		if err != nil {
			return fmt.Errorf("keep %s's Contents index: %w", x.Distro.Name, err)
		}
		x.files = append(x.files, dst)
	}
	switch {
	case len(x.files) == 0 && upErr != nil:
		return fmt.Errorf("download %s's Contents index: %s: %w: %s", x.Distro.Name, strings.Join(update, " "), upErr, firstAptError(string(upOut)))
	case len(x.files) == 0:
		return fmt.Errorf("%s's sources offer no Contents index (apt-get indextargets lists none downloaded): declare the package (packages: {apt: [...]})", x.Distro.Name)
	case upErr != nil && x.Log != nil:
		x.Log.Printf("apt-get update refused part of %s's index (%s); searching the %d Contents file(s) it verified", x.Distro.Name, firstAptError(string(upOut)), len(x.files))
	}
	return nil
}

// firstAptError is apt's first "E: " line in out, else its last line.
func firstAptError(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "E: ") {
			return strings.TrimSpace(l)
		}
	}
	return lines.Last(strings.TrimSpace(out), 1)
}
