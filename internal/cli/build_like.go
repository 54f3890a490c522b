package cli

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/like"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/machine"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/source"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/sysdeps"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/host/install"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/fetch"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
)

// debianTree is where Debian's nginx-dev puts the patched nginx source
// its module packages are built from, with conf_flags (NGX_CONF_FLAGS,
// the release's own configure arguments for modules).
const debianTree = "/usr/share/nginx/src"

// distroTree is the distro's own module-building source of a target
// binary (Debian's nginx-dev): where it is, what it is, the release's
// configure arguments for modules (conf_flags) and the ABI package its
// nginx provides to modules built from it (abisubstvars).
type distroTree struct {
	dir, what, abi string
	args           []string
}

// treeFor looks for the distro's own source of the target t, once per
// version: Debian's nginx-dev (installed with --install-deps when the
// index has it) of exactly the binary's version. nil means nginx.org's
// tarball of that version, and the log says why.
func (b *builder) treeFor(ctx context.Context, t *like.Target) *distroTree {
	if tr, ok := b.trees[t.Nginx]; ok {
		return tr
	}
	tr := b.findTree(ctx, t)
	if b.trees == nil {
		b.trees = map[string]*distroTree{}
	}
	b.trees[t.Nginx] = tr
	return tr
}

func (b *builder) findTree(ctx context.Context, t *like.Target) *distroTree {
	// Only the distro's own nginx was built from the distro's tree: a
	// self-built or an image's nginx (no package owns it) is not, and
	// --install-deps must not bring the distro's nginx in beside it.
	real, err := filepath.EvalSymlinks(t.Path)
	if err != nil {
		real = t.Path
	}
	if install.Owner(ctx, "/", real) == "" && install.Owner(ctx, "/", t.Path) == "" {
		b.d.logf("like %s: no package owns it, so no distro source tree is its: building nginx.org's nginx-%s.tar.gz", t.Path, t.Nginx)
		return nil
	}
	if b.o.installDeps && b.host.Family == distro.Apt {
		in := &sysdeps.Installer{Distro: b.host, Run: sysdeps.Exec, Log: b.d.Stderr}
		if _, err := in.Resolve(ctx, []string{"nginx-dev"}); err != nil {
			b.d.logf("like %s: %v: building nginx.org's nginx-%s.tar.gz", t.Path, err, t.Nginx)
			return nil
		}
		if err := in.Install(ctx, []string{"nginx-dev"}); err != nil {
			b.d.logf("like %s: nginx-dev does not install beside this nginx (%v): building nginx.org's nginx-%s.tar.gz", t.Path, err, t.Nginx)
			return nil
		}
	}
	h, err := os.ReadFile(filepath.Join(debianTree, "src", "core", "nginx.h"))
	if err != nil {
		b.d.logf("like %s: no distro source tree (%s): building nginx.org's nginx-%s.tar.gz", t.Path, debianTree, t.Nginx)
		return nil
	}
	if !strings.Contains(string(h), `#define NGINX_VERSION      "`+t.Nginx+`"`) {
		b.d.logf("like %s: %s is not nginx %s's source: building nginx.org's nginx-%s.tar.gz", t.Path, debianTree, t.Nginx, t.Nginx)
		return nil
	}
	out, err := exec.CommandContext(ctx, "bash", "-c", `source "$1" && printf '%s\0' "${NGX_CONF_FLAGS[@]}"`, "bash", filepath.Join(debianTree, "conf_flags")).Output()
	if err != nil {
		b.d.logf("like %s: %s/conf_flags: %v: building nginx.org's nginx-%s.tar.gz", t.Path, debianTree, err, t.Nginx)
		return nil
	}
	version, _ := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Version}", "nginx-dev").Output()
	tr := &distroTree{dir: debianTree, args: strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"),
		what: strings.TrimSpace("Debian's nginx-dev " + string(version))}
	tr.abi = abiOf(filepath.Join(debianTree, "debian", "libnginx-mod.abisubstvars"))
	return tr
}

// abiOf reads the nginx:abi substitution variable of Debian's
// libnginx-mod.abisubstvars ("nginx:abi=nginx-abi-1.22.1-7"): the
// virtual package the release's nginx provides to modules built from its
// tree. "" when the file or the line is not there.
func abiOf(path string) string {
	b, err := userfile.Read(path, 1<<20)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "nginx:abi="); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// readLike reads --like's binary: its version is the cell's, its
