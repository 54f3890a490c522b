package distrotest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

// helloContainer is a tool container of image with nginx 1.26.3's
// tarball in /mirror, hello-world in /src and /work/hello.yml building
// it; work and src are the host's directories behind /work and /src.
func helloContainer(t *testing.T, image string) (c *testenv.Container, work, src string) {
	mirror := testenv.Mirror(t, "nginx-1.26.3.tar.gz")
	work = t.TempDir()
	src = filepath.Join(work, "src")
	copyHello(t, filepath.Join(src, "hello-world"))
	writeConfig(t, filepath.Join(work, "hello.yml"), []module{{name: "hello-world"}}, `location = /t { hello_world "hi"; }`, "/t", "")
	return toolContainer(t, image, mirror, src, work), work, src
}

// loadConf is an nginx.conf for the custom nginx that loads one .so and
// serves /t through it.
func loadConf(so string) string {
	return `load_module ` + so + `;
events {}
http { server { listen 127.0.0.1:8097; location = /t { hello_world "through the custom nginx"; } } }
`
}

// TestBuildLikeACustomNginx is issue 31's acceptance for a binary built
// otherwise than nginx.org's and the distros': build --like its path
// builds a .so that loads into it and answers; the same module built the
// version way (--nginx 1.26.3, --with-compat) is refused by that binary
// ("is not binary compatible"), and both the tool's cell (with the
// binary as --target-nginx) and check name bit 32 (the HTTP cache) and
// bit 34 (--with-compat) first.
func TestBuildLikeACustomNginx(t *testing.T) {
	ctx := context.Background()
	c, _, _ := helloContainer(t, "debian:12")
	if out, err := c.Exec(ctx, nil, "sh", "-c", testenv.CustomNginx); err != nil || strings.Contains(out, "--with-compat") {
		t.Fatalf("the custom nginx: %v\n%s", err, testenv.Tail(out, 20))
	}
	const bin = "/opt/nginx/sbin/nginx"

	// For the binary.
	out, err := build(c, "hello.yml", "", "debian-12", "like", "--like", bin)
	if err != nil || !strings.Contains(out, "without --with-compat, as it is") || !strings.Contains(out, "the target nginx's, in 1 .so") {
		t.Fatalf("build --like: %v\n%s", err, testenv.Tail(out, 40))
	}
	c.Shell(ctx, "mkdir -p /tmp/like && cat > /tmp/like/nginx.conf <<'EOF'\n"+loadConf("/work/like/ngx_http_hello_world_module_1.26.3.so")+"EOF")
	if out, err := c.Exec(ctx, nil, bin, "-t", "-c", "/tmp/like/nginx.conf"); err != nil {
		t.Fatalf("the custom nginx refuses the --like build: %v\n%s", err, out)
	}
	answer := c.Shell(ctx, bin+" -c /tmp/like/nginx.conf && sleep 0.5 && (command -v curl >/dev/null || apt-get install -y -q curl >/dev/null) && curl -fsS http://127.0.0.1:8097/t; "+bin+" -c /tmp/like/nginx.conf -s stop")
	if !strings.Contains(answer, "through the custom nginx") {
		t.Errorf("a request through the module: %s", answer)
	}

	// The version way: the binary refuses it, and the tool said why first.
	out, err = build(c, "hello.yml", "1.26.3", "debian-12", "version", "--target-nginx", bin)
	if err == nil || !strings.Contains(out, "bit 32 NGX_HTTP_CACHE") || !strings.Contains(out, "bit 34 NGX_COMPAT") || !strings.Contains(out, "(signature)") {
		t.Errorf("the version-way cell with the binary as target did not name bits 32 and 34:\n%s", testenv.Tail(out, 30))
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "FAILED") {
			t.Logf("the cell: %s", l)
		}
	}
	out, _ = build(c, "hello.yml", "1.26.3", "debian-12", "version", "--target-nginx", "none")
	c.Shell(ctx, "mkdir -p /tmp/version && cat > /tmp/version/nginx.conf <<'EOF'\n"+loadConf("/work/version/ngx_http_hello_world_module_1.26.3.so")+"EOF")
	nginxSays, err := c.Exec(ctx, nil, bin, "-t", "-c", "/tmp/version/nginx.conf")
	if err == nil || !strings.Contains(nginxSays, "is not binary compatible") {
		t.Errorf("the custom nginx loaded the version-way build: %v\n%s\n(build: %s)", err, nginxSays, testenv.Tail(out, 10))
	}
	check, err := c.Exec(ctx, nil, "nginx-modbuild", "check", "--conf", "/tmp/version/nginx.conf", "--nginx-binary", bin)
	if err == nil || !strings.Contains(check, "bit 32 NGX_HTTP_CACHE") || !strings.Contains(check, "bit 34 NGX_COMPAT") || !strings.Contains(check, "is not binary compatible") {
		t.Errorf("check:\n%s", check)
	}
	t.Logf("nginx -t: %s", strings.TrimSpace(testenv.Tail(nginxSays, 2)))
	t.Logf("check:\n%s", check)
}

