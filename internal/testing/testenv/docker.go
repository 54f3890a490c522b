package testenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/lines"
)

// Docker returns the docker client once a Docker engine answers
// (scripts/dockerd starts one: no bridge, no iptables; containers use the
// host's network or none).
func Docker(t testing.TB) string {
	t.Helper()
	docker, err := exec.LookPath("docker")
	if err != nil {
		Missing(t, "docker", "apt-get install docker.io")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, docker, "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		Missing(t, "a Docker engine ("+strings.TrimSpace(string(out))+")", "run scripts/dockerd")
	}
	return docker
}

// Image checks that the engine has image (scripts/images builds the bare
// debian:11, debian:12 and debian:13 with debootstrap).
func Image(t testing.TB, image string) {
	t.Helper()
	docker := Docker(t)
	if err := exec.Command(docker, "image", "inspect", image).Run(); err != nil {
		Missing(t, "the image "+image, "run scripts/images")
	}
}

// Container is one running container of a bare image, for a test: the
// host's network (no bridge exists here), the given directories mounted,
// removed when the test ends.
type Container struct {
	t      testing.TB
	docker string
	ID     string
	Image  string
}

// Mount is a host directory seen in the container.
type Mount struct {
	Host, Container string
	ReadOnly        bool
}

var nameSeq struct {
	sync.Mutex
	n int
}

