package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/nginx-modbuild/nginx-modbuild/internal/install"
	"github.com/nginx-modbuild/nginx-modbuild/internal/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/provenance"
	"github.com/nginx-modbuild/nginx-modbuild/internal/userfile"
)

// bundleSuffix names an attestation beside a file of a --from source.
const bundleSuffix = ".sigstore.json"

// provenanceCheck is install's attestation policy: with --repo, every
// file must be attested by that repository's workflow (--signer-workflow
// narrows it to one) unless --no-provenance; with --from, when
// --signer-repo names who must have built it. nil when nothing is checked.
func (o *installOptions) provenanceCheck(d *Deps) (func(context.Context, install.Source, manifest.Entry) (string, error), error) {
	signer := o.signerRepo
	if signer == "" && o.from == "" {
		signer = o.repo.repo
	}
	switch {
	case o.noProvenance:
		d.logf("WARNING: --no-provenance: nothing proves which workflow built these files; a replaced release would install as the real one")
		return nil, nil
	case signer == "":
		return nil, nil
	}
	roots, err := o.trustedRoots(d)
	if err != nil {
		return nil, err
	}
	policy := provenance.Policy{Repo: signer, Workflow: o.signerWorkflow}
	return func(ctx context.Context, src install.Source, e manifest.Entry) (string, error) {
		bundles, err := o.bundles(ctx, d, src, e, signer)
		if err != nil {
			return "", err
		}
		p, err := provenance.VerifyAny(bundles, e.SHA256, roots, policy)
		if errors.Is(err, provenance.ErrNone) {
			return "", fmt.Errorf("%w: %s has no attestation for sha256:%s (attest it in the workflow that builds it, or pass --no-provenance)", err, signer, e.SHA256)
		}
		if err != nil {
			return "", err
		}
		return p.Identity, nil
	}, nil
}

// trustedRoots are the Sigstore roots attestations must chain to: the
// --trusted-root file, or Sigstore's public-good root fetched (TUF).
func (o *installOptions) trustedRoots(d *Deps) ([]root.TrustedMaterial, error) {
	if o.trustedRoot != "" {
		data, err := userfile.Read(absIn(d.Dir, o.trustedRoot), 16<<20)
		if err != nil {
			return nil, usagef("install --trusted-root: %v", err)
		}
		roots, err := provenance.TrustedRoot(data)
		if err != nil {
			return nil, usagef("install --trusted-root %s: %v", o.trustedRoot, err)
		}
		return roots, nil
	}
	tr, err := root.FetchTrustedRoot()
	if err != nil {
		return nil, fmt.Errorf("fetch Sigstore's trusted root (offline?): %w; give --trusted-root FILE (gh attestation trusted-root > FILE) or --no-provenance", err)
	}
	return []root.TrustedMaterial{tr}, nil
}

// bundles are the attestations of e: from the signer repository's
// attestations on GitHub for a release, else the bundle file beside it.
func (o *installOptions) bundles(ctx context.Context, d *Deps, src install.Source, e manifest.Entry, signer string) ([][]byte, error) {
	if _, ok := src.(*install.Release); ok {
		gh, err := d.GitHub()
		if err != nil {
			return nil, err
		}
		owner, name, _ := strings.Cut(signer, "/")
		return provenance.Fetch(ctx, gh.Client, d.HTTP, owner, name, e.SHA256)
	}
	b, err := src.File(ctx, e.File+bundleSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return [][]byte{b}, nil
}
