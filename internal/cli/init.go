package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/go-version"

	"github.com/nginx-modbuild/nginx-modbuild/examples"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/bump"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/upstream"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/atomicfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/fetch"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
)

// The files init writes, relative to the repository root, and the example
// each workflow is.
var initWorkflows = []struct{ path, example string }{
	{".github/workflows/nginx-modbuild.yml", "workflows/watch.yml"},
	{".github/workflows/nginx-modbuild-pr.yml", "workflows/pr-check.yml"},
}

// defaultInitDistros are what most operators run: the current Debian and
// Ubuntu releases and RHEL 9's rebuild.
const defaultInitDistros = "debian-12,debian-13,ubuntu-22.04,ubuntu-24.04,rocky-9"

type initOptions struct {
	watch                     watchFlags
	force                     bool
	pin, lines, distros, arch string
}

func initCommand() command {
	return newCommand[initOptions]("init", "[--force] [--pin 1.26.3] [--lines stable,mainline] [--distros debian-12,...] [--arch amd64,arm64]",
		"set up a module repository: write .github/nginx-modbuild.yml and the watch and pull-request workflows", runInit)
}

func (o *initOptions) flags(fs *flag.FlagSet, d *Deps) {
	o.watch.register(fs, d)
	fs.BoolVar(&o.force, "force", false, "overwrite files that exist")
	fs.StringVar(&o.pin, "pin", "", "the nginx version the repository ships (default: read from its Dockerfiles and CI files, else the newest stable)")
	fs.StringVar(&o.lines, "lines", "stable,mainline", "release lines whose newest release is built")
	fs.StringVar(&o.distros, "distros", defaultInitDistros, "distributions to build for (see the README's table)")
	fs.StringVar(&o.arch, "arch", "amd64", "architectures: amd64, arm64 or both")
}

func (o *initOptions) check(args []string, _ *Deps) error { return noArgs("init", args) }

// initTargets are the files init writes, relative to the repository.
func initTargets() []string {
	targets := []string{config.DefaultPath}
	for _, wf := range initWorkflows {
		targets = append(targets, wf.path)
	}
	return targets
}

func runInit(ctx context.Context, o *initOptions, d *Deps) error {
	root := d.Dir
	mods, err := findModules(root)
	if err != nil {
		return err
	}
	if len(mods) == 0 {
		return usagef("init: no nginx module config (a file named config that sets ngx_addon_name) under %s: run init in the module's repository", root)
	}
	if !o.force {
		var exist []string
		for _, p := range initTargets() {
			if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p))); err == nil {
				exist = append(exist, p)
			}
		}
		if len(exist) > 0 {
			return usagef("init: %s already exists; nothing was written (rerun with --force to overwrite)", strings.Join(exist, ", "))
		}
	}
	pin, pinWhy, err := o.choosePin(ctx, d)
	if err != nil {
		return err
	}
	pins, mirrorDir, err := mirrorPins(o.watch.mirror, d)
	if err != nil {
		return err
	}
	text := initConfig(root, mods, pin, pinWhy, pins, splitList(o.lines), splitList(o.distros), splitList(o.arch)) + initPackages(ctx, root)
	if _, err := config.Parse(config.DefaultPath, root, []byte(text)); err != nil {
		return usagef("init: the flags make an invalid config: %v", err)
	}
	if err := writeInitFiles(d, text); err != nil {
		return err
	}
	fmt.Fprintf(d.Stdout, initNext, strings.Join(mods, ", "), strings.Join(splitList(o.lines), " and "), pin, pinWhy, config.DefaultPath, pin)
	if mirrorDir != "" {
		fmt.Fprintf(d.Stdout, "\nOffline: give plan and build --mirror %s too; the checksums of its %d tarballs are pinned under nginx.sha256, so build verifies them.\n", mirrorDir, len(pins))
	}
	return nil
}

// mirrorPins are the SHA-256 of the nginx-X.Y.Z.tar.gz files of a local
// --mirror directory, by version: init writes them as nginx.sha256, which
// an offline build with that mirror needs (it has no signatures to
// check). None for a URL mirror.
func mirrorPins(mirror string, d *Deps) (map[string]string, string, error) {
	dir, ok := fetch.LocalDir(mirror)
	if !ok || mirror == "" {
		return nil, "", nil
	}
	dir = absIn(d.Dir, dir)
	files, _ := filepath.Glob(filepath.Join(dir, "nginx-*.tar.gz"))
	pins := map[string]string{}
	for _, f := range files {
		v := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "nginx-"), ".tar.gz")
		if _, err := nginxver.Parse(v); err != nil {
			continue
		}
		b, err := userfile.Read(f, 256<<20)
		if err != nil {
			return nil, "", fmt.Errorf("init --mirror: %w", err)
		}
		sum := sha256.Sum256(b)
		pins[v] = hex.EncodeToString(sum[:])
	}
	return pins, dir, nil
}

