package cell

import (
	"slices"
	"testing"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/sysdeps"
)

// TestMissingFiles reads what make printed in a bare Debian 12 for
// nginx-auth-ldap (C) and nginx-opentracing (C++) built together (lines
// as gcc 12, g++ and ld wrote them there): each module's missing files
// are its own, g++ only for the one with .cpp sources.
func TestMissingFiles(t *testing.T) {
	log := `cc -c -fPIC -pipe -O -W -Wall -I src/core -o objs/addon/auth-ldap/ngx_http_auth_ldap_module.o \
	/src/auth-ldap/ngx_http_auth_ldap_module.c
/src/auth-ldap/ngx_http_auth_ldap_module.c:33:10: fatal error: ldap.h: No such file or directory
   33 | #include <ldap.h>
      |          ^~~~~~
compilation terminated.
make[1]: *** [objs/Makefile:1284: objs/addon/auth-ldap/ngx_http_auth_ldap_module.o] Error 1
cc -c -fPIC -pipe -O -W -Wall -I src/core -o objs/addon/src/ngx_http_opentracing_module.o \
	/src/ot/opentracing/src/ngx_http_opentracing_module.cpp
cc: fatal error: cannot execute 'cc1plus': execvp: No such file or directory
compilation terminated.
make[1]: *** [objs/Makefile:1290: objs/addon/src/ngx_http_opentracing_module.o] Error 1
cc -o objs/ngx_http_opentracing_module.so objs/addon/src/ngx_http_opentracing_module.o objs/ngx_http_opentracing_module_modules.o -lstdc++ -lopentracing -shared
/usr/bin/ld: cannot find -lopentracing: No such file or directory
collect2: error: ld returned 1 exit status
make[1]: *** [objs/Makefile:1300: objs/ngx_http_opentracing_module.so] Error 1
/bin/sh: 1: cargo: not found
make[1]: *** [objs/Makefile:1310: objs/nginx_acme/ngx-release/libnginx_acme.a] Error 127
`
	ldap := prepared{Module: Module{Dir: "/src/auth-ldap"}}
	ot := prepared{Module: Module{Dir: "/src/ot/opentracing"}}
	acme := prepared{Module: Module{Dir: "/src/acme"}}
	diags := ParseDiagnostics(log)
	for _, c := range []struct {
		m    prepared
		so   SO
		want []sysdeps.Wanted
	}{
		{ldap, SO{Path: "objs/ngx_http_auth_ldap_module.so", Sources: []string{"/src/auth-ldap/ngx_http_auth_ldap_module.c"}},
			[]sysdeps.Wanted{{Kind: sysdeps.Header, Name: "ldap.h"}}},
		{ot, SO{Path: "objs/ngx_http_opentracing_module.so", Sources: []string{"/src/ot/opentracing/src/ngx_http_opentracing_module.cpp"}},
			[]sysdeps.Wanted{{Kind: sysdeps.Command, Name: "g++"}, {Kind: sysdeps.Lib, Name: "opentracing"}}},
		{acme, SO{Path: "objs/ngx_http_acme_module.so"}, nil},
	} {
		if got := missingFiles(c.m, c.so, log, diags); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.m.Dir, got, c.want)
		}
	}
	for line, want := range map[string]string{
		"/bin/sh: 1: cargo: not found":                               "cargo",
		"./configure: 231: cmake: not found":                         "cmake",
		"auto/rust: line 12: cargo: command not found":               "cargo",
		"make[1]: cargo: No such file or directory":                  "cargo",
		"./configure: error: cargo binary cargo is not found":        "cargo",
		"checking for libinjection ... not found":                    "",
		"Package libfoo was not found in the pkg-config search path": "",
	} {
		if got := missingCommand(line); got != want {
			t.Errorf("missingCommand(%q) = %q, want %q", line, got, want)
		}
	}
}
