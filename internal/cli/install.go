package cli

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/sysdeps"
	"github.com/nginx-modbuild/nginx-modbuild/internal/host/install"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/ghclient"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/release"
)

type installOptions struct {
	repo                                    repoFlags
	binary, from, forNginx, useDistro, conf string
	modulesPath                             string
	printLoad, dryRun, reload, checkOnly    bool
	insecure, recoverOnly, remove           bool
	signers                                 signerFlags
	repoSet, noProvenance, installDeps      bool
	modules                                 []string
	// mode is the mode named as a verb (install remove|check|recover);
	// "" when given by the old flag, or none.
	mode string
}

// verb reads install's mode as a verb: install remove MODULE..., install
// check --for-nginx V, install recover; the flags that set them before
// (--remove, --check, --recover) keep working, with a deprecation line.
func (o *installOptions) verb(argv []string) []string {
	if len(argv) == 0 {
		return argv
	}
	switch argv[0] {
	case "remove":
		o.remove = true
	case "check":
		o.checkOnly = true
	case "recover":
		o.recoverOnly = true
	default:
		return argv
	}
	o.mode = argv[0]
	return argv[1:]
}

func installCommand() command {
	return newCommand[installOptions]("install", "[remove | check | recover] [--repo owner/name [--tag T] | --from DIR|URL] [--nginx-binary /usr/sbin/nginx] [--for-nginx V] [--distro D] [--dry-run] [--reload] [--print-load] MODULE...",
		"put the matching build of modules under the nginx of this host: verified, atomically, tested with nginx -t, rolled back on failure; install remove MODULE... takes them out, install check --for-nginx V reports the configuration's modules for an upgrade, install recover puts back what an interrupted install changed", runInstall)
}

func (o *installOptions) flags(fs *flag.FlagSet, d *Deps) {
	o.repo.register(fs, d)
	fs.StringVar(&o.binary, "nginx-binary", d.Machine.Nginx(), "the nginx the modules are for")
	fs.Var(renamed{&o.binary, "install --nginx PATH", "--nginx-binary PATH", d.Stderr}, "nginx", "the old spelling of --nginx-binary (deprecated)")
	fs.StringVar(&o.from, "from", "", "a directory or URL holding a release's files (manifest.json, SHA256SUMS, .so) instead of --repo")
	fs.StringVar(&o.forNginx, "for-nginx", "", "stage builds for this nginx version before upgrading to it (version-named files, no config change)")
	fs.StringVar(&o.useDistro, "distro", "", "use this distro's build when there is none for this host's")
	fs.StringVar(&o.conf, "conf", "", "the main nginx.conf (default the binary's --conf-path); nginx -t runs with -c this")
	fs.StringVar(&o.modulesPath, "modules-path", "", "where modules go (default the binary's --modules-path)")
	fs.BoolVar(&o.insecure, "insecure", false, "accept a plain-http --from URL (its checksums then prove nothing: anyone on the path can replace the files and the sums together)")
	fs.BoolVar(&o.printLoad, "print-load", false, "place the .so files only and print the load_module lines to add")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print what would be done, change nothing")
	fs.BoolVar(&o.reload, "reload", false, "reload nginx after nginx -t passes (systemd when it runs nginx, else nginx -s reload)")
	fs.BoolVar(&o.installDeps, "install-deps", false, "first install, with the distro's package manager, the packages the modules need at run time (the libraries they link, nginx's own modules such as libnginx-mod-stream, as the manifest names them); they stay installed")
	fs.BoolVar(&o.recoverOnly, "recover", false, "deprecated: install recover. Only put back what an interrupted install (killed, or its session lost) changed, as its journal says; every install does this first")
	markSet(fs, "repo", &o.repoSet)
	o.signers.register(fs, "the repository (owner/name) whose workflow must have built the files (default: --repo's; for a --from source, none unless --repo or this names one)")
	fs.BoolVar(&o.noProvenance, "no-provenance", false, "install without verifying attestations (DANGEROUS: whoever can write the release decides what nginx loads)")
	fs.BoolVar(&o.remove, "remove", false, "deprecated: install remove MODULE.... Take the named modules out again: the snippet, link and .so install placed; refused while the configuration uses them (nginx -t), rolled back like an install")
	fs.BoolVar(&o.checkOnly, "check", false, "deprecated: install check. Report, for every load_module of the configuration, whether the release has a build for --for-nginx")
}