// TestOperatorBuildsForItsNginx is issue 31's operator acceptance, in a
// bare Debian 13 with only Debian's nginx (and the tool): build --like
// /usr/sbin/nginx --install-deps --module git:<a local repository>@v1 (no
// config of the module's: only the tarball pins this machine's mirror
// needs), then install --from dist puts it under that nginx, and a
// request through the module answers.
func TestOperatorBuildsForItsNginx(t *testing.T) {
	mirror := testenv.Mirror(t, "nginx-1.26.3.tar.gz")
	git := testenv.Tool(t, "git", "git")
	ctx := context.Background()
	work := t.TempDir()
	repo := filepath.Join(work, "hello")
	copyHello(t, repo)
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"},
		{"-c", "user.email=op@example.com", "-c", "user.name=op", "commit", "-qm", "hello"}, {"tag", "v1"}} {
		if out, err := exec.Command(git, append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	os.WriteFile(filepath.Join(work, "pins.yml"), []byte("nginx:\n  sha256:\n"+pinnedSHA256), 0o644)
	c := toolContainer(t, "debian:13", mirror, t.TempDir(), work)
	c.Shell(ctx, "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends nginx >/dev/null && nginx -v")
	out, err := c.Exec(ctx, nil, "sh", "-c", "cd / && nginx-modbuild build --like /usr/sbin/nginx --install-deps --module git:file:///work/hello@v1 "+
		"--config /work/pins.yml --mirror /mirror --out /work/dist --cache-dir /work/cache")
	if err != nil || !strings.Contains(out, "the target nginx's, in 1 .so") {
		t.Fatalf("build --like: %v\n%s", err, testenv.Tail(out, 40))
	}
	out, err = c.Exec(ctx, nil, "nginx-modbuild", "install", "--from", "/work/dist", "--no-provenance", "hello_world")
	if err != nil {
		t.Fatalf("install --from dist: %v\n%s", err, testenv.Tail(out, 20))
	}
	answer := c.Shell(ctx, "printf '%s\\n' 'server { listen 127.0.0.1:8098; location = /t { hello_world \"built for this nginx\"; } }' > /etc/nginx/conf.d/hello.conf && "+
		"nginx -t 2>&1 && nginx && sleep 0.5 && (command -v curl >/dev/null || apt-get install -y -q --no-install-recommends curl >/dev/null) && curl -fsS http://127.0.0.1:8098/t; nginx -s stop")
	if !strings.Contains(answer, "built for this nginx") {
		t.Errorf("a request through the module:\n%s", answer)
	}
}

// TestBuildLikeDebiansNginx is issue 31's Debian acceptance: in bare
// Debian 11, 12 and 13 containers with their own nginx, build --like
// /usr/sbin/nginx --install-deps of hello-world and that release's echo
// builds from nginx-dev's patched tree with its conf_flags where the
// release has them (12 and 13; 11 has no nginx-dev: nginx.org's tarball,
// the binary's arguments), says which, gives every .so the binary's
// signature, and Debian's nginx loads them all and answers through echo.
// Their .deb packages depend on the ABI of the tree's abisubstvars and
// install beside Debian's nginx.
func TestBuildLikeDebiansNginx(t *testing.T) {
	mirror := testenv.Mirror(t, "nginx-1.18.0.tar.gz")
	for _, r := range []struct{ image, distro, echo, from, depends string }{
		{"debian:11", "debian-11", "", "building nginx.org's nginx-1.18.0.tar.gz", "nginx (>= 1.18.0), nginx (<< 1.18.1~)"},
		{"debian:12", "debian-12", "debian-12/libnginx-mod-http-echo_0.63.orig.tar.gz", "built from Debian's nginx-dev 1.22.1", "nginx-abi-1.22.1-7"},
		{"debian:13", "debian-13", "debian-13/libnginx-mod-http-echo_0.63.orig.tar.gz", "built from Debian's nginx-dev 1.26.3", "nginx-abi-1.26.3-1"},
	} {
		t.Run(r.distro, func(t *testing.T) {
			ctx := context.Background()
			work := t.TempDir()
			src := filepath.Join(work, "src")
			copyHello(t, filepath.Join(src, "hello-world"))
			mods := []module{{name: "hello-world"}}
			conf := `location = /t { hello_world "hi"; }`
			if r.echo != "" {
				extract(t, filepath.Join(mirror, r.echo), filepath.Join(src, "echo-src"))
				os.Rename(configDir(t, filepath.Join(src, "echo-src")), filepath.Join(src, "echo"))
				mods = append(mods, module{name: "echo"})
				conf += "\n" + echoConf
			}
			writeConfig(t, filepath.Join(work, "mods.yml"), mods, conf, "/t", "")
			c := toolContainer(t, r.image, mirror, src, work)
			c.Shell(ctx, "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends nginx >/dev/null")
			out, err := build(c, "mods.yml", "", r.distro, "dist", "--like", "/usr/sbin/nginx", "--packages")
			if err != nil || !strings.Contains(out, r.from) ||
				!strings.Contains(out, fmt.Sprintf("the target nginx's, in %d .so", len(mods))) {
				t.Fatalf("build --like: %v\n%s", err, testenv.Tail(out, 40))
			}
			m, err := manifest.Read(filepath.Join(work, "dist", manifest.CellFileName(map[string]string{"debian-11": "1.18.0", "debian-12": "1.22.1", "debian-13": "1.26.3"}[r.distro], r.distro, "amd64")))
			if err != nil || len(m.Entries) != 2*len(mods) {
				t.Fatalf("the cell manifest: %v %+v", err, m)
			}
			// The .deb depends on the ABI the tree's abisubstvars names
			// (Debian 11: no tree, the version range), and apt installs it
			// beside the release's nginx.
			var debs []string
			for _, e := range m.Entries {
				if e.Kind == "deb" {
					debs = append(debs, "/work/dist/"+e.File)
				}
			}
			m.Entries = slices.DeleteFunc(m.Entries, func(e manifest.Entry) bool { return e.Kind != "" })
			if got := strings.TrimSpace(c.Shell(ctx, "dpkg-deb -f "+debs[0]+" Depends")); got != r.depends {
				t.Errorf("%s: the .deb depends on %q, want %q", r.distro, got, r.depends)
			}
			if out, err := c.Exec(ctx, nil, "sh", "-c", "apt-get install -y -q "+strings.Join(debs, " ")+" 2>&1 && dpkg --audit"); err != nil {
				t.Errorf("%s: apt-get install the .debs: %v\n%s", r.distro, err, testenv.Tail(out, 15))
			}
			t.Logf("%s: %s", r.distro, m.Cells[0].Verified)
			paths := []string{"/t"}
			if r.echo != "" {
				paths = append(paths, "/echo")
			}
			nginxT, answers := loadInto(t, r.image, filepath.Join(work, "dist"), *m, nil, conf, paths...)
			if strings.TrimSpace(answers["/t"]) != "200 hi" || r.echo != "" && strings.TrimSpace(answers["/echo"]) != "200 hello from echo" {
				t.Errorf("Debian's nginx: %s\n%v", nginxT, answers)
			}
		})
	}
}

// forkSource is a fork made here, for when no fork's own source is at
// hand (NGINX_MODBUILD_FORK_SRC names one: a freenginx checkout): nginx
// 1.26.3 renamed as freenginx names itself (NGINX_NAME, "testfork/1.26.3"
// in nginx -V) and with a field of its own at the head of
// ngx_http_request_t, as forks' structs differ from nginx's.
const forkSource = `set -e
mkdir -p /src/fork && tar -xzf /mirror/nginx-1.26.3.tar.gz -C /src/fork --strip-components=1
cd /src/fork
perl -0pi -e 's|#define NGINX_VER          "nginx/" NGINX_VERSION|#define NGINX_NAME         "testfork"\n#define NGINX_VER          NGINX_NAME "/" NGINX_VERSION|' src/core/nginx.h
perl -0pi -e 's/(struct ngx_http_request_s \{\n\s+uint32_t\s+signature;[^\n]*\n)/$1    void                             *fork_only;\n/' src/http/ngx_http_request.h
grep -q testfork src/core/nginx.h && grep -q fork_only src/http/ngx_http_request.h
`

// forkNginx builds the fork in /src/fork from its own source into
// /opt/fork, as its operators do (a checkout's configure is
// auto/configure).
const forkNginx = `set -e
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends gcc make libc6-dev libpcre2-dev zlib1g-dev libssl-dev perl >/dev/null
rm -rf /tmp/forkbuild && cp -a /src/fork /tmp/forkbuild && cd /tmp/forkbuild
conf=./configure; [ -x "$conf" ] || conf=auto/configure
$conf --prefix=/opt/fork --with-compat --with-threads --with-http_ssl_module >/tmp/fork-configure.log 2>&1
make -j2 >/tmp/fork-make.log 2>&1 && make install >/dev/null
/opt/fork/sbin/nginx -V 2>&1 | head -1
`

// TestBuildLikeAFork is issue 31's fork acceptance: for a fork's binary
// built from its own source, build --like refuses nginx.org's tarball
// naming the fork and what to give, and --source (the fork's tree)
// builds a .so with the binary's signature that loads into it and
// answers through it.
func TestBuildLikeAFork(t *testing.T) {
	ctx := context.Background()
	c, work, src := helloContainer(t, "debian:13")
	if fork := os.Getenv("NGINX_MODBUILD_FORK_SRC"); fork != "" {
		if out, err := exec.Command("cp", "-a", fork, filepath.Join(src, "fork")).CombinedOutput(); err != nil {
			t.Fatalf("NGINX_MODBUILD_FORK_SRC: %v\n%s", err, out)
		}
	} else if out, err := c.Exec(ctx, nil, "sh", "-c", forkSource); err != nil {
		t.Fatalf("make the fork: %v\n%s", err, out)
	}
	version, err := c.Exec(ctx, nil, "sh", "-c", forkNginx)
	if err != nil || strings.Contains(version, "nginx version: nginx/") {
		t.Fatalf("the fork's nginx: %v\n%s", err, version)
	}
	version = strings.TrimSpace(testenv.Tail(version, 1)) // apt's words before it
	product, ver, _ := strings.Cut(strings.TrimPrefix(version, "nginx version: "), "/")
	t.Logf("the fork: %s %s", product, ver)
	const bin = "/opt/fork/sbin/nginx"

	out, err := build(c, "hello.yml", "", "debian-13", "refused", "--like", bin)
	if code := exitCode(err); code != 2 || !strings.Contains(out, "that binary is "+product+" "+ver+", not nginx.org's nginx") ||
		!strings.Contains(out, "Give "+product+"'s own source") || !strings.Contains(out, "--source DIR") {
		t.Fatalf("build --like the fork without its source: exit %d\n%s", code, testenv.Tail(out, 10))
	}

	out, err = build(c, "hello.yml", "", "debian-13", "fork", "--like", bin, "--source", "/src/fork")
	if err != nil || !strings.Contains(out, "built from "+product+" "+ver+" source directory /src/fork") || !strings.Contains(out, "the target nginx's, in 1 .so") {
		t.Fatalf("build --like the fork --source: %v\n%s", err, testenv.Tail(out, 40))
	}
	so := fmt.Sprintf("/work/fork/ngx_http_hello_world_module_%s.so", ver)
	c.Shell(ctx, "mkdir -p /tmp/fork && cat > /tmp/fork/nginx.conf <<'EOF'\n"+strings.ReplaceAll(loadConf(so), "the custom nginx", "the fork")+"EOF")
	if out, err := c.Exec(ctx, nil, bin, "-t", "-c", "/tmp/fork/nginx.conf"); err != nil {
		t.Fatalf("the fork refuses its build: %v\n%s", err, out)
	}
	answer := c.Shell(ctx, bin+" -c /tmp/fork/nginx.conf && sleep 0.5 && (command -v curl >/dev/null || apt-get install -y -q --no-install-recommends curl >/dev/null) && curl -fsS http://127.0.0.1:8097/t; "+bin+" -c /tmp/fork/nginx.conf -s stop")
	if !strings.Contains(answer, "through the fork") {
		t.Errorf("a request through the module in the fork: %s", answer)
	}
	m, err := manifest.Read(filepath.Join(work, "fork", manifest.CellFileName(ver, "debian-13", "amd64")))
	if err != nil || !strings.Contains(m.Cells[0].Verified, product+" "+ver+" source directory") {
		t.Errorf("the cell manifest does not say the fork's source: %v %+v", err, m)
	}
}

// exitCode is a command's exit status (0 for nil, -1 when it did not run).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
