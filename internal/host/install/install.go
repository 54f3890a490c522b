package install

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/host/nginxconf"
	"github.com/nginx-modbuild/nginx-modbuild/internal/host/preflight"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/safename"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/release"
)

// Source is where builds come from: a release, a directory, a URL.
type Source interface {
	// Name says where, for messages ("release modules of acme/mod").
	Name() string
	Manifest(ctx context.Context) (*manifest.Manifest, error)
	// File returns a file of the release by name (a manifest entry's
	// File, SHA256SUMS); fs.ErrNotExist when there is none.
	File(ctx context.Context, name string) ([]byte, error)
}

// Options configure an install.
type Options struct {
	Host    *Host
	Modules []string
	// Nginx is the version to install for: the host's, or another to
	// stage builds for before an upgrade (Stage).
	Nginx string
	Stage bool
	// UseDistro picks another distro's build when the host's has none.
	UseDistro string
	Layout    Layout
	// PrintLoad writes only the .so files and prints the load_module
	// lines for the operator to add (no snippet, no nginx -t).
	PrintLoad bool
	DryRun    bool
	// Test runs nginx -t; its error carries nginx's message.
	Test func(ctx context.Context) error
	// Provenance, when set, proves who built a file before anything
	// changes (its attestation); its error refuses the install.
	Provenance func(ctx context.Context, src Source, e manifest.Entry) (string, error)
	// Owner names the package that owns a file on the host (Owner); ""
	// for none. Install never replaces a package's file: the package
	// manager would not know, and a later remove would break the package.
	Owner func(path string) string
	// Logf reports progress.
	Logf func(format string, args ...any)
	// InstallPackages, when set, installs the distro packages the modules
	// need at run time (RuntimePackages) before anything is placed; they
	// stay installed whatever nginx -t then says.
	InstallPackages func(ctx context.Context, pkgs []string) error
}

// RuntimePackages are the distro packages items need on the host: the
// libraries their .so files link (the manifest's runtime) and nginx's own
// modules they load after (Debian's libnginx-mod-stream), in order, once.
func RuntimePackages(items []Item) []string {
	var out []string
	add := func(p string) {
		if p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, it := range items {
		d, _ := distro.Lookup(it.Entry.Distro)
		for _, n := range it.Entry.NginxModules {
			add(manifest.DistroPackage(d.Family == distro.Apt, n))
		}
		for _, p := range it.Entry.Runtime {
			add(p)
		}
	}
	return out
}

// Item is one module to place.
type Item struct {
	Entry manifest.Entry
	data  []byte
	// Dest is where the .so goes; Snippet the load_module file (none in
	// stage and print modes), Load the load_module line.
	Dest, Snippet, Load string
	first               bool
}

// Result is what an install did (or, dry, would do).
type Result struct {
	Items []Item
	// Changes lists the files written, linked or made.
	Changes []string
}

// Run installs o.Modules from src: all of them or, on any failure, none.
func Run(ctx context.Context, src Source, o Options) (*Result, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	h := o.Host
	unlock, err := takeHost(o)
	if err != nil {
		return nil, err
	}
	defer unlock()
	m, err := src.Manifest(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Name(), err)
	}
	sums, err := readSums(ctx, src)
	if err != nil {
		return nil, err
	}
	target := h.Target
	target.Exports = nil // symbols are nginx -t's to judge, after placing
	if o.Stage {
		if target, err = preflight.FromVersion(o.Nginx, "--for-nginx "+o.Nginx, h.Configure); err != nil {
			return nil, err
		}
		target.Machine, target.Bits = h.Target.Machine, h.Target.Bits
	}
	if !o.Stage && !o.PrintLoad && o.Layout.Style == "" {
		return nil, fmt.Errorf("%s has no top-level include of a modules directory (modules-enabled/*.conf or modules/*.conf): "+
			"pass --print-load to place the files and print the load_module lines to add by hand", h.ConfPath)
	}

	res := &Result{}
	for _, name := range o.Modules {
		it, err := fetchItem(ctx, src, o, m, sums, target, name, res.Items)
		if err != nil {
			return nil, err
		}
		if it != nil {
			res.Items = append(res.Items, *it)
		}
	}
	order(res.Items)
	if !o.Stage && !o.PrintLoad {
		if err := placeSnippets(res.Items, o.Layout); err != nil {
			return nil, err
		}
	}
	if !o.Stage && !o.PrintLoad {
		if err := notLoadedElsewhere(ctx, h, res.Items, o.Owner); err != nil {
			return nil, err
		}
	}
	if pkgs := RuntimePackages(res.Items); o.InstallPackages != nil && len(pkgs) > 0 && !o.Stage {
		if o.DryRun {
			o.Logf("would install the packages the modules need at run time: %s", strings.Join(pkgs, " "))
		} else {
			o.Logf("installing the packages the modules need at run time: %s", strings.Join(pkgs, " "))
			if err := o.InstallPackages(ctx, pkgs); err != nil {
				return nil, fmt.Errorf("install the modules' runtime packages (nothing placed yet): %w", err)
			}
		}
	}
	if o.DryRun {
		return res, nil
	}

	apply := func(t *tx) error { return writeItems(t, res.Items, o.Layout) }
	test := o.Test
	if o.Stage || o.PrintLoad {
		test = nil
	}
	res.Changes, err = change(ctx, o, apply, test, "with the new modules", func(err error) string { return requiresHint(res.Items, err) })
	if err != nil {
		return nil, err
	}
	return res, nil
}

