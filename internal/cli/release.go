package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/ghclient"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/nativepkg"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/release"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/repos"
)

type releaseOptions struct {
	repo     repoFlags
	dist     string
	dir      string
	repos    bool
	keyFile  string
	key      *openpgp.Entity
	create   bool
	json     bool
	parallel int
	spread   string
	signers  signerFlags
}

func releaseCommand() command {
	return newCommand[releaseOptions]("release", "[--repo owner/name] [--tag v1.2.0 [--create]] [--dist dist] [--parallel 4] [--json] | --dir DIR [--dist dist]",
		"attach built files to a GitHub release (or write them to a directory, as the release would hold them), idempotently, with manifest.json and SHA256SUMS", runRelease)
}

func (o *releaseOptions) flags(fs *flag.FlagSet, d *Deps) {
	o.repo.register(fs, d)
	fs.StringVar(&o.dist, "dist", "dist", "directory of build output (.so files and cell manifests, in any subdirectories)")
	fs.StringVar(&o.dir, "dir", "", "write the release into this directory instead of GitHub: the files, manifest.json, SHA256SUMS and NOTES.md, for a static host (install --from reads it)")
	fs.BoolVar(&o.repos, "repositories", false, "with --dir: also make the signed package repositories of the directory's packages (apt: dists/<distro>/), with the public key beside them")
	fs.StringVar(&o.keyFile, "signing-key", "", "the armored OpenPGP private key file that signs the packages before they are published (build makes them unsigned) and, with --repositories, the repositories (default $"+SigningKeyVar+", the Action's repo-signing-key input)")
	o.signers.register(fs, "with --repositories: index only packages this repository's workflow attested (with the bytes the manifest says); the others are left out and the command fails")
	fs.BoolVar(&o.create, "create", false, "create the release for --tag when there is none")
	fs.IntVar(&o.parallel, "parallel", 4, "concurrent uploads")
	fs.StringVar(&o.spread, "spread", "", "spread the builds over one release per nginx line (line: TAG-nginx-1.26) or version (version: TAG-nginx-1.26.3), with index.json in the release TAG; for more than 1,000 files")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON")
}

func (o *releaseOptions) check(args []string, d *Deps) error {
	if err := noArgs("release", args); err != nil {
		return err
	}
	o.dist = absIn(d.Dir, o.dist)
	if err := o.readKey(d); err != nil {
		return err
	}
	if !o.repos && (o.signers != signerFlags{}) {
		return usagef("release: --signer-repo, --signer-workflow and --trusted-root check the packages --repositories indexes: give --dir DIR --repositories")
	}
	if err := o.signers.checkSigner("release", o.signers.repo); err != nil {
		return err
	}
	if o.dir != "" {
		o.dir = absIn(d.Dir, o.dir)
		if o.create || o.spread != "" {
			return usagef("release --dir: --create and --spread are for GitHub releases")
		}
		return nil
	}
	if o.repos {
		return usagef("release --repositories needs --dir: the repositories are files for a static host")
	}
	if _, _, err := o.repo.split(); err != nil {
		return err
	}
	switch {
	case o.create && o.repo.tag == "":
		return usagef("release: --create needs --tag")
	case o.spread != "" && o.spread != "line" && o.spread != "version":
		return usagef("release: --spread %s: want line or version", quoteShort(o.spread))
	case o.spread != "" && o.repo.tag == "":
		return usagef("release: --spread needs --tag (the index release)")
	}
	return nil
}

func runRelease(ctx context.Context, o *releaseOptions, d *Deps) error {
	res, err := o.publish(ctx, d)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range res.Manifest.Entries {
		names = append(names, e.File)
	}
	assets, err := json.Marshal(nonNil(names))
	if err != nil {
		return err
	}
	d.Workflow.SetOutput("assets", string(assets))
	// What this run built, for the attest job: never the release's whole
	// SHA256SUMS, which holds what earlier runs (or anyone who can write
	// the release) put there.
	d.Workflow.SetOutput("subjects", string(res.Subjects()))
	if o.json {
		return printJSON(d.Stdout, map[string]any{
			"release": res.Release.Tag, "url": res.Release.HTMLURL, "uploaded": nonNil(res.Uploaded),
			"replaced": nonNil(res.Replaced), "unchanged": nonNil(res.Unchanged), "kept": nonNil(res.Kept),
			"wrote": nonNil(res.Wrote),
		})
	}
	releaseSummary(d.Summary, res)
	printRelease(d.Stdout, res)
	return nil
}

// readKey reads the signing key: it signs the packages whenever it is
// given, and the repositories need it.
func (o *releaseOptions) readKey(d *Deps) error {
	key, err := signingKey(d, o.keyFile)
	if err != nil {
		return usagef("release: %v", err)
	}
	if key == nil && o.repos {
		return usagef("release --repositories signs them: give --signing-key FILE or $%s (in the Action: the repo-signing-key input, from a secret)", SigningKeyVar)
	}
	o.key = key
	return nil
}

