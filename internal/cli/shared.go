package cli

// The helpers more than one command uses: flag sets, the config, the
// repository and release flags, the upstream watch, output.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cell/source"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/config"
	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/upstream"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/fetch"
	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/provenance"
	"github.com/nginx-modbuild/nginx-modbuild/internal/publish/signkey"
)

// flagSet makes a flag set that reports errors as usage errors and prints
// its help to the right writer.
func flagSet(d *Deps, name, args, desc string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(d.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: nginx-modbuild %s %s\n\n%s.\n\n", name, args, desc)
		if h := longHelp(name); h != "" {
			fmt.Fprintf(fs.Output(), "%s\n\n", h)
		}
		fmt.Fprintf(fs.Output(), "Flags:\n")
		fs.PrintDefaults()
		if ex := commandExamples[name]; ex != "" {
			fmt.Fprintf(fs.Output(), "\nExamples:\n%s\n", ex)
		}
	}
	return fs
}

func parse(fs *flag.FlagSet, d *Deps, args []string) error {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(d.Stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
}

// noArgs refuses positional arguments for a command that takes none.
func noArgs(cmd string, args []string) error {
	if len(args) > 0 {
		return usagef("%s: unexpected argument %q", cmd, args[0])
	}
	return nil
}

// renamed is an old spelling of a flag: it still sets the new one, with
// a notice saying what to write instead.
type renamed struct {
	to       *string
	old, now string
	w        io.Writer
}

func (r renamed) String() string {
	if r.to == nil {
		return ""
	}
	return *r.to
}

func (r renamed) Set(v string) error {
	fmt.Fprintf(r.w, "warning: %s is deprecated here: use %s (--nginx now always means an nginx version)\n", r.old, r.now)
	*r.to = v
	return nil
}

// pathList is a flag given once per path (--built a --built b), or with
// paths separated by commas.
type pathList []string

func (l *pathList) String() string { return strings.Join(*l, ",") }

func (l *pathList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// configFlag is the --config flag of the commands that read the config.
type configFlag struct{ path string }

func (c *configFlag) register(fs *flag.FlagSet) {
	fs.StringVar(&c.path, "config", "", "config file (default "+config.DefaultPath+" in the repository)")
}

func (c *configFlag) load(d *Deps) (*config.Config, error) {
	return config.Load(d.Dir, absIn(d.Dir, c.path))
}

// loadModules loads the config and insists it names modules to build.
func (c *configFlag) loadModules(d *Deps) (*config.Config, error) {
	cfg, err := c.load(d)
	if err != nil {
		return nil, err
	}
	if len(cfg.Modules) == 0 {
		return nil, &config.Error{File: configName(cfg), Msg: "no modules to build: add modules: [{path: ...}] to " +
			config.DefaultPath + ", or run in a module's directory (one with an nginx module config file)"}
	}
	return cfg, nil
}

// configName names the config in messages.
func configName(cfg *config.Config) string {
	if cfg.File != "" {
		return cfg.File
	}
	return "(default config)"
}

// sources are the config's module sources, in order.
func sources(cfg *config.Config) []string {
	var out []string
	for _, m := range cfg.Modules {
		out = append(out, m.ID())
	}
	return out
}

// absIn makes a path the user gave absolute against dir ("" stays "").
func absIn(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// cacheDir is where ETags and downloads are kept between runs.
func cacheDir(d *Deps) string {
	if c := d.Getenv("NGINX_MODBUILD_CACHE"); c != "" {
		return c
	}
	for _, k := range []string{"XDG_CACHE_HOME", "RUNNER_TOOL_CACHE"} {
		if c := d.Getenv(k); c != "" {
			return filepath.Join(c, "nginx-modbuild")
		}
	}
	if h := d.Getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache", "nginx-modbuild")
	}
	return ""
}

// cacheOrTemp is the cache directory, or one under the temp dir.
func cacheOrTemp(dir string) string {
	if dir == "" {
		return filepath.Join(os.TempDir(), "nginx-modbuild-cache")
	}
	return dir
}

// repoFlags name the repository and release a command works on.
type repoFlags struct {
	repo, tag string
}

func (r *repoFlags) register(fs *flag.FlagSet, d *Deps) {
	r.registerRepo(fs, d)
	fs.StringVar(&r.tag, "tag", "", "the release's tag (default the latest release)")
}

func (r *repoFlags) registerRepo(fs *flag.FlagSet, d *Deps) {
	fs.StringVar(&r.repo, "repo", d.Workflow.Repository(), "the repository, owner/name (default $GITHUB_REPOSITORY)")
}

func (r *repoFlags) split() (owner, name string, err error) {
	owner, name, ok := strings.Cut(r.repo, "/")
	if !ok || !repoPart.MatchString(owner) || !repoPart.MatchString(name) {
		return "", "", usagef("--repo %s: want owner/name (or run in GitHub Actions, which sets GITHUB_REPOSITORY)", quoteShort(r.repo))
	}
	if err := checkTag("--tag", r.tag); err != nil {
		return "", "", err
	}
	return owner, name, nil
}

var (
	repoPart = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
	tagChars = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}$`)
)

// checkTag refuses a release tag that git would not take or that reads
// as something else: a leading '-', "..", "//", a trailing '/' or ".lock",
// or characters outside letters, digits and . _ / + -. Empty is allowed
// (the latest release).
func checkTag(flag, tag string) error {
	if tag == "" {
		return nil
	}
	if !tagChars.MatchString(tag) || strings.Contains(tag, "..") || strings.Contains(tag, "//") ||
		strings.HasSuffix(tag, "/") || strings.HasSuffix(tag, ".lock") {
		return usagef("%s %s: not a release tag (letters, digits, '.', '_', '/', '+' and '-', starting with a letter or digit, no '..')", flag, quoteShort(tag))
	}
	return nil
}

// quoteShort quotes a user's value for an error message, cut to 60 bytes.
func quoteShort(s string) string {
	if len(s) > 60 {
		return fmt.Sprintf("%q... (%d bytes)", s[:60], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// watchFlags are the flags that choose where nginx releases come from.
type watchFlags struct {
	upstream, upstreamURL, mirror, cacheDir string
	upstreamSet                             bool
}

func (w *watchFlags) register(fs *flag.FlagSet, d *Deps) {
	fs.StringVar(&w.upstream, "upstream", "github", "where to read nginx releases: github (tags of nginx/nginx) or nginx.org (download index)")
	fs.StringVar(&w.upstreamURL, "upstream-url", "", "override the upstream's URL: the GitHub API base, or the download index with --upstream nginx.org")
	fs.StringVar(&w.mirror, "mirror", upstream.DefaultIndexURL, "nginx download mirror, a URL or a local directory; its index is the fallback when GitHub fails")
	fs.StringVar(&w.cacheDir, "cache-dir", cacheDir(d), "cache directory (ETags of upstream answers)")
	markSet(fs, "upstream", &w.upstreamSet)
}

// fetch reads nginx's releases. The token goes only to the API host it
// belongs to (ghclient.Credentials.For).
func (w *watchFlags) fetch(ctx context.Context, d *Deps) (upstream.Result, error) {
	mode, err := upstream.ParseMode(w.upstream)
	if err != nil {
		return upstream.Result{}, usagef("--upstream: %v", err)
	}
	if _, local := fetch.LocalDir(w.mirror); local && !w.upstreamSet && w.upstreamURL == "" {
		// Offline with a local mirror: its tarballs are the releases; no
		// GitHub request to wait out first.
		mode = upstream.NginxOrg
	}
	o := upstream.Options{Mode: mode, IndexURL: w.mirror, CacheDir: w.cacheDir, HTTP: d.HTTP, Logf: d.logf,
		Token: d.credentials().For(upstream.DefaultAPIURL)}
	switch {
	case w.upstreamURL != "" && mode == upstream.NginxOrg:
		o.IndexURL = w.upstreamURL
	case w.upstreamURL != "":
		o.APIURL, o.Token = w.upstreamURL, d.credentials().For(w.upstreamURL)
	}
	res, err := upstream.Fetch(ctx, o)
	for _, warn := range res.Warnings {
		fmt.Fprintf(d.Stderr, "warning: %s\n", warn)
	}
	if err != nil {
		if source.Unreachable(err) {
			return res, fmt.Errorf("find nginx releases: %w\nneither GitHub nor the download index is reachable (offline?): point --upstream-url (or --upstream nginx.org with --upstream-url) at a reachable copy, or list the versions under nginx.versions and run build with --mirror DIR", err)
		}
		return res, fmt.Errorf("find nginx releases: %w", err)
	}
	d.logf("upstream: %d nginx releases from %s (%d requests, %d not modified)", len(res.Releases), res.Source, res.Requests, res.NotModified)
	return res, nil
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// joinOr joins ss with commas, or says none.
func joinOr(ss []string, none string) string {
	if len(ss) == 0 {
		return none
	}
	return strings.Join(ss, ",")
}

// SigningKeyVar holds the packages' and repositories' signing key
// (armored), as the Action passes its repo-signing-key input: never on a
// command line, and masked in Actions like the token.
const SigningKeyVar = "NGINX_MODBUILD_SIGNING_KEY"

// signingKey reads the OpenPGP private key that signs packages and
// repositories: the file given, else $NGINX_MODBUILD_SIGNING_KEY; nil
// when there is neither.
func signingKey(d *Deps, file string) (*openpgp.Entity, error) {
	armored := []byte(d.Getenv(SigningKeyVar))
	if file != "" {
		var err error
		if armored, err = userfile.Read(absIn(d.Dir, file), 1<<20); err != nil {
			return nil, fmt.Errorf("--signing-key: %w", err)
		}
	}
	if len(armored) == 0 {
		return nil, nil
	}
	return signkey.Read(armored)
}

// signerFlags name who must have attested a file (install, and release
// when it indexes packages): the repository, optionally its workflow,
// and the Sigstore root the attestations chain to.
type signerFlags struct {
	repo, workflow, trustedRoot string
}

func (s *signerFlags) register(fs *flag.FlagSet, repoHelp string) {
	fs.StringVar(&s.repo, "signer-repo", "", repoHelp)
	fs.StringVar(&s.workflow, "signer-workflow", "", "the workflow file (.github/workflows/x.yml) that must have built them")
	fs.StringVar(&s.trustedRoot, "trusted-root", "", "the Sigstore trusted root to verify attestations against (gh attestation trusted-root > FILE; default: fetched)")
}

// checkSigner refuses a verification flag that names no signer: without
// one, nothing would be verified, and the flag would read as if it were.
func (s *signerFlags) checkSigner(cmd, signer string) error {
	if s.repo != "" {
		if owner, name, ok := strings.Cut(s.repo, "/"); !ok || !repoPart.MatchString(owner) || !repoPart.MatchString(name) {
			return usagef("%s --signer-repo %s: want owner/name", cmd, quoteShort(s.repo))
		}
	}
	if signer != "" {
		return nil
	}
	var given []string
	if s.workflow != "" {
		given = append(given, "--signer-workflow")
	}
	if s.trustedRoot != "" {
		given = append(given, "--trusted-root")
	}
	if len(given) > 0 {
		return usagef("%s %s verifies attestations, but no signer is named, so nothing would be: give --signer-repo OWNER/NAME (the repository whose workflow built the files)", cmd, strings.Join(given, " and "))
	}
	return nil
}

// roots are the Sigstore roots attestations must chain to: the
// --trusted-root file, or Sigstore's public-good root fetched (TUF).
func (s *signerFlags) roots(d *Deps, cmd string) ([]root.TrustedMaterial, error) {
	if s.trustedRoot != "" {
		data, err := userfile.Read(absIn(d.Dir, s.trustedRoot), 16<<20)
		if err != nil {
			return nil, usagef("%s --trusted-root: %v", cmd, err)
		}
		roots, err := provenance.TrustedRoot(data)
		if err != nil {
			return nil, usagef("%s --trusted-root %s: %v", cmd, s.trustedRoot, err)
		}
		return roots, nil
	}
	tr, err := root.FetchTrustedRoot()
	if err != nil {
		return nil, fmt.Errorf("fetch Sigstore's trusted root (offline?): %w; give --trusted-root FILE (gh attestation trusted-root > FILE)", err)
	}
	return []root.TrustedMaterial{tr}, nil
}

// verifier checks that signer's workflow attested a SHA-256, with
// bundles from find; it returns who built it.
type verifier func(ctx context.Context, sha256Hex string, find func(context.Context) ([][]byte, error)) (string, error)

func (s *signerFlags) verifier(d *Deps, cmd, signer string) (verifier, error) {
	roots, err := s.roots(d, cmd)
	if err != nil {
		return nil, err
	}
	policy := provenance.Policy{Repo: signer, Workflow: s.workflow}
	return func(ctx context.Context, sum string, find func(context.Context) ([][]byte, error)) (string, error) {
		bundles, err := find(ctx)
		if err != nil {
			return "", err
		}
		p, err := provenance.VerifyAny(bundles, sum, roots, policy)
		if errors.Is(err, provenance.ErrNone) {
			return "", fmt.Errorf("%w: %s has no attestation for sha256:%s", err, signer, sum)
		}
		if err != nil {
			return "", err
		}
		return p.Identity, nil
	}, nil
}

// apiBundles are signer's attestations of a SHA-256 on GitHub.
func apiBundles(d *Deps, signer, sum string) func(context.Context) ([][]byte, error) {
	return func(ctx context.Context) ([][]byte, error) {
		gh, err := d.GitHub()
		if err != nil {
			return nil, err
		}
		owner, name, _ := strings.Cut(signer, "/")
		return provenance.Fetch(ctx, gh.Client, d.HTTP, owner, name, sum)
	}
}

// setFlag records that a flag was given on the command line (its default
// may equal what was given).
type setFlag struct {
	flag.Value
	set *bool
}

func (f setFlag) Set(s string) error { *f.set = true; return f.Value.Set(s) }

// String is the value's; "" for the zero setFlag flag.PrintDefaults
// makes to tell a default from none (install --help panicked on it).
func (f setFlag) String() string {
	if f.Value == nil {
		return ""
	}
	return f.Value.String()
}

func markSet(fs *flag.FlagSet, name string, set *bool) {
	fl := fs.Lookup(name)
	fl.Value = setFlag{fl.Value, set}
}
