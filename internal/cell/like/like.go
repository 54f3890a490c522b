// Package like turns an nginx binary into a build target: what it says
// of itself (version, module signature, configure arguments, whose nginx
// it is) and the configure arguments a cell uses to build modules that
// load into exactly it. nginx loads a module only when its version and
// NGX_MODULE_SIGNATURE equal the binary's; --with-compat pins many of the
// signature's flags but not all (PCRE, the HTTP cache, the platform's),
// and some of what makes a module misbehave is in no flag at all
// (--with-debug adds a field to ngx_event_conf_t). So the cell configures
// with the binary's own arguments.
package like

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
)

// Target is an nginx binary modules are built for.
type Target struct {
	Path string
	// Nginx is its version ("1.26.3"); Signature its module signature.
	Nginx, Signature string
	// Configure are its configure arguments, as nginx -V prints them,
	// split into words.
	Configure []string
	// Product is whose nginx it is, from its version line: "nginx" for
	// nginx.org's, else a fork's name (freenginx, Angie, openresty).
	Product string
	// SHA256 is the binary's checksum: what a build for it records, and
	// what install on a host running exactly it matches.
	SHA256 string
}

// versionLine is nginx -V's first line as compiled into the binary
// (nginx.c: "nginx version: " NGINX_VER_BUILD): the product and its
// version, e.g. "nginx/1.26.3", "freenginx/1.29.7", "openresty/1.25.3.1".
var versionLine = regexp.MustCompile(`(?:nginx|Angie) version: ([A-Za-z][A-Za-z0-9_.-]*)/([0-9][0-9A-Za-z.]*)`)

// Read reads the binary at path.
func Read(path string) (Target, error) {
	f, err := modinfo.Open(path)
	if err != nil {
		return Target{}, fmt.Errorf("read the target nginx %s: %w", path, err)
	}
	if f.Kind != modinfo.KindExecutable || f.Version == 0 {
		return Target{}, fmt.Errorf("%s is not an nginx binary (no nginx_version in it): give the nginx the modules will load into", path)
	}
	if f.Signature == "" {
		return Target{}, fmt.Errorf("%s: no module signature found in the binary", path)
	}
	words, err := Words(f.Configure)
	if err != nil {
		return Target{}, fmt.Errorf("%s: its configure arguments: %w", path, err)
	}
	t := Target{Path: path, Nginx: f.Nginx(), Signature: f.Signature, Configure: words, Product: "nginx"}
	data, err := os.ReadFile(path)
	if err != nil {
		return Target{}, err
	}
	sum := sha256.Sum256(data)
	t.SHA256 = hex.EncodeToString(sum[:])
	if m := versionLine.FindSubmatch(data); m != nil {
		t.Product = string(m[1])
	} else if bytes.Contains(data, []byte("Angie/")) {
		t.Product = "Angie"
	}
	return t, nil
}

// Fork reports whether the binary is not nginx.org's nginx: its source is
// not nginx.org's tarball of that version.
func (t Target) Fork() bool { return t.Product != "nginx" }

// Words splits configure arguments as nginx records them: words between
// spaces, an argument with spaces single-quoted after its '='
// (auto/options: --with-cc-opt='-g -O2').
func Words(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("an unterminated quote")
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// sourceOptions name a library's source directory on the machine that
// built the binary: not there, and not needed (the library's headers
// and the feature's flag come from the distro's -dev package).
var sourceOptions = []string{"--with-openssl=", "--with-openssl-opt=", "--with-pcre=", "--with-pcre-opt=",
	"--with-zlib=", "--with-zlib-opt=", "--with-libatomic="}

// Args are the configure arguments a cell builds with for t, besides
// --with-compat and its modules: the binary's own --with-*, --without-*,
// paths and compiler options, never its modules (--add-module,
// --add-dynamic-module) or build directory; dropped says what was left
// out and why, for the log.
func (t Target) Args() (args, dropped []string) {
	for _, a := range t.Configure {
		switch {
		case a == "--with-compat":
			// the cell adds it (NoCompat says whether)
		case strings.HasPrefix(a, "--add-module=") || strings.HasPrefix(a, "--add-dynamic-module="):
			dropped = append(dropped, a+" (the binary's own modules: the cell builds its modules)")
		case strings.HasPrefix(a, "--builddir="):
			dropped = append(dropped, a+" (the cell's own)")
		case hasAnyPrefix(a, sourceOptions):
			dropped = append(dropped, a+" (a source directory of the machine that built it; the distro's -dev package serves)")
		case strings.HasPrefix(a, "--with-") && strings.HasSuffix(a, "=dynamic"):
			// nginx's own modules as .so files (Debian's geoip, xslt, mail,
			// stream...): nothing of the signature, and their libraries
			// would have to be installed to configure at all.
			dropped = append(dropped, a+" (one of nginx's own dynamic modules: not needed to build for it)")
		default:
			args = append(args, a)
		}
	}
	return args, dropped
}

// Compat reports whether the binary was configured --with-compat.
func (t Target) Compat() bool {
	for _, a := range t.Configure {
		if a == "--with-compat" {
			return true
		}
	}
	return false
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
