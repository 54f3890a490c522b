package nginxconf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/testing/testenv"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoadModulesDebianLayout follows a Debian-style layout: an include of
// modules-enabled/*.conf (sorted, dotfiles skipped), quoting, comments,
// relative includes from the configuration's directory, and load_module
// lines inside blocks ignored.
func TestLoadModulesDebianLayout(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"nginx.conf": `user www-data;   # comment; with "quotes" and {braces}
worker_processes auto;
include modules-enabled/*.conf;
load_module "modules/ngx_http quoted.so" ;
load_module 'single\'quote.so';
load_module esc\;aped.so;
include  extra.conf;
events { worker_connections 768; }
http {
    include mime.types;
    server { location / { return 200 "load_module x.so;"; } }
}
`,
		"modules-enabled/50-mod-http-echo.conf": "load_module modules/ngx_http_echo_module.so;\n",
		"modules-enabled/10-mod-http-ndk.conf":  "\n\nload_module\n  /usr/lib/nginx/modules/ndk_http_module.so;\n",
		"modules-enabled/.hidden.conf":          "load_module hidden.so;\n",
		"modules-enabled/README":                "not matched\n",
		"extra.conf":                            "#only a comment\nload_module a#b.so;\n",
		"mime.types":                            "types { text/html html; }\n",
	})
	got, err := LoadModules(context.Background(), filepath.Join(dir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "nginx.conf")
	want := []LoadModule{
		{Path: "/usr/lib/nginx/modules/ndk_http_module.so", File: filepath.Join(dir, "modules-enabled/10-mod-http-ndk.conf"), Line: 3},
		{Path: "modules/ngx_http_echo_module.so", File: filepath.Join(dir, "modules-enabled/50-mod-http-echo.conf"), Line: 1},
		{Path: "modules/ngx_http quoted.so", File: main, Line: 4},
		{Path: "single'quote.so", File: main, Line: 5},
		// nginx keeps a backslash before anything but quotes, a
		// backslash, t, r and n (ngx_conf_read_token's copy loop).
		{Path: `esc\;aped.so`, File: main, Line: 6},
		{Path: "a#b.so", File: filepath.Join(dir, "extra.conf"), Line: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestLoadModulesErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		files map[string]string
		want  string
	}{
		"missing include": {map[string]string{"nginx.conf": "include nope.conf;\n"},
			`nginx.conf:1: include "nope.conf": no such file or directory`},
		"unterminated block": {map[string]string{"nginx.conf": "events {\n"},
			`nginx.conf:2: unexpected end of file, expecting "}"`},
		"missing semicolon": {map[string]string{"nginx.conf": "load_module a.so\n"},
			`nginx.conf:2: unexpected end of file, expecting ";" or "}"`},
		"stray brace": {map[string]string{"nginx.conf": "}\n"},
			`nginx.conf:1: unexpected "}"`},
		"two arguments": {map[string]string{"nginx.conf": "load_module a.so b.so;\n"},
			`nginx.conf:1: invalid number of arguments in "load_module" directive`},
		"unterminated quote": {map[string]string{"nginx.conf": "\nload_module \"a.so;\n"},
			`nginx.conf:2: unexpected end of file, unterminated quoted string`},
		"text after quote": {map[string]string{"nginx.conf": "load_module \"a.so\"x;\n"},
			`nginx.conf:1: unexpected "x"`},
		"include cycle": {map[string]string{"nginx.conf": "include a.conf;\n", "a.conf": "include nginx.conf;\n"},
			"includes nested more than 32 deep"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			_, err := LoadModules(context.Background(), filepath.Join(dir, "nginx.conf"))
			var ce *Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestParseDebianConfig parses the nginx.conf Debian ships, when present.
func TestParseDebianConfig(t *testing.T) {
	data, err := os.ReadFile("/etc/nginx/nginx.conf")
	if err != nil {
		testenv.Missing(t, "/etc/nginx/nginx.conf", "apt-get install nginx")
	}
	stmts, err := Parse("/etc/nginx/nginx.conf", data)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range stmts {
		names[s.Name] = true
	}
	if !names["http"] || !names["events"] {
		t.Errorf("top-level directives: %v", names)
	}
}

// FuzzParse: any input parses or fails with an error, never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("load_module modules/x.so;\nevents {}\nhttp { server { location / { return 200 '${x}'; } } }\n"))
	f.Add([]byte(`a "b\"c" 'd' e\;f { g ${h}} ; }`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := Parse("fuzz.conf", data); err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error of type %T: %v", err, err)
			}
		}
	})
}

// Issue 15: hangs and memory. A FIFO include is refused at once, a file
// included twice at each of 30 levels is read 30 times (not 2^30), and a
// 200 GB sparse include is refused by size.
func TestIncludeHostileFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.conf"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"fifo-main.conf": "include fifo.conf;\n"}
	for i := 0; i < 30; i++ {
		files[fmt.Sprintf("level%d.conf", i)] = fmt.Sprintf("include level%d.conf;\ninclude level%d.conf;\n", i+1, i+1)
	}
	files["level30.conf"] = "# the bottom\n"
	files["sparse-main.conf"] = "include sparse.conf;\n"
	write(t, dir, files)
	f, _ := os.Create(filepath.Join(dir, "sparse.conf"))
	f.Truncate(200 << 30)
	f.Close()

	for name, want := range map[string]string{
		"fifo-main.conf":   "fifo.conf: cannot read: " + filepath.Join(dir, "fifo.conf") + " is not a regular file (a FIFO): refused",
		"level0.conf":      "",
		"sparse-main.conf": "over the 16777216-byte limit",
	} {
		done := make(chan error, 1)
		go func() {
			_, err := LoadModules(context.Background(), filepath.Join(dir, name))
			done <- err
		}()
		select {
		case err := <-done:
			if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
				t.Errorf("%s: err %v, want %q", name, err, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: still reading after 20 s", name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := LoadModules(ctx, filepath.Join(dir, "level0.conf")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// FuzzIncludeGraph builds a small include graph from the input (each
// byte pair: a file including another, or loading a module) and reads it:
// it must end, without panics, within the expansion bound.
func FuzzIncludeGraph(f *testing.F) {
	f.Add([]byte{0, 1, 1, 2, 2, 3, 3, 255})
	f.Add([]byte{0, 0})
	f.Add([]byte{0, 1, 0, 1, 1, 2, 1, 2, 2, 200})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64 {
			data = data[:64]
		}
		dir := t.TempDir()
		texts := map[string]string{"c0.conf": ""}
		for i := 0; i+1 < len(data); i += 2 {
			from, to := fmt.Sprintf("c%d.conf", data[i]%8), data[i+1]
			if to >= 200 {
				texts[from] += fmt.Sprintf("load_module m%d.so;\n", to)
			} else {
				texts[from] += fmt.Sprintf("include c%d.conf;\n", to%8)
				if _, ok := texts[fmt.Sprintf("c%d.conf", to%8)]; !ok {
					texts[fmt.Sprintf("c%d.conf", to%8)] = ""
				}
			}
		}
		write(t, dir, texts)
		loads, err := LoadModules(context.Background(), filepath.Join(dir, "c0.conf"))
		if err == nil && len(loads) > maxLoads {
			t.Errorf("%d loads past the bound", len(loads))
		}
	})
}