// configure arguments and signature the cell's too.
func (o *buildOptions) readLike(d *Deps) error {
	t, err := like.Read(absIn(d.Dir, o.likePath))
	if err != nil {
		return usagef("build --like: %v", err)
	}
	switch {
	case o.nginx != "" && o.nginx != t.Nginx:
		return usagef("build --like %s: that binary is nginx %s, not --nginx %s: leave --nginx out (--like builds for the binary's version)", t.Path, t.Nginx, o.nginx)
	case o.noCompat:
		return usagef("build --like: --without-compat comes from the binary (%s is built %s)", t.Path, map[bool]string{true: "--with-compat", false: "without --with-compat"}[t.Compat()])
	}
	o.nginx, o.like, o.noCompat = t.Nginx, &t, !t.Compat()
	if o.targetNginx == "auto" {
		o.targetNginx = t.Path
	}
	return nil
}

// sourceFrom settles the nginx source the cells build: --source, else
// the config's nginx.source; a fork's binary needs one.
func (o *buildOptions) sourceFrom(cfg *config.Config, d *Deps) error {
	if o.source == "" && cfg.Nginx.Source != "" {
		o.source = cfg.Nginx.Source
	}
	if dir, ok := fetch.LocalDir(o.source); ok && o.source != "" {
		o.source = absIn(d.Dir, dir)
	}
	if t := o.like; t != nil && t.Fork() && o.source == "" {
		return usagef("build --like %s: that binary is %s %s, not nginx.org's nginx: modules built from nginx.org's nginx-%s.tar.gz would load into it only by chance (%s's structs differ). Give %s's own source of that version: --source DIR, or --source URL.tar.gz --source-sha256 HEX (nginx.source and nginx.sha256 in the config)", t.Path, t.Product, t.Nginx, t.Nginx, t.Product, t.Product)
	}
	return nil
}

// likeFor is the binary a cell is built like: --like's, else, for a
// cell proven by the distro's own nginx (--target-nginx auto), that nginx
// (a packaged cell builds like the distro's package); nil builds the
// version the upstream way.
func (b *builder) likeFor(target string) *like.Target {
	if b.o.like != nil || target == "" || b.o.targetNginx != "auto" {
		return b.o.like
	}
	t, err := like.Read(target)
	if err != nil || t.Fork() {
		b.d.logf("%s: not built like it (%v): the upstream way, --with-compat", target, cmp.Or(err, fmt.Errorf("it is %s, not nginx.org's nginx", t.Product)))
		return nil
	}
	return &t
}

// sourceOptions set where the cell's nginx source comes from and how it
// is configured: --source's (nginx.source: a fork's tree, whose product
// must be the binary's), and like the target binary when there is
// one (which then judges the cell: no nginx of the cell's own; a
// distro's module tree has no sources to build one from).
func (b *builder) sourceOptions(ctx context.Context, o *cell.Options) error {
	product := ""
	if b.o.source != "" {
		tr, err := source.Named(ctx, o.Source, b.o.source, o.Nginx, cmp.Or(b.o.sourceSHA, b.cfg.Nginx.SHA256[o.Nginx]))
		if err != nil {
			return usagef("build --source: %v", err)
		}
		o.Tree, o.TreeWhat, product = tr.Dir, tr.What, tr.Product
	}
	if t := b.likeFor(o.Target); t != nil {
		if o.Tree != "" && !strings.EqualFold(product, t.Product) {
			return usagef("build --like %s --source: the binary is %s %s, the source %s: build from %s's own source", t.Path, t.Product, t.Nginx, o.TreeWhat, t.Product)
		}
		if err := b.likeOptions(ctx, o, t); err != nil {
			return err
		}
		o.TargetJudges = o.Target == t.Path
	}
	return nil
}

