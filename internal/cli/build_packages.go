package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/modsrc"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/atomicfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/distro"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/nativepkg"
)

// packageCell makes the native package of every .so a cell built, writes
// each beside the .so and adds it to the cell manifest. They are unsigned:
// build runs module code and holds no key; release signs them.
func packageCell(w io.Writer, cfg *config.Config, d distro.Distro, mods []modsrc.Source, out string, cell *manifest.Manifest, mtime time.Time) error {
	var added []manifest.Entry
	required := manifest.Required(cell.Entries)
	for _, e := range cell.Entries {
		if e.Kind != "" {
			continue
		}
		so, err := userfile.Read(filepath.Join(out, e.File), 256<<20)
		if err != nil {
			return fmt.Errorf("package %s: %w", e.File, err)
		}
		spec := nativepkg.Spec{Module: e.Module, SO: so, Nginx: e.Nginx, Distro: d, Arch: e.Arch, Requires: e.Requires, First: required[e.Module], NginxModules: e.NginxModules, Runtime: e.Runtime,
			Version: cfg.Packages.Version, Maintainer: cfg.Packages.Maintainer, Homepage: cfg.Packages.Homepage,
			License: cfg.Packages.License, Name: cfg.Packages.Name, MTime: mtime, ABI: cell.Cells[0].ABI}
		if spec.Version == "" {
			spec.Version = "0.0.0"
			if c := strings.TrimSuffix(e.Commit, "-dirty"); len(c) >= 7 {
				spec.Version = "0.0.0+git" + c[:7]
			}
		}
		for _, m := range mods {
			if m.ID == e.Source && spec.License == "" {
				spec.License = licenseOf(m.Dir)
			}
		}
		p, err := nativepkg.Build(spec)
		if err != nil {
			return err
		}
		pe := manifest.Entry{Module: e.Module, Source: e.Source, Commit: e.Commit, Identity: e.Identity, Nginx: e.Nginx, Plus: e.Plus,
			Distro: e.Distro, Arch: e.Arch, Target: e.Target, BuiltAt: e.BuiltAt, Requires: e.Requires, NginxModules: e.NginxModules,
			Libraries: e.Libraries, Runtime: e.Runtime, Kind: p.Format, Package: p.Name + "=" + p.Version}
		pe.File = pe.Asset()
		sum := sha256.Sum256(p.Data)
		pe.SHA256 = hex.EncodeToString(sum[:])
		if err := atomicfile.Write(filepath.Join(out, pe.File), p.Data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: %s %s (depends: %s)\n", pe.File, p.Name, p.Version, strings.Join(p.Depends, ", "))
		added = append(added, pe)
	}
	cell.Entries = append(cell.Entries, added...)
	return atomicfile.Write(filepath.Join(out, manifest.CellFileName(cell.Cells[0].Nginx, cell.Cells[0].Distro, cell.Cells[0].Arch)), cell.Encode(), 0o644)
}

// licenseOf names the license in a module directory's LICENSE (or
// COPYING) file, by its text; "" when there is none or it is not known.
func licenseOf(dir string) string {
	for _, n := range []string{"LICENSE", "LICENSE.md", "LICENSE.txt", "COPYING", "COPYRIGHT"} {
		b, err := userfile.Read(filepath.Join(dir, n), 1<<20)
		if err != nil {
			continue
		}
		t := bytes.ToLower(b)
		switch {
		case bytes.Contains(t, []byte("apache license")) && bytes.Contains(t, []byte("version 2.0")):
			return "Apache-2.0"
		case bytes.Contains(t, []byte("gnu general public license")) && bytes.Contains(t, []byte("version 3")):
			return "GPL-3.0-or-later"
		case bytes.Contains(t, []byte("gnu general public license")) && bytes.Contains(t, []byte("version 2")):
			return "GPL-2.0-or-later"
		case bytes.Contains(t, []byte("permission is hereby granted, free of charge")):
			return "MIT"
		case bytes.Contains(t, []byte("redistribution and use in source and binary forms")):
			if bytes.Contains(t, []byte("neither the name")) {
				return "BSD-3-Clause"
			}
			return "BSD-2-Clause"
		}
		return "see " + n
	}
	return ""
}
