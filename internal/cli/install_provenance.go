package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/manifest"
	"github.com/nginx-modbuild/nginx-modbuild/internal/host/install"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/provenance"
)

// bundleSuffix names an attestation beside a file of a --from source.
const bundleSuffix = ".sigstore.json"

// signer is who must have attested what install installs: --signer-repo,
// else the release's repository (--repo, given or $GITHUB_REPOSITORY)
// for a release, and a --repo given with --from; "" for a --from source
// nobody is named for.
func (o *installOptions) signer() string {
	switch {
	case o.signers.repo != "":
		return o.signers.repo
	case o.from == "" || o.repoSet:
		return o.repo.repo
	}
	return ""
}

// provenanceCheck is install's attestation policy: every file must be
// attested by the signer's workflow (--signer-workflow narrows it to
// one) unless --no-provenance. nil when nothing is checked.
func (o *installOptions) provenanceCheck(d *Deps) (func(context.Context, install.Source, manifest.Entry) (string, error), error) {
	signer := o.signer()
	switch {
	case o.noProvenance:
		d.logf("WARNING: --no-provenance: nothing proves which workflow built these files; a replaced release would install as the real one")
		return nil, nil
	case signer == "":
		return nil, nil
	}
	verify, err := o.signers.verifier(d, "install", signer)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, src install.Source, e manifest.Entry) (string, error) {
		id, err := verify(ctx, e.SHA256, func(ctx context.Context) ([][]byte, error) { return o.bundles(ctx, d, src, e, signer) })
		if errors.Is(err, provenance.ErrNone) {
			return "", fmt.Errorf("%w (attest it in the workflow that builds it, or pass --no-provenance)", err)
		}
		return id, err
	}, nil
}

// bundles are the attestations of e: from the signer repository's
// attestations on GitHub for a release, else the bundle file beside it.
func (o *installOptions) bundles(ctx context.Context, d *Deps, src install.Source, e manifest.Entry, signer string) ([][]byte, error) {
	if _, ok := src.(*install.Release); ok {
		return apiBundles(d, signer, e.SHA256)(ctx)
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
