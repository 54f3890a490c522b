package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/nginx-modbuild/nginx-modbuild/internal/ghclient"
	"github.com/nginx-modbuild/nginx-modbuild/internal/install"
	"github.com/nginx-modbuild/nginx-modbuild/internal/nginxver"
	"github.com/nginx-modbuild/nginx-modbuild/internal/release"
)

func runInstall(ctx context.Context, env *Env, args []string) error {
	c := findCommand("install")
	fs := flagSet(env, c.name, c.args, c.desc)
	var (
		rf                                      repoFlags
		binary, from, forNginx, useDistro, conf string
		modulesPath                             string
		printLoad, dryRun, reload, check        bool
		insecure, recoverOnly                   bool
	)
	rf.register(fs, env)
	nginxPath := defaultNginx()
	fs.StringVar(&binary, "nginx-binary", nginxPath, "the nginx the modules are for")
	fs.StringVar(&binary, "nginx", nginxPath, "the same as --nginx-binary (as check spells it)")
	fs.StringVar(&from, "from", "", "a directory or URL holding a release's files (manifest.json, SHA256SUMS, .so) instead of --repo")
	fs.StringVar(&forNginx, "for-nginx", "", "stage builds for this nginx version before upgrading to it (version-named files, no config change)")
	fs.StringVar(&useDistro, "distro", "", "use this distro's build when there is none for this host's")
	fs.StringVar(&conf, "conf", "", "the main nginx.conf (default the binary's --conf-path); nginx -t runs with -c this")
	fs.StringVar(&modulesPath, "modules-path", "", "where modules go (default the binary's --modules-path)")
	fs.BoolVar(&insecure, "insecure", false, "accept a plain-http --from URL (its checksums then prove nothing: anyone on the path can replace the files and the sums together)")
	fs.BoolVar(&printLoad, "print-load", false, "place the .so files only and print the load_module lines to add")
	fs.BoolVar(&dryRun, "dry-run", false, "print what would be done, change nothing")
	fs.BoolVar(&reload, "reload", false, "reload nginx after nginx -t passes (systemd when it runs nginx, else nginx -s reload)")
	fs.BoolVar(&recoverOnly, "recover", false, "only put back what an interrupted install (killed, or its session lost) changed, as its journal says; every install does this first")
	fs.BoolVar(&check, "check", false, "report, for every load_module of the configuration, whether the release has a build for --for-nginx")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	mods := fs.Args()
	switch {
	case recoverOnly && (len(mods) > 0 || check):
		return usagef("install --recover takes no modules and no --check")
	case recoverOnly:
	case check && len(mods) > 0:
		return usagef("install --check takes no modules: it checks every load_module of the configuration")
	case check && forNginx == "":
		return usagef("install --check needs --for-nginx VERSION (the version you are about to upgrade to)")
	case !check && len(mods) == 0:
		return usagef("install: name the modules to install (ngx_http_echo_module or echo)")
	}
	if forNginx != "" {
		if _, err := nginxver.Parse(forNginx); err != nil {
			return usagef("--for-nginx: %v", err)
		}
	}
	osRelease, _ := os.ReadFile("/etc/os-release")
	h, err := install.Inspect(binary, string(osRelease))
	if err != nil {
		return usagef("install: %v", err)
	}
	if conf != "" {
		h.ConfPath = conf
	}
	if modulesPath != "" {
		h.ModulesPath = modulesPath
	}
	if recoverOnly {
		found, err := install.RecoverHost(h)
		switch {
		case err != nil:
			return fmt.Errorf("install --recover: %w", err)
		case found:
			fmt.Fprintf(env.Stdout, "an interrupted install's changes are put back: %s and %s are as they were before it\n", h.ModulesPath, filepath.Dir(h.ConfPath))
		default:
			fmt.Fprintf(env.Stdout, "no interrupted install to recover (no %s in %s)\n", install.JournalName, filepath.Dir(h.ConfPath))
		}
		return nil
	}
	src, err := installSource(env, rf, from, insecure)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "nginx %s (%s), %s/%s, modules in %s, config %s; builds from %s\n",
		h.Target.Nginx, binary, orUnknown(h.Distro), h.Arch, h.ModulesPath, h.ConfPath, src.Name())

	if check {
		return installCheck(ctx, env, src, h, forNginx, useDistro)
	}
	layout, err := install.DetectLayout(h.ConfPath)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	o := install.Options{Host: h, Modules: mods, Nginx: h.Target.Nginx, UseDistro: useDistro, Layout: layout,
		PrintLoad: printLoad, DryRun: dryRun,
		Test: func(ctx context.Context) error { return install.NginxT(ctx, binary, conf) },
		Logf: func(format string, args ...any) { fmt.Fprintf(env.Stderr, format+"\n", args...) }}
	if forNginx != "" && forNginx != h.Target.Nginx {
		o.Nginx, o.Stage = forNginx, true
	}
	res, err := install.Run(ctx, src, o)
	if err != nil {
		return ghclient.Explain(err, "install from "+src.Name())
	}
	verb := "installed"
	if dryRun {
		verb = "would install"
	}
	for _, it := range res.Items {
		fmt.Fprintf(env.Stdout, "%s %s -> %s", verb, it.Entry.File, it.Dest)
		if it.Snippet != "" {
			fmt.Fprintf(env.Stdout, " (%s)", it.Snippet)
		}
		fmt.Fprintln(env.Stdout)
	}
	switch {
	case o.Stage:
		fmt.Fprintf(env.Stdout, "staged for nginx %s; after upgrading nginx to %s, run install again (or point load_module at these files), then nginx -t\n", forNginx, forNginx)
		return nil
	case printLoad:
		fmt.Fprintf(env.Stdout, "add to the top of %s, in this order:\n", h.ConfPath)
		for _, it := range res.Items {
			fmt.Fprintf(env.Stdout, "  %s\n", it.Load)
		}
		return nil
	case dryRun:
		return nil
	}
	fmt.Fprintln(env.Stdout, "nginx -t: ok")
	if reload {
		how, err := install.Reload(ctx, binary, conf)
		if err != nil {
			return fmt.Errorf("installed, but the reload failed: %w", err)
		}
		fmt.Fprintf(env.Stdout, "reloaded (%s)\n", how)
	}
	return nil
}

