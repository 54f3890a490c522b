package cli

import (
	"bytes"
	"embed"
	"flag"
	"fmt"
	"regexp"
	"strings"
)

// helpFiles are each command's long help (help/COMMAND.md), printed by
// --help between its summary and its flags, and the body of its page in
// docs/commands (Docs).
//
//go:embed help/*.md
var helpFiles embed.FS

// longHelp is the command's long help, "" when it has none.
func longHelp(name string) string {
	b, err := helpFiles.ReadFile("help/" + name + ".md")
	if err != nil {
		return ""
	}
	return strings.Trim(string(b), "\n")
}

// commandExamples are each command's EXAMPLES, printed by --help (and help
// COMMAND) after its flags: what a maintainer or an operator types.
var commandExamples = map[string]string{
	"init": `  # In a module's repository: a config and the watch and pull-request workflows
  nginx-modbuild init --pin 1.26.3 --distros debian-12,debian-13`,
	"versions": `  # The nginx versions the config selects, and why each
  nginx-modbuild versions
  # What NGINX Plus R34 is based on
  nginx-modbuild versions --plus R34`,
	"plan": `  # The strategy.matrix of builds (in Actions: the matrix output)
  nginx-modbuild plan
  # Only what the latest release does not hold yet
  nginx-modbuild plan --built manifest.json`,
	"build": `  # The module in this directory against two nginx versions, into dist/
  nginx-modbuild build --nginx 1.26.3,1.28.0
  # For the nginx this host runs: its version, arguments and signature
  sudo nginx-modbuild build --like "$(command -v nginx)" --install-deps \
      --module git:https://github.com/openresty/headers-more-nginx-module@v0.37
  # A fork's binary, from the fork's own source
  nginx-modbuild build --like /opt/freenginx/sbin/nginx --source ~/src/freenginx-1.27.1
  # In a job container, with its packages and the module's own tests
  nginx-modbuild build --nginx 1.22.1 --install-deps --packages --test`,
	"release": `  # Attach dist/ to the release v1.2.0 (created when missing)
  nginx-modbuild release --tag v1.2.0 --create --dist dist
  # Or write it, with signed apt/yum/apk repositories, into a directory
  nginx-modbuild release --dir public --dist dist --repositories --signing-key key.asc`,
	"bump": `  # Open the pull request that moves the pinned nginx version
  nginx-modbuild bump
  # Only show the change
  nginx-modbuild bump --dry-run`,
	"inspect": `  # What each .so was built for, and this nginx's signature by name
  nginx-modbuild inspect /usr/lib/nginx/modules/*.so
  nginx-modbuild inspect --signature /usr/sbin/nginx`,
	"check": `  # Will this configuration's modules load after the upgrade to 1.26.3?
  nginx-modbuild check --conf /etc/nginx/nginx.conf --target 1.26.3
  # Against the nginx installed here
  nginx-modbuild check --conf /etc/nginx/nginx.conf --nginx-binary /usr/sbin/nginx`,
	"install": `  # The release's build of echo for this host's nginx, verified, nginx -t
  sudo nginx-modbuild install --repo owner/echo-module --tag modules echo
  # A build made here (build --like ... --out dist)
  sudo nginx-modbuild install --from dist --no-provenance headers_more_filter
  # Before upgrading nginx: does every loaded module have a build for it?
  nginx-modbuild install check --repo owner/echo-module --for-nginx 1.26.3
  # Take a module out again; put back what an interrupted install changed
  sudo nginx-modbuild install remove echo
  sudo nginx-modbuild install recover`,
}

// repoLink is a markdown link to a path in this repository (not a URL,
// not an anchor): written from the repository's root in help/*.md.
var repoLink = regexp.MustCompile(`\]\(([^)#:]+)\)`)

// Docs is docs/commands as `go run ./internal/cli/gendocs` writes it: a
// page per command (its summary, usage, long help, flags and examples,
// as --help prints them) and the index README.md, by file name.
func Docs() map[string]string {
	d := &Deps{Getenv: func(string) string { return "" }}
	d.complete()
	out := map[string]string{}
	var index strings.Builder
	index.WriteString("# Commands\n\nGenerated from each command's `--help` by `go run ./internal/cli/gendocs`: edit\n`internal/cli/help/COMMAND.md` or the command's flags, then run it.\n\n")
	index.WriteString("Exit status: 0 ok, 1 the checked thing failed, 2 usage or configuration error.\n\n")
	for _, c := range commands() {
		var b strings.Builder
		fmt.Fprintf(&b, "# `nginx-modbuild %s`\n\n%s.\n\n    nginx-modbuild %s %s\n\n", c.name, upperFirst(c.desc), c.name, c.args)
		if h := longHelp(c.name); h != "" {
			b.WriteString(repoLink.ReplaceAllString(h, "](../../$1)") + "\n\n")
		}
		fmt.Fprintf(&b, "## Flags\n\n```\n%s```\n", flagDefaults(c.flags(d)))
		if ex := commandExamples[c.name]; ex != "" {
			fmt.Fprintf(&b, "\n## Examples\n\n```sh\n%s\n```\n", ex)
		}
		out[c.name+".md"] = b.String()
		fmt.Fprintf(&index, "- [`%s`](%s.md): %s\n", c.name, c.name, c.desc)
	}
	out["README.md"] = index.String()
	return out
}

// flagDefaults is what flag.PrintDefaults prints for fs.
func flagDefaults(fs *flag.FlagSet) string {
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	fs.PrintDefaults()
	return buf.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
