package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/compile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/machine"
	"github.com/nginx-modbuild/nginx-modbuild/internal/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/modsrc"
	"github.com/nginx-modbuild/nginx-modbuild/internal/nginxver"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plus"
	"github.com/nginx-modbuild/nginx-modbuild/internal/source"
	"github.com/nginx-modbuild/nginx-modbuild/internal/sysdeps"
	"github.com/nginx-modbuild/nginx-modbuild/internal/upstream"
)

func runBuild(ctx context.Context, env *Env, args []string) error {
	c := findCommand("build")
	fs := flagSet(env, c.name, c.args, c.desc)
	var (
		cf                        common
		nginx, distroName, arch   string
		mirror, out, cache        string
		smoke, insecure, keepWork bool
		installDeps, noCompat     bool
		packages                  bool
		targetNginx               string
		jobs                      int
	)
	cf.register(fs)
	fs.StringVar(&nginx, "nginx", "", "nginx version(s) to build against, comma-separated (required)")
	fs.StringVar(&distroName, "distro", detectDistro(), "distro label of this build (default: from /etc/os-release)")
	fs.StringVar(&arch, "arch", runtime.GOARCH, "architecture label of this build")
	fs.StringVar(&mirror, "mirror", upstream.DefaultIndexURL, "nginx download mirror: a URL or a local directory")
	fs.StringVar(&out, "out", "dist", "output directory for .so files and cell manifests")
	fs.BoolVar(&smoke, "smoke", true, "build nginx too and prove the modules load (and answer smoke.request)")
	fs.IntVar(&jobs, "jobs", runtime.NumCPU(), "parallel compile jobs")
	fs.StringVar(&cache, "cache-dir", cacheDir(env), "cache directory (tarballs, git clones)")
	fs.BoolVar(&insecure, "insecure-skip-verify", false, "accept an nginx tarball that no signature or pinned checksum verifies (DANGEROUS)")
	fs.BoolVar(&keepWork, "keep-work", false, "keep the build directory (for debugging)")
	fs.BoolVar(&installDeps, "install-deps", false, "install the compiler, make, PCRE, zlib and OpenSSL headers and module-declared libraries with the system's package manager (needs root)")
	fs.BoolVar(&packages, "packages", false, "also make each built module a native package of the distro (.deb, .rpm, .apk; packages.enabled in the config)")
	fs.StringVar(&targetNginx, "target-nginx", "auto", "the distro's own nginx the modules must also load into: a path, none, or auto (for a cell of this distro's packaged nginx version: its nginx, installed with --install-deps when missing)")
	fs.BoolVar(&noCompat, "without-compat", false, "leave out --with-compat, for an nginx built without it (the modules then load only into an nginx configured with exactly the same arguments)")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("build: unexpected argument %q", fs.Arg(0))
	}
	if nginx == "" {
		return usagef("build: --nginx X.Y.Z is required (e.g. the nginx field of a plan job)")
	}
	if err := manifest.CheckName("--distro", distroName); err != nil {
		return usagef("build: %v", err)
	}
	if err := manifest.CheckName("--arch", arch); err != nil {
		return usagef("build: %v", err)
	}
	var versions []string
	for _, v := range strings.Split(nginx, ",") {
		if _, err := nginxver.Parse(strings.TrimSpace(v)); err != nil {
			return usagef("build: --nginx: %v", err)
		}
		versions = append(versions, strings.TrimSpace(v))
	}
	cfg, err := cf.load(env)
	if err != nil {
		return err
	}
	if len(cfg.Modules) == 0 {
		return &config.Error{File: configName(cfg), Msg: "no modules to build: add modules: [{path: ...}] to " +
			config.DefaultPath + ", or run in a module's directory (one with an nginx module config file)"}
	}
	if cache == "" {
		cache = filepath.Join(os.TempDir(), "nginx-modbuild-cache")
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(env.Dir, out)
	}
	if dir, ok := source.LocalDir(mirror); ok && !filepath.IsAbs(dir) {
		mirror = filepath.Join(env.Dir, dir)
	}
	mods, err := modsrc.Resolve(ctx, cfg, cache, out)
	if err != nil {
		return err
	}
	packages = packages || cfg.Packages.Enabled
	var pkgDistro distro.Distro
	if packages {
		var ok bool
		if pkgDistro, ok = cellDistro(cfg, distroName); !ok {
			return usagef("build: --packages needs a known distro (%s, or a custom one in the config), not %q", distro.Names(), distroName)
		}
	}
	var host distro.Distro
	if installDeps {
		if host, err = installBuildDeps(ctx, env, versions); err != nil {
			return err
		}
	}
	cc, err := machine.Local(env.Getenv).Compiler(ctx)
	if err != nil {
		return err
	}
	keyring, err := source.NewKeyring("", env.http())
	if err != nil {
		return err
	}
	actions := env.Getenv("GITHUB_ACTIONS") == "true"
	log := &compile.Log{W: env.Stderr, Actions: actions, Now: env.Now}
	if insecure {
		fmt.Fprintln(env.Stderr, "WARNING: --insecure-skip-verify: nginx sources that nothing verifies will be built")
	}
	var failures []error
	for _, v := range versions {
		work, err := os.MkdirTemp("", "nginx-modbuild-"+v+"-")
		if err != nil {
			return err
		}
		o := compile.Options{
			Nginx: v, Plus: plus.Embedded().ForBase(v), Distro: distroName, Arch: arch,
			Configure: cfg.Configure, NoCompat: noCompat, WorkDir: work, Out: out, Jobs: jobs, Log: log, Now: env.Now, Compiler: cc,
			Source: source.Options{Mirror: mirror, CacheDir: cache, SHA256: cfg.Nginx.SHA256,
				InsecureSkipVerify: insecure, Keyring: keyring, HTTP: env.http()},
		}
		for _, m := range mods {
			o.Modules = append(o.Modules, compile.Module{ID: m.ID, Dir: m.Dir, Commit: m.Commit, Identity: m.Identity,
				Env: m.Entry.Env, Libs: m.Entry.Libs, Packages: m.Entry.Packages, Requires: m.Entry.Requires})
		}
		if d, ok := distro.Lookup(distroName); ok {
			o.Family = d.Family
		}
		if actions && env.Getenv("GITHUB_RUN_ID") != "" {
			o.LogURL = strings.TrimSuffix(env.Getenv("GITHUB_SERVER_URL"), "/") + "/" + env.Getenv("GITHUB_REPOSITORY") + "/actions/runs/" + env.Getenv("GITHUB_RUN_ID")
		}
		if installDeps {
			o.Family = host.Family
			o.Packages = &sysdeps.Installer{Distro: host, Run: sysdeps.Exec, Log: env.Stderr}
		}
		if o.Target, err = targetFor(ctx, env, targetNginx, v, distroName, cfg, installDeps, host); err != nil {
			return err
		}
		if smoke {
			o.Smoke = &compile.Smoke{Config: cfg.Smoke.Config, Request: cfg.Smoke.Request}
			// The smoke nginx depends on the nginx version, configure's
			// output, the compiler, distro and arch, not on the modules:
			// built once, kept under the cache directory.
			o.SmokeCache = filepath.Join(cache, "smoke-nginx")
		}
		res, err := compile.Run(ctx, o)
		if actions {
			annotate(env, res.Diagnostics, mods)
		}
		if packages && len(res.Manifest.Cells) > 0 && len(res.Manifest.Entries) > 0 {
			now := time.Now
			if env.Now != nil {
				now = env.Now
			}
			if perr := packageCell(env.Stderr, cfg, pkgDistro, mods, out, &res.Manifest, now().UTC().Truncate(time.Second)); perr != nil {
				return fmt.Errorf("package the nginx %s builds: %w", v, perr)
			}
		}
		for _, f := range res.Files {
			fmt.Fprintln(env.Stdout, f)
		}
		if keepWork {
			fmt.Fprintf(env.Stderr, "work directory kept: %s\n", work)
		} else {
			os.RemoveAll(work)
		}
		if err != nil {
			// A failed cell (a module, or the whole cell: a download) is
			// recorded in its manifest; the other versions still build.
			var mf *compile.ModulesFailed
			if errors.As(err, &mf) {
				failures = append(failures, fmt.Errorf("nginx %s: %w", v, err))
			} else {
				failures = append(failures, fmt.Errorf("build against nginx %s: %w", v, err))
			}
		}
	}
	return errors.Join(failures...)
}