// takeHost makes this the only install on the host until the returned
// function is called, and none runs over an interrupted one: its journal
// is played back first, so the host is as it was.
func takeHost(o Options) (func(), error) {
	jdir := filepath.Dir(o.Host.ConfPath)
	unlock, err := lockDir(jdir)
	if err != nil {
		return nil, err
	}
	if o.DryRun {
		if _, err := os.Lstat(filepath.Join(jdir, JournalName)); err == nil {
			o.Logf("an interrupted install left %s: the next install (or install recover) puts its changes back first", filepath.Join(jdir, JournalName))
		}
	} else if found, err := Recover(jdir, o.Host.Roots(o.Layout)); err != nil {
		unlock()
		return nil, fmt.Errorf("an interrupted install left changes that could not be put back: %w", err)
	} else if found {
		o.Logf("an interrupted install had left changes (%s): every file is back as it was before it", filepath.Join(jdir, JournalName))
	}
	return unlock, nil
}

// change makes apply's changes under a journal, then runs test (nginx -t;
// nil for none): on any failure every file is put back as it was. what
// says of which modules ("with the new modules"), hint adds advice for a
// failed test.
func change(ctx context.Context, o Options, apply func(*tx) error, test func(context.Context) error, what string, hint func(error) string) ([]string, error) {
	jdir := filepath.Dir(o.Host.ConfPath)
	var t tx
	if err := t.begin(jdir); err != nil {
		return nil, fmt.Errorf("start the install's journal in %s: %w (nothing was changed)", jdir, err)
	}
	if err := apply(&t); err != nil {
		if rerr := t.rollback(); rerr != nil {
			return nil, fmt.Errorf("%w; and restoring the previous files failed: %v (check %s)", err, rerr, o.Host.ModulesPath)
		}
		return nil, fmt.Errorf("%w (nothing was changed)", err)
	}
	if test != nil {
		o.Logf("nginx -t %s", what)
		if err := test(ctx); err != nil {
			rerr := t.rollback()
			msg := fmt.Sprintf("nginx -t failed %s, so every file was put back as it was:\n%v", what, err)
			if h := hint(err); h != "" {
				msg += "\n" + h
			}
			if rerr != nil {
				msg += fmt.Sprintf("\nrestoring the previous files failed: %v (check %s and %s)", rerr, o.Host.ModulesPath, o.Layout.Dir)
			}
			return nil, errors.New(msg)
		}
	}
	if err := t.commit(); err != nil {
		return nil, fmt.Errorf("the change is made and nginx -t passed, but finishing the journal failed: %w (install recover cleans up)", err)
	}
	return t.Log, nil
}

// judge refuses a build the target nginx would refuse, in nginx's words,
// before any file changes: not a module, another architecture, another
// nginx version, another module signature, a module already built in.
func judge(target preflight.Target, it Item, f *modinfo.File, conf string) error {
	open := func(string) (*modinfo.File, error) { return f, nil }
	rep := preflight.Check(target, []nginxconf.LoadModule{{Path: it.Dest, File: conf, Line: 0}}, open)
	r := rep.Results[0]
	if r.Status == preflight.OK {
		return nil
	}
	msg := r.Nginx
	if msg == "" {
		msg = r.Why
	} else if r.Why != "" {
		msg += " (" + r.Why + ")"
	}
	return fmt.Errorf("refusing %s (built for nginx %s %s/%s): nginx %s would say: %s; nothing was changed",
		it.Entry.File, it.Entry.Nginx, it.Entry.Distro, it.Entry.Arch, target.Nginx, strings.Replace(msg, " in "+conf+":0", "", 1))
}

// sameModule refuses a file that is not the module its manifest entry
// names: nginx names a .so after its first module, and the entry's name
// becomes the file's name and its load_module snippet.
func sameModule(e manifest.Entry, f *modinfo.File) error {
	var names []string
	for _, m := range f.Modules {
		names = append(names, m.Name)
	}
	if len(names) == 0 || names[0] != e.Module {
		return fmt.Errorf("%s: the manifest says module %q, but the file holds %q: refusing it (the release's manifest and files do not agree)", e.File, e.Module, names)
	}
	return nil
}