func installCheck(ctx context.Context, env *Env, src install.Source, h *install.Host, v, useDistro string) error {
	rep, err := install.Check(ctx, src, h, v, useDistro)
	if err != nil {
		return ghclient.Explain(err, "install --check")
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
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
		fmt.Fprintf(tw, "%s\t%s\tNONE: %s\n", where, orUnknown(mod), c.Why)
	}
	tw.Flush()
	if missing > 0 {
		return fmt.Errorf("%d of %d modules have no build for nginx %s in %s: do not upgrade yet (modules from distro packages come with the distro's nginx upgrade)", missing, len(rep), v, src.Name())
	}
	fmt.Fprintf(env.Stdout, "every module has a build for nginx %s: stage them with install --for-nginx %s MODULE...\n", v, v)
	return nil
}

func installSource(env *Env, rf repoFlags, from string, insecure bool) (install.Source, error) {
	switch {
	case strings.HasPrefix(from, "http://") && !insecure:
		return nil, usagef("install: --from %s: %v", redactURL(from), install.ErrPlainHTTP)
	case strings.HasPrefix(from, "http://") || strings.HasPrefix(from, "https://"):
		if insecure && strings.HasPrefix(from, "http://") {
			fmt.Fprintf(env.Stderr, "WARNING: --insecure: %s is plain http; what is \"verified\" below is only that the files match the sums that came with them\n", redactURL(from))
		}
		return install.URL{Base: from, HTTP: env.http(), Insecure: insecure}, nil
	case from != "":
		if !filepath.IsAbs(from) {
			from = filepath.Join(env.Dir, from)
		}
		return install.Dir(from), nil
	}
	owner, name, err := rf.split()
	if err != nil {
		return nil, usagef("install: give --repo owner/name (with --tag) or --from DIR|URL: %v", err)
	}
	gh, err := gitHub(env)
	if err != nil {
		return nil, err
	}
	return &install.Release{GH: &release.API{C: gh, Owner: owner, Repo: name}, Repo: rf.repo, Tag: rf.tag}, nil
}

func defaultNginx() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	return "/usr/sbin/nginx"
}

// redactURL is a URL as it may be printed: without credentials.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
