package cell

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modenv"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modtest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/tap"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
)

// configureExtra is the config's configure arguments, plus
// --with-stream=dynamic when a module needs stream and they have no
// --with-stream (as the distros build it: the .so is nginx's, loaded
// first, never shipped), plus nginx's own modules the test suites need
// (test.needs) when tests run: stream and mail as --with-NAME, stream_X
// and mail_X as --with-NAME_module, the rest as --with-http_NAME_module.
// configure refuses a name it does not have, in its own words.
func (b *builder) configureExtra() []string {
	extra := slices.Clone(b.o.Configure)
	if b.streamFor(extra) != "" {
		extra = append(extra, "--with-stream=dynamic")
	}
	if b.o.Tests == nil {
		return extra
	}
	for _, m := range b.o.Modules {
		if m.Test == nil {
			continue
		}
		for _, n := range m.Test.Needs {
			arg := "--with-http_" + n + "_module"
			switch {
			case n == "stream" || n == "mail" || n == "debug":
				arg = "--with-" + n
			case strings.HasPrefix(n, "stream_") || strings.HasPrefix(n, "mail_"):
				arg = "--with-" + n + "_module"
			}
			if !slices.Contains(extra, arg) && (arg != "--with-stream" || !slices.ContainsFunc(extra, isWithStream)) {
				extra = append(extra, arg)
			}
		}
	}
	return extra
}

// streamFor is why configure args without --with-stream get
// --with-stream=dynamic: the first module that needs stream and why; ""
// when none does or args have it.
func (b *builder) streamFor(args []string) string {
	if slices.ContainsFunc(args, isWithStream) {
		return ""
	}
	for _, m := range b.o.Modules {
		if m.needsStream != "" {
			return m.Name + ": " + m.needsStream
		}
	}
	return ""
}

// isWithStream is configure's --with-stream, built in or =dynamic.
func isWithStream(a string) bool {
	return a == "--with-stream" || strings.HasPrefix(a, "--with-stream=")
}

// tests runs each module's own suite against nginx with every .so that
// loaded, in load order, and records it in the cell. A suite that fails
// is its module's failure when it is required.
func (b *builder) tests(ctx context.Context, nginx, root string, sos []*linked) {
	files := pathsOf(sos)
	for i, m := range b.o.Modules {
		if m.Test == nil {
			continue
		}
		if f := b.failureOf(m); f != nil && !slices.ContainsFunc(sos, func(l *linked) bool { return l.owner == i }) {
			// No .so of it loaded: its suite could only fail again. (One
			// that loaded runs its suite: the failing files say what the
			// missing one would have done.)
			b.c.Tests = append(b.c.Tests, manifest.Tests{Module: m.Name, Source: m.ID, Required: m.Test.Required,
				Error: fmt.Sprintf("not run: the module failed in phase %s", f.Phase)})
			b.o.Log.Printf("%s: its tests are not run: it failed in phase %s", m.Name, f.Phase)
			continue
		}
		title := "test " + m.Name
		b.timed("test", title, func() error {
			if err := b.testPackagesErr[m.ID]; err != nil {
				b.recordTests(m, manifest.Tests{Module: m.Name, Source: m.ID, Required: m.Test.Required, Error: err.Error()}, root)
				return nil
			}
			work := filepath.Join(b.o.WorkDir, "test", strconv.Itoa(i))
			if err := os.MkdirAll(work, 0o755); err != nil {
				return err
			}
			res, err := modtest.Run(ctx, modtest.Suite{Module: m.Name, Source: m.ID, Dir: m.Dir, Test: *m.Test}, modtest.Options{
				Nginx: nginx, Modules: files, WorkDir: work, PerlLib: b.o.Tests.PerlLib, Env: b.o.Tests.Env,
				Progress: func(file string, c tap.Counts, seconds float64) {
					b.o.Log.Printf("%s: %d passed, %d failed, %d skipped (%.1f s)", file, c.Passed, c.Failed, c.Skipped, seconds)
				}})
			if err != nil {
				res.Error = err.Error()
			}
			b.recordTests(m, res, root)
			return nil
		})
	}
}

// failureOf is the module's failure in this cell so far, if any.
func (b *builder) failureOf(m Module) *manifest.Failure {
	for i, f := range b.failed {
		if f.Source == m.ID {
			return &b.failed[i]
		}
	}
	return nil
}

// installTestPackages installs what the modules' tests need (test.
// packages) with the build's dependencies, before configure: a library
// of a module the tests need configured in (image_filter's libgd) too.
// A module whose packages do not install has its tests not run.
func (b *builder) installTestPackages(ctx context.Context) {
	if b.o.Tests == nil || b.o.Packages == nil {
		return
	}
	b.testPackagesErr = map[string]error{}
	for _, m := range b.o.Modules {
		if m.Test == nil || len(m.Test.Packages[b.o.Family]) == 0 {
			continue
		}
		pkgs := m.Test.Packages[b.o.Family]
		if err := b.o.Packages.Install(ctx, pkgs); err != nil {
			b.testPackagesErr[m.ID] = fmt.Errorf("install the packages its tests need (%s): %w", strings.Join(pkgs, " "), err)
		}
	}
}