// likeOptions configures a cell like the binary t: from the source named
// (a fork's) with the binary's arguments, else from the distro's tree
// with its conf_flags when there is one, else from nginx.org's tarball
// with the binary's arguments; the config's configure: arguments are
// left out.
func (b *builder) likeOptions(ctx context.Context, o *cell.Options, t *like.Target) error {
	o.TargetSHA256 = t.SHA256
	// The config's --with-X=dynamic (nginx's own stream as a .so, for the
	// modules that need it) are kept: they add .so files and change
	// nothing of the core the binary has. The rest would configure the
	// core otherwise than the binary.
	var kept, left []string
	for _, a := range o.Configure {
		if strings.HasPrefix(a, "--with-") && strings.HasSuffix(a, "=dynamic") {
			kept = append(kept, a)
		} else {
			left = append(left, a)
		}
	}
	if len(left) > 0 {
		b.d.logf("like %s: the config's configure: %s left out (the binary's arguments are the cell's)", t.Path, strings.Join(left, " "))
	}
	if len(kept) > 0 {
		b.d.logf("like %s: the config's %s kept (nginx's own modules as .so files, which the modules need)", t.Path, strings.Join(kept, " "))
	}
	var tr *distroTree
	switch {
	case o.Tree != "":
	case len(kept) > 0:
		// A distro's module tree (Debian's nginx-dev) ships nginx's
		// headers, not the sources of its own modules:
		// --with-stream=dynamic cannot build there, so it is not sought.
		b.d.logf("like %s: %s cannot build in a distro's module tree (it holds nginx's headers, not its own modules' sources): building nginx.org's nginx-%s.tar.gz with the binary's arguments", t.Path, strings.Join(kept, " "), t.Nginx)
	default:
		tr = b.treeFor(ctx, t)
	}
	if tr != nil {
		b.d.logf("like %s: nginx %s, signature %s; built from %s (%s) with its conf_flags (%d arguments), as the distro builds its module packages%s",
			t.Path, t.Nginx, t.Signature, tr.what, tr.dir, len(tr.args), map[bool]string{true: "; its packages depend on " + tr.abi, false: ""}[tr.abi != ""])
		o.Tree, o.TreeWhat, o.Configure, o.ABI = tr.dir, tr.what, append(slices.Clone(tr.args), kept...), tr.abi
		o.Signature, o.NoCompat = t.Signature, true // conf_flags says --with-compat itself
		return nil
	}
	args, dropped := t.Args()
	from := "nginx.org's tarball"
	if o.Tree != "" {
		from = o.TreeWhat
	}
	b.d.logf("like %s: %s %s, signature %s; built from %s, configured with its %d arguments (%s)", t.Path, t.Product, t.Nginx, t.Signature, from, len(args), map[bool]string{true: "with --with-compat", false: "without --with-compat, as it is"}[t.Compat()])
	for _, x := range dropped {
		b.d.logf("  left out %s", x)
	}
	o.Configure, o.Signature, o.NoCompat = append(args, kept...), t.Signature, !t.Compat()
	return nil
}

// targetFor is the distro's own nginx the nginx v cell is proven against
// (--target-nginx): a path given, none, or, for auto, this machine's
// packaged nginx when the cell is for this machine's distro and its
// packaged version (installed first with --install-deps in a container).
// "" is none.
func (b *builder) targetFor(ctx context.Context, v string) (string, error) {
	switch b.o.targetNginx {
	case "none", "":
		return "", nil
	case "auto":
	default:
		got, err := nginxVersionOf(b.o.targetNginx)
		if err != nil {
			return "", usagef("build: --target-nginx: %v", err)
		}
		if got != v {
			b.d.logf("--target-nginx %s is nginx %s: not used for the nginx %s cell", b.o.targetNginx, got, v)
			return "", nil
		}
		return b.o.targetNginx, nil
	}
	m, name := b.d.Machine, b.o.distro
	d, ok := cellDistro(b.cfg, name)
	if !ok || d.Packaged != v || m.DistroName() != name {
		return "", nil
	}
	if _, err := os.Stat(machine.PackagedNginx); err != nil && b.o.installDeps && m.InContainer() {
		// The distro's own nginx package, as its operators install it;
		// its service is not started (no init in a job container). On a
		// runner's own host (systemd would start it) it is not installed.
		in := &sysdeps.Installer{Distro: b.host, Run: sysdeps.Exec, Log: b.d.Stderr}
		if err := in.Install(ctx, []string{"nginx"}); err != nil {
			return "", fmt.Errorf("install %s's own nginx to prove the %s cell: %w", name, v, err)
		}
	}
	got, err := nginxVersionOf(machine.PackagedNginx)
	switch {
	case err != nil:
		b.d.logf("%s's own nginx: %v: the nginx %s cell is proven by the nginx built here only (--install-deps installs it in a job container)", name, err, v)
		return "", nil
	case got != v:
		b.d.logf("%s is nginx %s, not %s's packaged %s: not used", machine.PackagedNginx, got, name, v)
		return "", nil
	}
	b.d.logf("nginx %s cell: proven against %s's own nginx too (%s)", v, name, machine.PackagedNginx)
	return machine.PackagedNginx, nil
}

// nginxVersionOf reads the version an nginx binary was built as.
func nginxVersionOf(path string) (string, error) {
	f, err := modinfo.Open(path)
	if err != nil {
		return "", err
	}
	if f.Kind != modinfo.KindExecutable || f.Version == 0 {
		return "", fmt.Errorf("%s is not an nginx binary", path)
	}
	return f.Nginx(), nil
}