// packagedNginx is where every package family puts its nginx binary.
const packagedNginx = "/usr/sbin/nginx"

// targetFor is the distro's own nginx a cell of version v is proven
// against (build --target-nginx): a path given, none, or, for auto, this
// host's packaged nginx when the cell is for this host's distro and its
// packaged version (installed first with --install-deps). "" is none.
func targetFor(ctx context.Context, env *Env, flag, v, distroName string, cfg *config.Config, installDeps bool, host distro.Distro) (string, error) {
	switch flag {
	case "none", "":
		return "", nil
	case "auto":
	default:
		got, err := nginxVersionOf(flag)
		if err != nil {
			return "", usagef("build: --target-nginx: %v", err)
		}
		if got != v {
			fmt.Fprintf(env.Stderr, "--target-nginx %s is nginx %s: not used for the nginx %s cell\n", flag, got, v)
			return "", nil
		}
		return flag, nil
	}
	d, ok := cellDistro(cfg, distroName)
	if !ok || d.Packaged != v || detectDistro() != distroName {
		return "", nil
	}
	if _, err := os.Stat(packagedNginx); err != nil && installDeps && inContainer() {
		// The distro's own nginx package, as its operators install it;
		// its service is not started (no init in a job container). On a
		// runner's own host (systemd would start it) it is not installed.
		in := &sysdeps.Installer{Distro: host, Run: sysdeps.Exec, Log: env.Stderr}
		if err := in.Install(ctx, []string{"nginx"}); err != nil {
			return "", fmt.Errorf("install %s's own nginx to prove the %s cell: %w", distroName, v, err)
		}
	}
	got, err := nginxVersionOf(packagedNginx)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s's own nginx: %v: the nginx %s cell is proven by the nginx built here only (--install-deps installs it in a job container)\n", distroName, err, v)
		return "", nil
	}
	if got != v {
		fmt.Fprintf(env.Stderr, "%s is nginx %s, not %s's packaged %s: not used\n", packagedNginx, got, distroName, v)
		return "", nil
	}
	fmt.Fprintf(env.Stderr, "nginx %s cell: proven against %s's own nginx too (%s)\n", v, distroName, packagedNginx)
	return packagedNginx, nil
}