// recordTests puts a suite's result in the cell, logs its failures and
// fails the module when the suite is required and did not pass.
func (b *builder) recordTests(m Module, t manifest.Tests, root string) {
	b.c.Tests = append(b.c.Tests, t)
	b.o.Log.Printf("%s: %d tests: %d passed, %d failed, %d skipped (%d declared skips)", m.Name, t.Ran, t.Passed, t.Failed, t.Skipped, len(t.Skips))
	for _, f := range t.Files {
		for _, x := range f.Failures {
			b.o.Log.Printf("  FAIL %s:%d %s", f.File, x.Line, strings.TrimPrefix(x.Desc, f.File+" "))
		}
		if f.Problem != "" {
			b.o.Log.Printf("  %s: %s", f.File, f.Problem)
		}
	}
	if t.OK() {
		return
	}
	if fix := b.suggest(t, root); fix != "" {
		b.o.Log.Printf("%s: nginx did not start in some blocks; to run the rest of its suite, add to its test: in the config:\n%s", m.Name, fix)
	}
	why := TestsSummary(t)
	if !t.Required {
		b.o.Log.Printf("%s: its tests failed, and test.required is false: the cell stays green", m.Name)
		return
	}
	b.fail(m, "", manifest.PhaseTest, why)
}

// TestsSummary says in one line what failed in a suite.
func TestsSummary(t manifest.Tests) string {
	if t.Error != "" {
		return "its tests did not run: " + t.Error
	}
	var first string
	for _, f := range t.Files {
		for _, x := range f.Failures {
			if first == "" {
				first = fmt.Sprintf("%s:%d %s", f.File, x.Line, strings.TrimPrefix(x.Desc, f.File+" "))
			}
		}
		if first == "" && f.Problem != "" {
			first = f.File + ": " + f.Problem
		}
	}
	bails := 0
	for _, f := range t.Files {
		bails += f.BailOuts
	}
	s := fmt.Sprintf("%d of %d tests failed, %d of %d files failed", t.Failed, t.Ran, t.FailedFiles, len(t.Files))
	if bails > 0 {
		s += fmt.Sprintf(", %d block(s) where nginx did not start", bails)
	}
	return s + "; first: " + first
}

// suggest is Suggest for a suite of this cell: nginx's directive tables
// are read from its tree once, and only for a suite that bailed out.
func (b *builder) suggest(t manifest.Tests, root string) string {
	bailed := false
	for _, f := range t.Files {
		bailed = bailed || f.BailOuts > 0
	}
	if !bailed {
		return ""
	}
	if b.directives == nil {
		b.directives = nginxNeeds(root)
	}
	return Suggest(t, b.directives)
}