func (o *installOptions) check(args []string, d *Deps) error {
	o.modules = args
	for flag, on := range map[string]bool{"remove": o.remove, "check": o.checkOnly, "recover": o.recoverOnly} {
		if on && o.mode != flag {
			fmt.Fprintf(d.Stderr, "nginx-modbuild: install --%s is deprecated and goes in a later release: use install %s\n", flag, flag)
		}
	}
	if len(args) > 0 && (args[0] == "remove" || args[0] == "check" || args[0] == "recover") {
		return usagef("install: the verb %s goes first, before the flags: install %s [flags] ...", args[0], args[0])
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			return usagef("install: %s comes after the module names, where it is read as one: put the flags first (install [flags] MODULE...)", a)
		}
	}
	switch {
	case o.remove && (o.recoverOnly || o.checkOnly || o.printLoad || o.forNginx != ""):
		return usagef("install remove takes modules only (with --dry-run and --reload), not recover, check, --print-load or --for-nginx")
	case o.remove && len(args) == 0:
		return usagef("install remove: name the modules to take out (ngx_http_echo_module or echo)")
	case o.recoverOnly && (len(args) > 0 || o.checkOnly):
		return usagef("install recover takes no modules and is not check")
	case o.recoverOnly:
	case o.checkOnly && len(args) > 0:
		return usagef("install check takes no modules: it checks every load_module of the configuration")
	case o.checkOnly && o.forNginx == "":
		return usagef("install check needs --for-nginx VERSION (the version you are about to upgrade to)")
	case !o.checkOnly && len(args) == 0:
		return usagef("install: name the modules to install (ngx_http_echo_module or echo)")
	}
	if o.forNginx != "" {
		if _, err := nginxver.Parse(o.forNginx); err != nil {
			return usagef("--for-nginx: %v", err)
		}
	}
	if o.noProvenance && (o.signers.repo != "" || o.signers.workflow != "") {
		return usagef("install --no-provenance with --signer-repo or --signer-workflow: either verify attestations or do not")
	}
	if !o.noProvenance {
		return o.signers.checkSigner("install", o.signer())
	}
	return nil
}

func runInstall(ctx context.Context, o *installOptions, d *Deps) error {
	h, err := install.Inspect(o.binary, d.Machine.OSRelease())
	if err != nil {
		return usagef("install: %v", err)
	}
	h.ConfPath = cmp.Or(o.conf, h.ConfPath)
	h.ModulesPath = cmp.Or(o.modulesPath, h.ModulesPath)
	switch {
	case o.recoverOnly:
		return recoverInstall(d, h)
	case o.remove:
		return o.removeModules(ctx, d, h)
	}
	src, err := installSource(d, o.repo, o.from, o.insecure)
	if err != nil {
		return err
	}
	d.logf("nginx %s (%s), %s/%s, modules in %s, config %s; builds from %s",
		h.Target.Nginx, o.binary, cmp.Or(h.Distro, "unknown"), h.Arch, h.ModulesPath, h.ConfPath, src.Name())
	if o.checkOnly {
		return installCheck(ctx, d, src, h, o.forNginx, o.useDistro)
	}
	layout, err := install.DetectLayout(h.ConfPath)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	prov, err := o.provenanceCheck(d)
	if err != nil {
		return err
	}
	opts := install.Options{Host: h, Modules: o.modules, Nginx: h.Target.Nginx, UseDistro: o.useDistro, Layout: layout, Provenance: prov,
		Owner:     hostOwner(ctx),
		PrintLoad: o.printLoad, DryRun: o.dryRun,
		Test: func(ctx context.Context) error { return install.NginxT(ctx, o.binary, o.conf) },
		Logf: d.logf, InstallPackages: o.packageInstaller(d, h)}
	if o.forNginx != "" && o.forNginx != h.Target.Nginx {
		opts.Nginx, opts.Stage = o.forNginx, true
	}
	res, err := install.Run(ctx, src, opts)
	if err != nil {
		return ghclient.Explain(err, "install from "+src.Name())
	}
	return o.report(ctx, d, h, res, opts.Stage)
}

// packageInstaller installs packages with the host distro's package
// manager, for --install-deps; nil without it.
func (o *installOptions) packageInstaller(d *Deps, h *install.Host) func(context.Context, []string) error {
	if !o.installDeps {
		return nil
	}
	return func(ctx context.Context, pkgs []string) error {
		dist, ok := distro.Lookup(h.Distro)
		if !ok {
			return fmt.Errorf("this host's distro (%q) is not one the tool knows the package manager of: install %s yourself", h.Distro, strings.Join(pkgs, " "))
		}
		in := &sysdeps.Installer{Distro: dist, Run: sysdeps.Exec, Log: d.Stderr}
		return in.Install(ctx, pkgs)
	}
}

// report prints what install did, and reloads nginx when asked.
func (o *installOptions) report(ctx context.Context, d *Deps, h *install.Host, res *install.Result, staged bool) error {
	verb := "installed"
	if o.dryRun {
		verb = "would install"
	}
	for _, it := range res.Items {
		fmt.Fprintf(d.Stdout, "%s %s -> %s", verb, it.Entry.File, it.Dest)
		if it.Snippet != "" {
			fmt.Fprintf(d.Stdout, " (%s)", it.Snippet)
		}
		fmt.Fprintln(d.Stdout)
	}
	switch {
	case staged:
		fmt.Fprintf(d.Stdout, "staged for nginx %s; after upgrading nginx to %s, run install again (or point load_module at these files), then nginx -t\n", o.forNginx, o.forNginx)
		return nil
	case o.printLoad:
		fmt.Fprintf(d.Stdout, "add to the top of %s, in this order:\n", h.ConfPath)
		for _, it := range res.Items {
			fmt.Fprintf(d.Stdout, "  %s\n", it.Load)
		}
		return nil
	case o.dryRun:
		return nil
	}
	fmt.Fprintln(d.Stdout, "nginx -t: ok")
	return o.reloadIfAsked(ctx, d)
}