// choosePin is the version to pin and why: --pin, else the one the
// repository's files name, checked against nginx's releases; the newest
// stable when there is none (or it is not a release).
func (o *initOptions) choosePin(ctx context.Context, d *Deps) (pin, why string, err error) {
	pin, why, given := o.pin, "given with --pin", o.pin != ""
	if !given {
		pin, why = repoPin(ctx, d.Dir)
	}
	res, fetchErr := o.watch.fetch(ctx, d)
	switch {
	case fetchErr != nil && pin == "":
		return "", "", fmt.Errorf("init: no nginx version pinned in the repository, and the newest stable is unknown: %w\n(pass --pin 1.x.y, or --mirror DIR: a directory of nginx-X.Y.Z.tar.gz files whose versions init reads)", fetchErr)
	case fetchErr != nil:
		fmt.Fprintf(d.Stderr, "warning: could not check the pin %s against nginx's releases: %v\n", pin, fetchErr)
		return pin, why, nil
	case pin == "":
		return newestStable(res.Releases)
	}
	for _, r := range res.Releases {
		if r.String() == pin {
			return pin, why, nil
		}
	}
	if given {
		return "", "", usagef("init: pin %s (%s) is not an nginx release: pass --pin with a released version", pin, why)
	}
	fmt.Fprintf(d.Stderr, "note: %s names nginx %s, which is not a release; pinning the newest stable instead (or pass --pin)\n", strings.TrimPrefix(why, "from "), pin)
	return newestStable(res.Releases)
}

// writeInitFiles writes the config and the example workflows.
func writeInitFiles(d *Deps, configText string) error {
	files := map[string][]byte{config.DefaultPath: []byte(configText)}
	for _, wf := range initWorkflows {
		b, err := examples.Workflows.ReadFile(wf.example)
		if err != nil {
			return err
		}
		files[wf.path] = b
	}
	for _, p := range initTargets() {
		full := filepath.Join(d.Dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if fi, err := os.Lstat(full); err == nil && !fi.Mode().IsRegular() {
			return usagef("init: %s is not a regular file: remove it first", p)
		}
		if err := atomicfile.Write(full, files[p], 0o644); err != nil {
			return err
		}
		fmt.Fprintf(d.Stdout, "wrote %s\n", p)
	}
	return nil
}

// initNext is what init prints after writing the files.
const initNext = `
modules: %s
nginx: the newest %s release each, pin %s (%s), and each distro's own nginx

Next steps:
  1. Review %s: add a smoke: section that requests a location using
     your module, and the distros and arches your users run.
  2. Preview the build matrix:  nginx-modbuild plan
     and build one cell here:   nginx-modbuild build --nginx %s
  3. Commit and push the three files.
  4. On GitHub, Settings > Actions > General > Workflow permissions: tick
     "Allow GitHub Actions to create and approve pull requests", or the bump
     job cannot open its pull request (a 403 even with pull-requests: write).
     A secret NGINX_MODBUILD_TOKEN (a fine-grained token with contents and
     pull-requests write) instead makes the bump pull requests run your CI.
  5. Run the "nginx-modbuild" workflow once by hand (Actions > Run workflow);
     after that it watches nginx releases hourly.
`

// newestStable is the pin init falls back to.
func newestStable(releases []upstream.Release) (string, string, error) {
	for _, r := range releases {
		if r.Line == nginxver.Stable {
			return r.String(), "the newest stable release", nil
		}
	}
	return "", "", fmt.Errorf("init: no stable release among the %d upstream releases: pass --pin 1.x.y", len(releases))
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

// initConfig is the config init writes, with comments for the maintainer.
// A module with a Test::Nginx suite (t/*.t) gets its test: entry, which
// the pull-request workflow's test: true runs.
func initConfig(root string, mods []string, pin, pinWhy string, pins map[string]string, lines, distros, arch []string) string {
	var b strings.Builder
	b.WriteString("# nginx-modbuild: which nginx versions, distros and arches to build this\n")
	b.WriteString("# repository's modules for. Written by `nginx-modbuild init`; see the\n")
	b.WriteString("# README's Config section for every key.\n")
	b.WriteString("nginx:\n")
	fmt.Fprintf(&b, "  lines: [%s]\n", strings.Join(lines, ", "))
	b.WriteString("  latest: 1          # the newest release of each line\n")
	fmt.Fprintf(&b, "  pin: %s        # %s; bump pull requests move it\n", pin, pinWhy)
	b.WriteString("  packaged: true     # also each distro's own nginx (Debian 12: 1.22.1, Ubuntu 24.04: 1.24.0, ...)\n")
	if len(pins) == 0 {
		b.WriteString("  # sha256:          # tarball checksums for a mirror without .asc signatures (offline builds)\n")
		fmt.Fprintf(&b, "  #   %s: <sha256 of nginx-%s.tar.gz>\n", pin, pin)
	} else {
		b.WriteString("  sha256:            # the tarballs of init's --mirror directory: builds with it verify them\n")
		vs := slices.Sorted(maps.Keys(pins))
		for _, v := range vs {
			fmt.Fprintf(&b, "    %s: %s\n", v, pins[v])
		}
	}
	b.WriteString("modules:\n")
	for _, m := range mods {
		fmt.Fprintf(&b, "  - path: %s\n", m)
		if suite, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(m), "t", "*.t")); len(suite) > 0 {
			fmt.Fprintf(&b, "    test: {prove: t/}  # its Test::Nginx suite (%d files), run by build --test\n", len(suite))
		}
	}
	fmt.Fprintf(&b, "distros: [%s]\n", strings.Join(distros, ", "))
	fmt.Fprintf(&b, "arch: [%s]\n", strings.Join(arch, ", "))
	b.WriteString("bump:\n  labels: [dependencies]\n")
	b.WriteString("# A smoke test proves each build loads and answers; uncomment and adapt:\n")
	b.WriteString("# smoke:\n#   config: |\n#     location = /t { ... }\n#   request: /t\n")
	return b.String()
}