// Suggest is the ready-to-paste test: lines that let a suite run past
// the blocks nginx could not start in: needs: for a directive of one of
// nginx's own modules (needs: its name as in needs, by directive), skip:
// for the others (a third-party module's directive: add that module with
// release: false, or skip the block).
func Suggest(t manifest.Tests, needs map[string]string) string {
	var want []string
	var skips []string
	for _, f := range t.Files {
		for _, x := range f.Failures {
			if x.Number != 0 || x.Block == 0 || !strings.Contains(x.Desc, " - nginx did not start") {
				continue
			}
			if n, ok := needs[x.Directive]; ok && x.Directive != "" {
				if !slices.Contains(want, n) {
					want = append(want, n)
				}
				continue
			}
			reason := "nginx did not start"
			if x.Directive != "" {
				reason = fmt.Sprintf("unknown directive %s: a module the cell does not build", x.Directive)
			}
			skips = append(skips, fmt.Sprintf("      - {file: %s, block: %d, reason: %q}", f.File, x.Block, reason))
		}
	}
	var b strings.Builder
	if len(want) > 0 {
		slices.Sort(want)
		fmt.Fprintf(&b, "    needs: [%s]\n", strings.Join(want, ", "))
	}
	if len(skips) > 0 {
		b.WriteString("    skip:\n" + strings.Join(skips, "\n") + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// commandArray is an nginx module's directive table; commandName one
// directive in it. withOption is auto/options' --with-NAME) VAR=YES;
// ifVar an auto/modules test of such a variable.
var (
	commandArray = regexp.MustCompile(`(?s)static ngx_command_t\s+\w+\[\]\s*=\s*\{(.*?)ngx_null_command`)
	commandName  = regexp.MustCompile(`\{\s*ngx_string\("([A-Za-z0-9_]+)"\)`)
	withOption   = regexp.MustCompile(`--with-([a-z0-9_]+)\)[ \t]+([A-Z0-9_]+)=YES`)
	ifVar        = regexp.MustCompile(`^(?:el)?if \[ \$([A-Z0-9_]+) (?:=|!=) [A-Z]+ \]`)
)

// nginxNeeds maps the directives of nginx's optional modules, as the
// source tree at root defines them, to the name test: needs: takes for
// the module: configure's own tables say which sources each --with-NAME
// switch builds (auto/options, auto/modules), so dav_methods is dav,
// sub_filter is sub (ngx_http_sub_filter_module.c, --with-http_sub_module),
// proxy_protocol_timeout is stream and smtp_auth is mail. The first
// module that defines a directive wins (http's before stream's).
func nginxNeeds(root string) map[string]string {
	opts, err := os.ReadFile(filepath.Join(root, "auto", "options"))
	if err != nil {
		return nil
	}
	need := map[string]string{} // configure variable -> needs name
	for _, m := range withOption.FindAllStringSubmatch(string(opts), -1) {
		if _, ok := need[m[2]]; !ok {
			need[m[2]] = strings.TrimPrefix(strings.TrimSuffix(m[1], "_module"), "http_")
		}
	}
	mods, err := os.ReadFile(filepath.Join(root, "auto", "modules"))
	if err != nil {
		return nil
	}
	out := map[string]string{}
	var stack []string // the variables the enclosing ifs test ("" for another test)
	lines := strings.Split(string(mods), "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		switch {
		case strings.HasPrefix(l, "elif ") && len(stack) > 0:
			stack = stack[:len(stack)-1]
			fallthrough
		case strings.HasPrefix(l, "if "):
			v := ""
			if m := ifVar.FindStringSubmatch(l); m != nil {
				v = m[1]
			}
			stack = append(stack, v)
		case l == "fi" && len(stack) > 0:
			stack = stack[:len(stack)-1]
		case strings.HasPrefix(l, "ngx_module_srcs="):
			for strings.HasSuffix(l, "\\") && i+1 < len(lines) {
				i++
				l = strings.TrimSuffix(l, "\\") + " " + strings.TrimSpace(lines[i])
			}
			name := ""
			for k := len(stack) - 1; k >= 0 && name == ""; k-- {
				name = need[stack[k]]
			}
			if name != "" {
				addDirectives(out, root, strings.Fields(strings.Trim(strings.TrimPrefix(l, "ngx_module_srcs="), `"`)), name)
			}
		}
	}
	return out
}

// addDirectives maps every directive the source files define to name.
func addDirectives(out map[string]string, root string, srcs []string, name string) {
	for _, src := range srcs {
		data, err := os.ReadFile(filepath.Join(root, strings.Trim(src, `"`)))
		if err != nil {
			continue
		}
		for _, arr := range commandArray.FindAllSubmatch(data, -1) {
			for _, c := range commandName.FindAllSubmatch(arr[1], -1) {
				if _, ok := out[string(c[1])]; !ok {
					out[string(c[1])] = name
				}
			}
		}
	}
}

// installTargetStream installs the distro's package of nginx's stream
// module (Debian's libnginx-mod-stream) when the target nginx judges the
// cell and a module needs stream: the symbols and the load are proven
// against the target's own ngx_stream_module.so, as the host will load
// it (a distro's module tree cannot build nginx's own modules).
func (b *builder) installTargetStream(ctx context.Context) {
	if !b.judgedByTarget() || b.o.Packages == nil || b.streamFor(b.o.Configure) == "" {
		return
	}
	if b.o.Family == "" || targetModule(b.o.Target, "ngx_stream_module") != "" {
		return
	}
	pkg := manifest.DistroPackage(b.o.Family == distro.Apt, "ngx_stream_module")
	if err := b.o.Packages.Install(ctx, []string{pkg}); err != nil {
		b.o.Log.Printf("install %s (the target's stream module, which the modules need): %v", pkg, err)
	}
}

// targetModule is the path of nginx's own dynamic module name in the
// target binary's --modules-path (default <prefix>/modules), "" when it
// is not there.
func targetModule(target, name string) string {
	cmd := exec.Command(target, "-V")
	cmd.Env = modenv.Env(os.Getenv) // the allowlist, as for every nginx the cell runs
	out, _ := cmd.CombinedOutput()
	dir, prefix := "", "/usr/local/nginx"
	for _, a := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(a, "--modules-path="); ok {
			dir = v
		}
		if v, ok := strings.CutPrefix(a, "--prefix="); ok {
			prefix = v
		}
	}
	p := filepath.Join(cmp.Or(dir, filepath.Join(prefix, "modules")), name+".so")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}