// removeModules takes out what install placed for the named modules.
func (o *installOptions) removeModules(ctx context.Context, d *Deps, h *install.Host) error {
	layout, err := install.DetectLayout(h.ConfPath)
	if err != nil {
		return fmt.Errorf("install remove: %w", err)
	}
	res, err := install.Remove(ctx, install.Options{Host: h, Modules: o.modules, Layout: layout, DryRun: o.dryRun, Logf: d.logf, Owner: hostOwner(ctx),
		Test: func(ctx context.Context) error { return install.NginxT(ctx, o.binary, o.conf) }})
	if err != nil {
		return fmt.Errorf("install remove: %w", err)
	}
	verb := "removed"
	if o.dryRun {
		verb = "would remove"
	}
	for _, it := range res.Items {
		fmt.Fprintf(d.Stdout, "%s %s (%s, %s)\n", verb, it.Entry.Module, cmp.Or(it.Dest, "no .so"), it.Snippet)
	}
	if o.dryRun {
		return nil
	}
	fmt.Fprintln(d.Stdout, "nginx -t: ok")
	return o.reloadIfAsked(ctx, d)
}

// reloadIfAsked reloads nginx after a change, with --reload.
func (o *installOptions) reloadIfAsked(ctx context.Context, d *Deps) error {
	if !o.reload {
		return nil
	}
	how, err := install.Reload(ctx, o.binary, o.conf)
	if err != nil {
		return fmt.Errorf("changed, but the reload failed: %w", err)
	}
	fmt.Fprintf(d.Stdout, "reloaded (%s)\n", how)
	return nil
}

// recoverInstall puts back what an interrupted install changed.
func recoverInstall(d *Deps, h *install.Host) error {
	found, err := install.RecoverHost(h)
	switch {
	case err != nil:
		return fmt.Errorf("install recover: %w", err)
	case found:
		fmt.Fprintf(d.Stdout, "an interrupted install's changes are put back: %s and %s are as they were before it\n", h.ModulesPath, filepath.Dir(h.ConfPath))
	default:
		fmt.Fprintf(d.Stdout, "no interrupted install to recover (no %s in %s)\n", install.JournalName, filepath.Dir(h.ConfPath))
	}
	return nil
}

func installCheck(ctx context.Context, d *Deps, src install.Source, h *install.Host, v, useDistro string) error {
	rep, err := install.Check(ctx, src, h, v, useDistro)
	if err != nil {
		return ghclient.Explain(err, "install check")
	}
	tw := tabwriter.NewWriter(d.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "LOAD_MODULE\tMODULE\tBUILD FOR %s\n", v)
	missing := 0
	for _, c := range rep {
		where := fmt.Sprintf("%s:%d %s", c.Load.File, c.Load.Line, c.Load.Path)
		mod := strings.Join(c.Modules, ",")
		if c.Entry != nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", where, mod, c.Entry.File)
			continue
		}
		missing++
		fmt.Fprintf(tw, "%s\t%s\tNONE: %s\n", where, cmp.Or(mod, "unknown"), c.Why)
	}
	tw.Flush()
	if missing > 0 {
		return fmt.Errorf("%d of %d modules have no build for nginx %s in %s: do not upgrade yet (modules from distro packages come with the distro's nginx upgrade)", missing, len(rep), v, src.Name())
	}
	fmt.Fprintf(d.Stdout, "every module has a build for nginx %s: stage them with install --for-nginx %s MODULE...\n", v, v)
	return nil
}

func installSource(d *Deps, rf repoFlags, from string, insecure bool) (install.Source, error) {
	switch {
	case strings.HasPrefix(from, "http://") && !insecure:
		return nil, usagef("install: --from %s: %v", redactURL(from), install.ErrPlainHTTP)
	case strings.HasPrefix(from, "http://") || strings.HasPrefix(from, "https://"):
		if insecure && strings.HasPrefix(from, "http://") {
			fmt.Fprintf(d.Stderr, "WARNING: --insecure: %s is plain http; what is \"verified\" below is only that the files match the sums that came with them\n", redactURL(from))
		}
		return install.URL{Base: from, HTTP: d.HTTP, Insecure: insecure}, nil
	case from != "":
		return install.Dir(absIn(d.Dir, from)), nil
	}
	owner, name, err := rf.split()
	if err != nil {
		return nil, usagef("install: give --repo owner/name (with --tag) or --from DIR|URL: %v", err)
	}
	gh, err := d.GitHub()
	if err != nil {
		return nil, err
	}
	return &install.Release{GH: &release.API{C: gh, Owner: owner, Repo: name}, Repo: rf.repo, Tag: rf.tag}, nil
}

// redactURL is a URL as it may be printed: without credentials.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

// hostOwner names the package owning a file on this host.
func hostOwner(ctx context.Context) func(string) string {
	return func(path string) string { return install.Owner(ctx, "/", path) }
}
