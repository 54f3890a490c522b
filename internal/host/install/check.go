package install

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/host/nginxconf"
)

// Covered is one load_module of the configuration and the build the
// release has for it at the target version (Entry nil: none).
type Covered struct {
	Load    nginxconf.LoadModule
	Modules []string
	Entry   *manifest.Entry
	Why     string
}

// Check reports, for every load_module of the host's configuration,
// whether src has a build for nginx version v on the host's distro and
// arch (or useDistro): the upgrade preflight against a release.
func Check(ctx context.Context, src Source, h *Host, v, useDistro string) ([]Covered, error) {
	m, err := src.Manifest(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Name(), err)
	}
	loads, err := nginxconf.LoadModules(ctx, h.ConfPath)
	if err != nil {
		return nil, err
	}
	var out []Covered
	for _, l := range loads {
		c := Covered{Load: l}
		p := l.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(h.Target.Prefix, p)
		}
		f, err := modinfo.Open(p)
		if err != nil {
			c.Why = err.Error()
			out = append(out, c)
			continue
		}
		for _, mod := range f.Modules {
			c.Modules = append(c.Modules, mod.Name)
		}
		var last error
		for _, name := range c.Modules {
			e, err := Pick(m, Want{Module: name, Nginx: v, Distro: h.Distro, UseDistro: useDistro, Arch: h.Arch, Binary: h.SHA256})
			if err == nil {
				c.Entry = &e
				break
			}
			last = err
		}
		if c.Entry == nil && last != nil {
			c.Why = last.Error()
		}
		out = append(out, c)
	}
	return out, nil
}