// order puts modules that others require first (NDK before set-misc),
// keeping the given order otherwise.
func order(items []Item) {
	var entries []manifest.Entry
	for _, it := range items {
		entries = append(entries, it.Entry)
	}
	needed := manifest.Required(entries)
	for i := range items {
		items[i].first = needed[items[i].Entry.Module]
	}
	slices.SortStableFunc(items, func(a, b Item) int {
		switch {
		case a.first && !b.first:
			return -1
		case b.first && !a.first:
			return 1
		}
		return 0
	})
}

// requiresHint names the modules the new ones need loaded first but that
// were not installed with them.
func requiresHint(items []Item, err error) string {
	have := map[string]bool{}
	for _, it := range items {
		have[it.Entry.Module] = true
	}
	var hints []string
	for _, it := range items {
		for _, r := range it.Entry.Requires {
			if !have[r] {
				hints = append(hints, fmt.Sprintf("%s needs %s loaded before it (the release manifest says so): install both together, %s first", it.Entry.Module, r, r))
			}
		}
		for _, n := range it.Entry.NginxModules {
			hints = append(hints, fmt.Sprintf("%s needs nginx's own %s loaded before it: install the distro's package of it (%s on Debian and Ubuntu, %s elsewhere)",
				it.Entry.Module, n, manifest.DistroPackage(true, n), manifest.DistroPackage(false, n)))
		}
		if len(it.Entry.Runtime) > 0 && err != nil && strings.Contains(err.Error(), "cannot open shared object file") {
			hints = append(hints, fmt.Sprintf("%s links %s, from the package(s) %s on %s: install them",
				it.Entry.Module, strings.Join(it.Entry.Libraries, ", "), strings.Join(it.Entry.Runtime, ", "), it.Entry.Distro))
		}
	}
	return strings.Join(hints, "\n")
}

// readSums reads the release's SHA256SUMS, when it has one.
func readSums(ctx context.Context, src Source) (map[string]string, error) {
	data, err := src.File(ctx, release.SumsName)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: SHA256SUMS: %w", src.Name(), err)
	}
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 {
			sums[strings.TrimPrefix(f[1], "*")] = strings.ToLower(f[0])
		}
	}
	return sums, nil
}

