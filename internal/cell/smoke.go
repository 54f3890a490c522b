package cell

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/lines"
)

// SmokeConf is an nginx.conf that loads modules (in the given order) and
// serves snippet on 127.0.0.1:port. Paths in it are relative to the
// prefix nginx is started with (-p).
func SmokeConf(modules []string, port int, snippet string) string {
	var b strings.Builder
	for _, m := range modules {
		fmt.Fprintf(&b, "load_module %s;\n", m)
	}
	fmt.Fprintf(&b, `
error_log logs/error.log;
pid logs/nginx.pid;
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:%d;
%s
    }
}
`, port, indent(snippet, "        "))
	return b.String()
}

func indent(s, prefix string) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l != "" {
			l = prefix + l
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// FreePort asks the kernel for an unused loopback port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Server is an nginx started under a prefix.
type Server struct {
	Bin, Prefix string
	Port        int
}

// NewServer writes conf into a fresh prefix directory for bin.
func NewServer(bin, prefix string, modules []string, snippet string) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"conf", "logs"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o755); err != nil {
			return nil, err
		}
	}
	conf := SmokeConf(modules, port, snippet)
	if err := os.WriteFile(filepath.Join(prefix, "conf", "nginx.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return &Server{Bin: bin, Prefix: prefix, Port: port}, nil
}

func (s *Server) args(extra ...string) []string {
	return append([]string{s.Bin, "-p", s.Prefix + "/", "-c", "conf/nginx.conf"}, extra...)
}

// Test runs nginx -t and returns its output.
func (s *Server) Test(ctx context.Context) (string, error) {
	return run(ctx, s.Prefix, s.args("-t"))
}

// Start starts nginx (it daemonizes) and waits for its pid file.
func (s *Server) Start(ctx context.Context) error {
	if out, err := run(ctx, s.Prefix, s.args()); err != nil {
		return fmt.Errorf("start nginx: %w\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := s.pid(); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nginx wrote no pid file in 10s; error log:\n%s", s.ErrorLog())
}

// Get requests path and returns the status and body, retrying while the
// listener is not up yet.
func (s *Server) Get(ctx context.Context, path string) (int, string, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	url := "http://127.0.0.1:" + strconv.Itoa(s.Port) + path
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, "", err
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			return resp.StatusCode, string(body), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, "", fmt.Errorf("GET %s: %w", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends the master QUIT by the pid in its pid file and waits for it
// to exit (KILL after 10 s).
func (s *Server) Stop() error {
	pid, err := s.pid()
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil {
		return fmt.Errorf("stop nginx %d: %w", pid, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil || zombie(pid) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	return fmt.Errorf("nginx %d did not stop in 10s after QUIT; killed", pid)
}

// zombie reports whether pid has exited but was not reaped. The nginx
// master daemonizes, so its parent is PID 1; in a job container PID 1 is
// a plain command (GitHub's and act's tail -f /dev/null, a test's
// sleep), which reaps nothing, and the exited master stays a zombie.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func (s *Server) pid() (int, error) {
	b, err := os.ReadFile(filepath.Join(s.Prefix, "logs", "nginx.pid"))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// ErrorLog returns the end of nginx's error log.
func (s *Server) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(s.Prefix, "logs", "error.log"))
	return lines.Last(string(b), 20)
}

var soPath = regexp.MustCompile(`"(/[^"]+\.so)"`)

// smoke proves the modules load into the nginx binary built with them:
// each .so loaded exactly once, in load order. A .so that nginx -t
// refuses is that module's failure, and the rest are tried again without
// it. Then the smoke config and request run with every .so that loads.
func (b *builder) smoke(ctx context.Context, builddir string, sos []*linked) []*linked {
	bin := filepath.Join(builddir, "nginx")
	prefix := filepath.Join(b.o.WorkDir, "smoke")
	var ok bool
	if b.judgedByTarget() {
		// The target is the judge: the smoke test runs in it.
		bin = b.o.Target
		if sos, ok = b.loadAll(ctx, bin, prefix, b.o.Target, sos); !ok {
			return sos
		}
	} else if _, err := os.Stat(bin); err != nil {
		b.fail(Module{ID: "nginx", Dir: "nginx"}, "nginx", manifest.PhaseSmoke, "the nginx binary for the smoke test did not build (see make's output above); the .so files are kept unproven")
		return sos
	} else if sos, ok = b.loadAll(ctx, bin, prefix, "", sos); !ok {
		return sos
	}
	if b.o.Target != "" && len(sos) > 0 && !b.judgedByTarget() {
		// The distro's own nginx, with nothing else enabled: the .so
		// files load there, or the cell says why not.
		if sos, ok = b.loadAll(ctx, b.o.Target, filepath.Join(b.o.WorkDir, "smoke-target"), b.o.Target, sos); !ok {
			return sos
		}
	}
	if len(sos) == 0 || (b.o.Smoke.Config == "" && b.o.Smoke.Request == "") {
		return sos
	}
	smokeFail := func(msg string) {
		b.fail(Module{ID: "smoke:", Dir: "smoke"}, "smoke test", manifest.PhaseSmoke, msg)
	}
	srv, err := NewServer(bin, prefix, pathsOf(sos), b.o.Smoke.Config)
	if err != nil {
		smokeFail(err.Error())
		return sos
	}
	if out, err := srv.Test(ctx); err != nil {
		smokeFail("nginx -t with smoke.config: " + emergLine(out))
		return sos
	}
	if b.o.Smoke.Request == "" {
		return sos
	}
	if err := srv.Start(ctx); err != nil {
		smokeFail(err.Error())
		return sos
	}
	status, body, gerr := srv.Get(ctx, b.o.Smoke.Request)
	serr := srv.Stop()
	switch {
	case gerr != nil:
		smokeFail(fmt.Sprintf("%v; error log:\n%s", gerr, srv.ErrorLog()))
	case status != http.StatusOK:
		smokeFail(fmt.Sprintf("GET %s answered %d, want 200; body %q; error log:\n%s", b.o.Smoke.Request, status, lines.First(body), srv.ErrorLog()))
	case serr != nil:
		smokeFail(serr.Error())
	default:
		b.o.Log.Printf("GET %s: 200 %s", b.o.Smoke.Request, lines.First(body))
	}
	return sos
}

// loadAll loads every .so once, in load order, into bin (nginx -t); a
// .so that nginx refuses is its module's failure and the rest are tried
// again. target names the distro's own nginx ("" for the one built
// here). ok is false when nginx failed with no module named.
func (b *builder) loadAll(ctx context.Context, bin, prefix, target string, sos []*linked) ([]*linked, bool) {
	who := "nginx -t"
	if target != "" {
		who = "the distro's own nginx -t (" + target + ")"
	}
	for len(sos) > 0 {
		srv, err := NewServer(bin, prefix, pathsOf(sos), "")
		if err != nil {
			b.fail(Module{ID: "nginx", Dir: "nginx"}, "nginx", manifest.PhaseSmoke, err.Error())
			return sos, false
		}
		out, err := srv.Test(ctx)
		if err == nil {
			b.o.Log.Printf("%s: %d .so file(s) load", who, len(sos))
			return sos, true
		}
		bad := -1
		if m := soPath.FindStringSubmatch(out); m != nil {
			for i, s := range sos {
				if s.file == m[1] {
					bad = i
				}
			}
		}
		if bad < 0 {
			b.fail(Module{ID: "nginx", Dir: "nginx"}, "nginx", manifest.PhaseSmoke, who+" failed with no module named:\n"+lines.Last(out, 10))
			return sos, false
		}
		m, _ := b.moduleOf(sos[bad])
		msg := who + " refused it: " + emergLine(out)
		if target != "" && strings.Contains(out, "undefined symbol: pcre_") {
			msg += "\nThe module calls the PCRE1 API and the distro's nginx uses PCRE2: link the module against libpcre (libs: [-lpcre] and packages: {apt: [libpcre3-dev]} in its modules entry)."
		}
		b.fail(m, sos[bad].so.Name(), manifest.PhaseSmoke, msg)
		sos = append(sos[:bad:bad], sos[bad+1:]...)
	}
	return sos, true
}

func pathsOf(sos []*linked) []string {
	var out []string
	for _, s := range sos {
		out = append(out, s.file)
	}
	return out
}

// emergLine is nginx's [emerg] message, or the end of its output.
func emergLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "[emerg]"); i >= 0 {
			return strings.TrimSpace(l[i:])
		}
	}
	return lines.Last(out, 5)
}