// StartContainer starts image with mounts and keeps it running until the
// test ends. Debian's apt downloads are kept between runs in
// .cache/apt/<image> of the repository (mounted at apt's archive
// directory), so a bare container installs from there when it can; the
// image itself stays as it is.
func StartContainer(t testing.TB, image string, mounts ...Mount) *Container {
	t.Helper()
	Image(t, image)
	docker := Docker(t)
	archives := aptSlot(t, filepath.Join(RepoRoot(), ".cache", "apt", strings.NewReplacer(":", "-", "/", "-").Replace(image)))
	nameSeq.Lock()
	nameSeq.n++
	name := fmt.Sprintf("nginx-modbuild-test-%d-%d", os.Getpid(), nameSeq.n)
	nameSeq.Unlock()
	args := []string{"run", "-d", "--rm", "--network", "host", "--name", name,
		"-v", archives + ":/var/cache/apt/archives"}
	for _, m := range mounts {
		v := m.Host + ":" + m.Container
		if m.ReadOnly {
			v += ":ro"
		}
		args = append(args, "-v", v)
	}
	args = append(args, image, "sleep", "infinity")
	out, err := exec.Command(docker, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	c := &Container{t: t, docker: docker, ID: strings.TrimSpace(string(out)), Image: image}
	t.Cleanup(func() {
		// Stopped by its ID; --rm removes it.
		exec.Command(docker, "rm", "-f", c.ID).Run()
	})
	// No package's service starts (Docker's own Debian images ship this
	// policy-rc.d): the containers share the host's network, and
	// installing nginx would otherwise start it on the host's port 80.
	if out, err := exec.Command(docker, "exec", c.ID, "sh", "-c",
		"printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d").CombinedOutput(); err != nil {
		t.Fatalf("policy-rc.d in %s: %v\n%s", image, err, out)
	}
	return c
}

// aptSlot is a download directory of its own under dir for one
// container, held (flock) until the test ends: apt locks its archive
// directory, so containers running at once, in this test binary or
// another, must not share one; kept between runs, they fill once.
func aptSlot(t testing.TB, dir string) string {
	t.Helper()
	for n := 0; ; n++ {
		slot := filepath.Join(dir, fmt.Sprintf("slot-%d", n))
		if err := os.MkdirAll(filepath.Join(slot, "partial"), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(slot+".lock", os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		t.Cleanup(func() {
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			f.Close()
		})
		return slot
	}
}

// Exec runs argv in the container (as root, with env) and returns its
// combined output and error.
func (c *Container) Exec(ctx context.Context, env []string, argv ...string) (string, error) {
	args := []string{"exec"}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	args = append(append(args, c.ID), argv...)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, c.docker, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Shell runs a /bin/sh script in the container and fails the test when it
// fails.
func (c *Container) Shell(ctx context.Context, script string) string {
	c.t.Helper()
	out, err := c.Exec(ctx, []string{"DEBIAN_FRONTEND=noninteractive"}, "sh", "-ec", script)
	if err != nil {
		c.t.Fatalf("in %s: sh -ec %q: %v\n%s", c.Image, script, err, Tail(out, 40))
	}
	return out
}

// Tail is the last n lines of s, for a failing test's message.
func Tail(s string, n int) string { return lines.Last(s, n) }

var tools struct {
	sync.Mutex
	built map[string]*toolBuild
}

type toolBuild struct {
	once sync.Once
	path string
	err  error
}

// ToolBinary builds cmd/nginx-modbuild once per test binary, statically
// (CGO_ENABLED=0), so that it runs in any container.
func ToolBinary(t testing.TB) string {
	t.Helper()
	return ToolBinaryFor(t, runtime.GOARCH)
}

// ToolBinaryFor is ToolBinary for the architecture goarch (GOARCH's
// names: amd64, arm64), once per test binary: the arm64 image's cells
// run it under qemu-user.
func ToolBinaryFor(t testing.TB, goarch string) string {
	t.Helper()
	tools.Lock()
	if tools.built == nil {
		tools.built = map[string]*toolBuild{}
	}
	tb := tools.built[goarch]
	if tb == nil {
		tb = &toolBuild{}
		tools.built[goarch] = tb
	}
	tools.Unlock()
	tb.once.Do(func() {
		dir, err := os.MkdirTemp("", "nginx-modbuild-bin-")
		if err != nil {
			tb.err = err
			return
		}
		tb.path = filepath.Join(dir, "nginx-modbuild")
		cmd := exec.Command("go", "build", "-trimpath", "-o", tb.path, "./cmd/nginx-modbuild")
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOARCH="+goarch)
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.err = fmt.Errorf("GOARCH=%s go build ./cmd/nginx-modbuild: %v\n%s", goarch, err, out)
		}
	})
	if tb.err != nil {
		t.Fatal(tb.err)
	}
	return tb.path
}

// LoadModules installs image's own nginx package (and extra packages,
// the libraries the modules link) in a fresh container of image, with
// dir mounted at /dist, loads files (in dir, in that order) with nothing
// else enabled (a config of its own), runs nginx -t, and serves conf (a
// server{}-level snippet) on a loopback port. It returns nginx -t's output
// and, when nginx -t passed, the answer to GET each path as "status body".
func LoadModules(t testing.TB, image, dir string, files, extra []string, conf string, paths ...string) (string, map[string]string) {
	t.Helper()
	c := StartContainer(t, image, Mount{Host: dir, Container: "/dist", ReadOnly: true})
	ctx := context.Background()
	c.Shell(ctx, "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends nginx "+strings.Join(extra, " ")+" >/dev/null")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	var b strings.Builder
	for _, f := range files {
		if !filepath.IsAbs(f) {
			f = "/dist/" + f // a file of dir; an absolute path is the image's own
		}
		b.WriteString("load_module " + f + ";\n")
	}
	b.WriteString(`error_log /tmp/t/error.log;
pid /tmp/t/nginx.pid;
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:` + port + `;
` + conf + `
    }
}
`)
	c.Shell(ctx, "mkdir -p /tmp/t && cat > /tmp/t/nginx.conf <<'EOF'\n"+b.String()+"EOF\n")
	out, err := c.Exec(ctx, nil, "nginx", "-t", "-c", "/tmp/t/nginx.conf")
	if err != nil {
		return out, nil
	}
	c.Shell(ctx, "nginx -c /tmp/t/nginx.conf")
	defer c.Exec(ctx, nil, "nginx", "-c", "/tmp/t/nginx.conf", "-s", "stop")
	answers := map[string]string{}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, path := range paths {
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := client.Get("http://127.0.0.1:" + port + path)
			if err == nil {
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				answers[path] = strconv.Itoa(resp.StatusCode) + " " + string(body)
				break
			}
			if time.Now().After(deadline) {
				answers[path] = "no answer: " + err.Error()
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return out, answers
}

// MadeImage is an image made here from base by script (run with sh in a
// container of base, with mounts), committed as repo:<hash of base and
// script> and kept between runs as scripts/images keeps its own: the
// second run reuses it. It returns the image's name.
func MadeImage(t testing.TB, base, repo, script string, mounts ...Mount) string {
	t.Helper()
	docker := Docker(t)
	sum := sha256.Sum256([]byte(base + "\x00" + script))
	name := repo + ":" + hex.EncodeToString(sum[:6])
	if exec.Command(docker, "image", "inspect", name).Run() == nil {
		return name
	}
	c := StartContainer(t, base, mounts...)
	if out, err := c.Exec(context.Background(), nil, "sh", "-c", script); err != nil {
		t.Fatalf("make the image %s from %s: %v\n%s", name, base, err, Tail(out, 30))
	}
	if out, err := exec.Command(docker, "commit", "--change", "CMD [\"sleep\", \"infinity\"]", c.ID, name).CombinedOutput(); err != nil {
		t.Fatalf("docker commit %s: %v\n%s", name, err, out)
	}
	return name
}

// CustomNginx builds issue 31's custom nginx in a Debian container with
// nginx.org's 1.26.3 tarball in /mirror: without --with-compat, with
// --without-http-cache --with-threads --with-debug, installed under
// /opt/nginx as a self-built nginx is; its nginx.conf includes
// conf/modules-enabled/*.conf (where install puts load_module lines) and
// conf/conf.d/*.conf in http{}. It prints nginx -V's last line.
const CustomNginx = `set -e
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends gcc make libc6-dev libpcre2-dev zlib1g-dev >/dev/null
mkdir -p /tmp/custom && tar -xzf /mirror/nginx-1.26.3.tar.gz -C /tmp/custom
cd /tmp/custom/nginx-1.26.3
./configure --prefix=/opt/nginx --without-http-cache --with-threads --with-debug >/tmp/custom/configure.log 2>&1
make -j2 >/tmp/custom/make.log 2>&1 && make install >/dev/null
mkdir -p /opt/nginx/conf/modules-enabled /opt/nginx/conf/conf.d
printf '%s\n' 'include /opt/nginx/conf/modules-enabled/*.conf;' 'events {}' 'http { include /opt/nginx/conf/conf.d/*.conf; }' > /opt/nginx/conf/nginx.conf
rm -rf /tmp/custom
/opt/nginx/sbin/nginx -V 2>&1 | tail -1
`