// findModules lists the directories under root (relative, "." for root)
// that hold an nginx module config: a file named config setting
// ngx_addon_name. A config inside another module's directory is that
// module's sub-config; hidden directories, build output and nginx source
// trees are not searched.
func findModules(root string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || name == "dist" || name == "node_modules" || name == "vendor") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "auto", "cc", "conf")); err == nil {
				return filepath.SkipDir // an nginx source tree
			}
			return nil
		}
		if d.Name() != "config" || !d.Type().IsRegular() {
			return nil
		}
		data, err := userfile.Read(p, 1<<20)
		if err != nil || !strings.Contains(string(data), "ngx_addon_name") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		found = append(found, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("init: look for module configs under %s: %w", root, err)
	}
	sort.Slice(found, func(i, j int) bool {
		return strings.Count(found[i], "/") < strings.Count(found[j], "/") ||
			(strings.Count(found[i], "/") == strings.Count(found[j], "/") && found[i] < found[j])
	})
	var out []string
	for _, f := range found {
		nested := false
		for _, o := range out {
			nested = nested || o == "." || strings.HasPrefix(f, o+"/")
		}
		if !nested {
			out = append(out, f)
		}
	}
	return out, nil
}

// repoPin reads the nginx version the repository pins from its files
// (Dockerfiles, CI YAML, .env, ...): the version most files name, the
// newest on a tie; "" when none. A file naming several versions is a test
// matrix, not a pin, and is left out.
func repoPin(ctx context.Context, root string) (string, string) {
	tree := bump.Local{Dir: root}
	_, _, files, err := tree.Commit(ctx, "")
	if err != nil {
		return "", ""
	}
	count := map[string]int{}
	where := map[string]string{}
	for _, f := range files {
		if !bump.Candidate(f.Path) || f.Size > 1<<20 || strings.HasPrefix(f.Path, ".github/nginx-modbuild") {
			continue
		}
		data, err := tree.Blob(ctx, f.Path)
		if err != nil {
			continue
		}
		found := bump.FindAny(f.Path, data)
		distinct := map[string]bool{}
		for _, p := range found {
			distinct[p.Version] = true
		}
		if len(distinct) != 1 {
			continue
		}
		p := found[0]
		count[p.Version]++
		if where[p.Version] == "" {
			where[p.Version] = fmt.Sprintf("from %s:%d", path.Clean(p.Path), p.Line)
		}
	}
	best := ""
	for v, n := range count {
		if best == "" || n > count[best] || (n == count[best] && newer(v, best)) {
			best = v
		}
	}
	return best, where[best]
}

func newer(a, b string) bool {
	va, errA := version.NewVersion(a)
	vb, errB := version.NewVersion(b)
	return errA == nil && errB == nil && va.GreaterThan(vb)
}