// publish syncs the GitHub release, or writes the directory.
func (o *releaseOptions) publish(ctx context.Context, d *Deps) (*release.Result, error) {
	ro := release.Options{Tag: o.repo.tag, Create: o.create, Dist: o.dist, Parallel: o.parallel, Spread: o.spread, Logf: d.logf}
	if o.key != nil {
		ro.Sign = func(format string, data []byte, built time.Time) ([]byte, error) {
			if signed, err := nativepkg.Signed(format, data); err != nil || signed {
				return nil, err
			}
			return nativepkg.Sign(format, data, o.key, built)
		}
	}
	if o.dir != "" {
		if o.repos {
			ro.Index = func(m *manifest.Manifest) ([]string, error) { return o.writeRepositories(ctx, d, m) }
		}
		res, err := release.ToDir(o.dir, ro)
		if err != nil {
			return res, fmt.Errorf("release into %s: %w", o.dir, err)
		}
		return res, nil
	}
	owner, name, _ := o.repo.split()
	gh, err := d.GitHub()
	if err != nil {
		return nil, err
	}
	defer func() { d.logf("GitHub API: %d requests", gh.Requests()) }()
	res, err := release.Sync(ctx, &release.API{C: gh, Owner: owner, Repo: name}, ro)
	if err != nil {
		return nil, ghclient.Explain(err, "release "+cmp.Or(o.repo.tag, "(latest)")+" of "+o.repo.repo)
	}
	return res, nil
}

// writeRepositories indexes and signs the directory's packages (m is its
// manifest, under the directory's lock): with --signer-repo, only those
// whose bytes that repository's workflow attested; the others are left
// out, named, and the command fails.
func (o *releaseOptions) writeRepositories(ctx context.Context, d *Deps, m *manifest.Manifest) ([]string, error) {
	var left []string
	if o.signers.repo != "" {
		verify, err := o.signers.verifier(d, "release", o.signers.repo)
		if err != nil {
			return nil, err
		}
		kept := *m
		kept.Entries = nil
		for _, e := range m.Entries {
			switch e.Kind {
			case "deb", "rpm", "apk":
				id, err := verify(ctx, e.SHA256, apiBundles(d, o.signers.repo, e.SHA256))
				if err != nil {
					left = append(left, fmt.Sprintf("%s (%v)", e.File, err))
					continue
				}
				d.logf("%s: attested by %s", e.File, id)
			}
			kept.Entries = append(kept.Entries, e)
		}
		m = &kept
	}
	createrepo, _ := d.Machine.LookPath("createrepo_c")
	wrote, err := repos.Write(ctx, o.dir, m, o.key, repos.Options{CreateRepo: createrepo})
	if err != nil {
		return wrote, fmt.Errorf("package repositories in %s: %w", o.dir, err)
	}
	d.logf("package repositories in %s: %d files written", o.dir, len(wrote))
	if len(left) > 0 {
		return wrote, fmt.Errorf("%d package(s) left out of the repositories in %s, not attested by %s's workflow with these bytes (replaced in the release, or built before it attested): %s",
			len(left), o.dir, o.signers.repo, strings.Join(left, "; "))
	}
	return wrote, nil
}

func printRelease(w io.Writer, res *release.Result) {
	fmt.Fprintf(w, "release %s: %d uploaded, %d replaced, %d unchanged", res.Release.Tag,
		len(res.Uploaded), len(res.Replaced), len(res.Unchanged))
	if len(res.Kept) > 0 {
		fmt.Fprintf(w, ", %d kept from a concurrent run", len(res.Kept))
	}
	if len(res.Wrote) > 0 {
		fmt.Fprintf(w, "; wrote %s", strings.Join(res.Wrote, ", "))
	}
	fmt.Fprintf(w, "\n%s\n", res.Release.HTMLURL)
	for _, n := range append(append([]string{}, res.Uploaded...), res.Replaced...) {
		fmt.Fprintf(w, "  %s\n", n)
	}
}

// releaseSummary writes what the release step did as Markdown: the
// files uploaded, replaced, skipped (already there with the same bytes,
// or another run's) and the cells that failed to build.
func releaseSummary(w io.Writer, res *release.Result) {
	failed := release.FailureTable(res.Cells)
	nFailed := 0
	for _, c := range res.Cells {
		nFailed += len(c.Failures)
	}
	fmt.Fprintf(w, "**Release [%s](%s): %d uploaded, %d replaced, %d skipped (unchanged), %d kept from a concurrent run, %d failed.**\n\n",
		res.Release.Tag, res.Release.HTMLURL, len(res.Uploaded), len(res.Replaced), len(res.Unchanged), len(res.Kept), nFailed)
	list := func(title string, names []string) {
		if len(names) == 0 {
			return
		}
		fmt.Fprintf(w, "<details><summary>%s (%d)</summary>\n\n", title, len(names))
		for _, n := range names {
			fmt.Fprintf(w, "- `%s`\n", n)
		}
		fmt.Fprint(w, "\n</details>\n\n")
	}
	list("Uploaded", res.Uploaded)
	list("Replaced (rebuilt with other bytes)", res.Replaced)
	list("Skipped: already in the release with the same bytes", res.Unchanged)
	list("Kept: another run uploaded them first", res.Kept)
	if failed != "" {
		fmt.Fprintf(w, "**Failed: not built, nothing uploaded for them**\n\n%s\n", failed)
	}
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
