package install

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/host/nginxconf"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
)

// Layout is how a host's nginx.conf loads modules.
type Layout struct {
	// Style is "debian" (modules-enabled/NN-mod-*.conf links to
	// modules-available), "dir" (a directory of *.conf snippets included
	// at the top: Alpine's /etc/nginx/modules, RHEL's
	// /usr/share/nginx/modules) or "" (no such include: print the lines).
	Style string
	// Dir is where the snippets the config includes are (modules-enabled
	// for debian); Available, for debian, where the links point.
	Dir, Available string
}

// DetectLayout reads the main configuration for a top-level include of a
// modules snippet directory.
func DetectLayout(conf string) (Layout, error) {
	data, err := userfile.Read(conf, nginxconf.MaxFile)
	if err != nil {
		return Layout{}, fmt.Errorf("read %s: %w", conf, err)
	}
	stmts, err := nginxconf.Parse(conf, data)
	if err != nil {
		return Layout{}, err
	}
	for _, s := range stmts {
		if s.Name != "include" || len(s.Args) != 1 || !strings.HasSuffix(s.Args[0], "*.conf") {
			continue
		}
		dir := filepath.Dir(s.Args[0])
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(filepath.Dir(conf), dir)
		}
		switch filepath.Base(dir) {
		case "modules-enabled":
			return Layout{Style: "debian", Dir: dir, Available: filepath.Join(filepath.Dir(dir), "modules-available")}, nil
		case "modules":
			return Layout{Style: "dir", Dir: dir}, nil
		}
	}
	return Layout{}, nil
}

// snippet is a module's load_module file in a modules directory: its
// name as Debian names its own (manifest.SnippetName) and its text.
func snippet(module, prefix, soPath string) (name, text string) {
	return manifest.SnippetName(module, prefix), "load_module " + soPath + ";\n"
}