// verifySum checks the bytes against the manifest entry and SHA256SUMS.
func verifySum(e manifest.Entry, data []byte, sums map[string]string, where string) error {
	sum := sha256Hex(data)
	if sum != strings.ToLower(e.SHA256) {
		return fmt.Errorf("refusing %s from %s: its SHA-256 is %s, the manifest says %s (a corrupted or replaced file); nothing was changed: rebuild or re-release it",
			e.File, where, sum, e.SHA256)
	}
	if sums != nil {
		want, ok := sums[e.File]
		if !ok {
			return fmt.Errorf("refusing %s from %s: SHA256SUMS does not list it; nothing was changed", e.File, where)
		}
		if want != sum {
			return fmt.Errorf("refusing %s from %s: its SHA-256 is %s, SHA256SUMS says %s; nothing was changed", e.File, where, sum, want)
		}
	}
	return nil
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// notLoadedElsewhere refuses, before anything changes (and in a dry run
// too), a module the configuration already loads from another file (a
// distro package's .so): nginx -t would say "already loaded" and the
// install roll back.
func notLoadedElsewhere(ctx context.Context, h *Host, items []Item, owner func(string) string) error {
	loads, err := nginxconf.LoadModules(ctx, h.ConfPath)
	if err != nil {
		return nil // nginx -t, after placing, says what is wrong with it
	}
	for _, l := range loads {
		p := h.loadPath(l.Path)
		f, err := modinfo.Open(p)
		if err != nil {
			continue
		}
		for _, it := range items {
			if p == it.Dest || !slices.ContainsFunc(f.Modules, func(m modinfo.Module) bool { return m.Name == it.Entry.Module }) {
				continue
			}
			whose := ""
			if owner != nil {
				if pkg := owner(p); pkg != "" {
					whose = ", the package " + pkg + "'s"
				}
			}
			return fmt.Errorf("%s is already loaded by %s:%d (%s%s): nginx would refuse it twice; nothing was changed: remove that first (its package, or the line), then install", it.Entry.Module, l.File, l.Line, p, whose)
		}
	}
	return nil
}

// snippet is the item's load_module file: its name (10- when others
// need it first, 70- when it needs nginx's own modules first) and text.
func (it Item) snippet() (name, text string) {
	return snippet(it.Entry.Module, manifest.SnippetPrefix(it.first, len(it.Entry.NginxModules) > 0), it.Dest)
}

// placeSnippets names each item's snippet in the layout's directory; two
// items sharing one are refused (a rollback would lose the first file).
func placeSnippets(items []Item, layout Layout) error {
	for i := range items {
		it := &items[i]
		name, _ := it.snippet()
		it.Snippet = filepath.Join(layout.Dir, name)
		for _, other := range items[:i] {
			if other.Snippet == it.Snippet {
				return fmt.Errorf("%q and %q would both use %s: install them one at a time", other.Entry.Module, it.Entry.Module, it.Snippet)
			}
		}
	}
	return nil
}

// writeItems writes, in the transaction, each item's file and its
// load_module snippet (Debian's way: in modules-available, linked from
// modules-enabled).
func writeItems(t *tx, items []Item, layout Layout) error {
	for _, it := range items {
		if err := t.write(it.Dest, it.data, 0o644); err != nil {
			return err
		}
		if it.Snippet == "" {
			continue
		}
		name, text := it.snippet()
		switch layout.Style {
		case "debian":
			avail := filepath.Join(layout.Available, manifest.SnippetAvailable(name))
			if err := t.write(avail, []byte(text), 0o644); err != nil {
				return err
			}
			if err := t.symlink(avail, it.Snippet); err != nil {
				return err
			}
		default:
			if err := t.write(it.Snippet, []byte(text), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// fetchItem picks the entry for one named module (have: the items
// picked before it), downloads or takes its staged file, and verifies
// it: checksum, module, provenance, not a package's file, what nginx
// would say. nil with no error is a module named twice.
func fetchItem(ctx context.Context, src Source, o Options, m *manifest.Manifest, sums map[string]string, target preflight.Target, name string, have []Item) (*Item, error) {
	h := o.Host
	if err := safename.Check("module", name); err != nil {
		return nil, err
	}
	e, err := Pick(m, Want{Module: name, Nginx: o.Nginx, Distro: h.Distro, UseDistro: o.UseDistro, Arch: h.Arch, Binary: h.SHA256})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Name(), err)
	}
	// Names from the manifest become paths and lines of nginx.conf.
	if err := e.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", src.Name(), err)
	}
	if err := safename.Check("module", e.Module); err != nil {
		return nil, fmt.Errorf("%s: %w", src.Name(), err)
	}
	if i := slices.IndexFunc(have, func(it Item) bool { return it.Entry.Module == e.Module }); i >= 0 {
		if have[i].Entry.File == e.File {
			o.Logf("%q: named twice (as %q too): installed once", e.Module, name)
			return nil, nil
		}
		return nil, fmt.Errorf("%q and %q would both be installed as %s.so: name one", have[i].Entry.File, e.File, e.Module)
	}
	it := Item{Entry: e}
	// A file staged by --for-nginx before the upgrade is used when its
	// bytes are the release's.
	staged := filepath.Join(h.ModulesPath, manifest.FileName(e.Module, o.Nginx))
	if b, err := userfile.Read(staged, maxFile); err == nil && !o.Stage && sha256Hex(b) == strings.ToLower(e.SHA256) {
		it.data = b
		o.Logf("%s: using %s, staged before the upgrade", e.Module, staged)
	} else if it.data, err = src.File(ctx, e.File); err != nil {
		return nil, fmt.Errorf("%s: download %s: %w", src.Name(), e.File, err)
	}
	if err := verifySum(e, it.data, sums, src.Name()); err != nil {
		return nil, err
	}
	f, err := modinfo.Read(bytes.NewReader(it.data))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: not an nginx module: %w", src.Name(), e.File, err)
	}
	if err := sameModule(e, f); err != nil {
		return nil, fmt.Errorf("%s: %w", src.Name(), err)
	}
	if o.Provenance != nil {
		who, err := o.Provenance(ctx, src, e)
		if err != nil {
			return nil, fmt.Errorf("refusing %s from %s: its provenance does not hold: %w; nothing was changed", e.File, src.Name(), err)
		}
		o.Logf("%s: built by %s (attested)", e.File, who)
	}
	base := e.Module + ".so"
	if o.Stage {
		base = manifest.FileName(e.Module, o.Nginx)
	}
	it.Dest = filepath.Join(h.ModulesPath, base)
	it.Load = "load_module " + it.Dest + ";"
	if _, err := os.Lstat(it.Dest); err == nil && o.Owner != nil {
		if pkg := o.Owner(it.Dest); pkg != "" {
			return nil, fmt.Errorf("refusing to replace %s: it is the package %s's file, installed by the package manager; nothing was changed: use the package (or remove it first), or install this build for another name", it.Dest, pkg)
		}
	}
	if err := judge(target, it, f, h.ConfPath); err != nil {
		return nil, err
	}
	o.Logf("%s: %s (nginx %s, %s/%s, sha256 %s) verified", e.Module, e.File, e.Nginx, e.Distro, e.Arch, e.SHA256[:12])
	return &it, nil
}