// inContainer reports whether this runs in a container (Docker's and
// Podman's marker files): a job container, where a cell really runs.
func inContainer() bool {
	for _, f := range []string{"/.dockerenv", "/run/.containerenv"} {
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	return false
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

// annotate turns compiler messages about module sources into GitHub
// annotations, with paths relative to the repository.
func annotate(env *Env, diags []compile.Diagnostic, mods []modsrc.Source) {
	for _, d := range diags {
		inModule := false
		for _, m := range mods {
			if strings.HasPrefix(d.File, m.Dir+"/") {
				inModule = true
			}
		}
		if !inModule {
			continue
		}
		file := d.File
		if rel, err := filepath.Rel(env.Dir, d.File); err == nil && !strings.HasPrefix(rel, "..") {
			file = rel
		}
		msg := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(d.Message)
		fmt.Fprintf(env.Stdout, "::%s file=%s,line=%d,col=%d::%s\n", d.Severity, file, d.Line, d.Column, msg)
	}
}

// cellDistro is the distro a cell builds for: the config's entry of that
// name (with its packaged nginx), else the built-in one.
func cellDistro(cfg *config.Config, name string) (distro.Distro, bool) {
	for _, d := range cfg.Distros {
		if d.Name == name {
			return d, true
		}
	}
	return distro.Lookup(name)
}

// detectDistro names this machine as the distro table does (debian-12),
// from /etc/os-release; "local" when it is not in the table.
func detectDistro() string {
	text, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "local"
	}
	d, err := distro.FromOSRelease(string(text))
	if err != nil {
		return "local"
	}
	if _, ok := distro.Lookup(d.Name); !ok {
		return "local"
	}
	return d.Name
}

// installBuildDeps installs what building any module against versions
// needs here (compiler, make, nginx's libraries) and returns this host's
// distro; the libraries of the modules are installed by the build, which
// knows what their configs probe for.
func installBuildDeps(ctx context.Context, env *Env, versions []string) (distro.Distro, error) {
	text, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return distro.Distro{}, fmt.Errorf("install-deps: %w", err)
	}
	d, err := distro.FromOSRelease(string(text))
	if err != nil {
		return distro.Distro{}, err
	}
	legacy := false
	pcre2, _ := nginxver.Parse("1.21.5") // the first nginx that builds with PCRE2
	for _, v := range versions {
		if pv, err := nginxver.Parse(v); err == nil && pv.LessThan(pcre2) {
			legacy = true
		}
	}
	in := &sysdeps.Installer{Distro: d, Run: sysdeps.Exec, Log: env.Stderr}
	return d, in.Install(ctx, sysdeps.Packages(d, legacy, nil))
}
