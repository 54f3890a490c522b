package cli

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/nginx-modbuild/nginx-modbuild/internal/elf/modinfo"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/nginxver"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/provenance"
)

// inspected is one file in inspect's JSON output.
type inspected struct {
	Path  string `json:"path"`
	Error string `json:"error,omitempty"`
	*modinfo.File
	// WithCompat says the file was built --with-compat (signature bit
	// 34): it loads into an nginx of exactly its version built otherwise
	// only as far as the other bits agree; it says nothing of the version.
	WithCompat *bool `json:"with_compat,omitempty"`
	// Decoded are the file's signatures by name, with --signature.
	Decoded []decodedSignature `json:"decoded,omitempty"`
}

// decodedSignature is one signature of a file, every position named.
type decodedSignature struct {
	Signature string             `json:"signature"`
	Nginx     string             `json:"nginx"`
	Positions []modinfo.Position `json:"positions"`
}

type inspectOptions struct {
	json, provenance, signature bool
	paths                       []string
}

func inspectCommand() command {
	return newCommand[inspectOptions]("inspect", "[--json] [--signature] [--provenance] FILE...",
		"print the modules in .so files (and nginx binaries): name, nginx version built for, signature; with --provenance, who built the files an attestation bundle names", runInspect)
}

func (o *inspectOptions) flags(fs *flag.FlagSet, _ *Deps) {
	fs.BoolVar(&o.json, "json", false, "print JSON instead of a table")
	fs.BoolVar(&o.signature, "signature", false, "decode each module signature by name: the sizes, then every flag with its macro (bit 23 NGX_PCRE), feature and value, as that nginx version means them")
	fs.BoolVar(&o.provenance, "provenance", false, "the files are attestation bundles (FILE.sigstore.json, or what gh attestation download writes): print the repository, workflow, commit and run that built what they name (read, not verified: install verifies)")
}

func (o *inspectOptions) check(args []string, _ *Deps) error {
	if len(args) == 0 {
		return usagef("inspect: name at least one .so file or nginx binary")
	}
	o.paths = args
	return nil
}

func runInspect(_ context.Context, o *inspectOptions, d *Deps) error {
	if o.provenance {
		return inspectProvenance(o, d)
	}
	var out []inspected
	failed := 0
	for _, p := range o.paths {
		path := absIn(d.Dir, p)
		f, err := modinfo.Open(path)
		item := inspected{Path: p, File: f}
		if err != nil {
			failed++
			item.Error = strings.TrimPrefix(err.Error(), path+": ")
		} else {
			sig := f.Signature
			if sig == "" && len(f.Modules) > 0 {
				sig = f.Modules[0].Signature // a module file's are its modules'
			}
			if s, err := modinfo.ParseSignature(sig); err == nil {
				c := s.Compat()
				item.WithCompat = &c
			}
			if o.signature {
				item.Decoded = decodeSignatures(f)
			}
		}
		out = append(out, item)
	}
	if o.json {
		if err := printJSON(d.Stdout, out); err != nil {
			return err
		}
	} else {
		printInspected(d.Stdout, out)
	}
	if failed > 0 {
		return fmt.Errorf("inspect: %d of %d files are not nginx modules or binaries", failed, len(out))
	}
	return nil
}

func printInspected(w io.Writer, out []inspected) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tMODULE\tBUILT FOR\tSIGNATURE\tWITH-COMPAT")
	for _, it := range out {
		switch {
		case it.Error != "":
			fmt.Fprintf(tw, "%s\t-\t-\t-\t%s\n", it.Path, it.Error)
		case it.Kind == modinfo.KindExecutable:
			fmt.Fprintf(tw, "%s\t(nginx, %d built-in modules)\t%s\t%s\t%s\n", it.Path, len(it.Modules),
				it.Nginx(), cmp.Or(it.Signature, "?"), compatWord(it.Signature))
		default:
			for _, m := range it.Modules {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.Path, m.Name, m.Nginx(), m.Signature, compatWord(m.Signature))
			}
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "(WITH-COMPAT: built --with-compat, signature bit 34. nginx loads a module only of exactly its own version: BUILT FOR must equal the nginx's.)")
	for _, it := range out {
		for _, d := range it.Decoded {
			fmt.Fprintf(w, "\n%s: signature %s (nginx %s)\n", it.Path, d.Signature, d.Nginx)
			for _, p := range d.Positions {
				fmt.Fprintf(w, "  %s\n", p)
			}
		}
	}
}

// decodeSignatures names the positions of each distinct signature in f
// (a binary's, or its modules').
func decodeSignatures(f *modinfo.File) []decodedSignature {
	type sig struct {
		s       string
		version uint64
	}
	var sigs []sig
	if f.Kind == modinfo.KindExecutable {
		sigs = append(sigs, sig{f.Signature, f.Version})
	}
	for _, m := range f.Modules {
		sigs = append(sigs, sig{m.Signature, m.Version})
	}
	var out []decodedSignature
	seen := map[sig]bool{}
	for _, s := range sigs {
		parsed, err := modinfo.ParseSignature(s.s)
		if seen[s] || err != nil {
			continue
		}
		seen[s] = true
		out = append(out, decodedSignature{Signature: s.s, Nginx: nginxver.FromNumber(s.version), Positions: parsed.Decode(s.version)})
	}
	return out
}

func compatWord(sig string) string {
	s, err := modinfo.ParseSignature(sig)
	switch {
	case err != nil:
		return "?"
	case s.Compat():
		return "yes"
	}
	return "no"
}

// inspectProvenance prints who built what, from attestation bundles.
func inspectProvenance(o *inspectOptions, d *Deps) error {
	var out []*provenance.Described
	for _, p := range o.paths {
		data, err := userfile.Read(absIn(d.Dir, p), 16<<20)
		if err != nil {
			return fmt.Errorf("inspect --provenance: %w", err)
		}
		desc, err := provenance.Describe(data)
		if err != nil {
			return fmt.Errorf("inspect --provenance %s: %w", p, err)
		}
		out = append(out, desc)
	}
	if o.json {
		return printJSON(d.Stdout, out)
	}
	for i, desc := range out {
		fmt.Fprintf(d.Stdout, "%s:\n  built by   %s\n  issuer     %s\n", o.paths[i], desc.Identity, desc.Issuer)
		for _, kv := range [][2]string{{"repository", desc.Repository}, {"workflow", desc.Workflow}, {"commit", desc.Commit}, {"run", desc.Run}} {
			if kv[1] != "" {
				fmt.Fprintf(d.Stdout, "  %-10s %s\n", kv[0], kv[1])
			}
		}
		for _, s := range desc.Subjects {
			fmt.Fprintf(d.Stdout, "  subject    %s\n", s)
		}
	}
	return nil
}
