package cli

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/nginx-modbuild/nginx-modbuild/internal/platform/userfile"
)

// packageMeta is what init reads from the repository for its packages:
// block, each value with where it came from ("" when not found).
type packageMeta struct {
	version, versionFrom       string
	maintainer, maintainerFrom string
	homepage, homepageFrom     string
}

// initPackages is the packages: block init writes, off (the pages job
// then skips with a notice), its metadata filled from the repository so
// that turning it on needs one word: the newest tag's version, the
// copyright holder of its LICENSE or README (else its most frequent
// commit author), and its origin remote's web address.
func initPackages(ctx context.Context, root string) string {
	m := readPackageMeta(ctx, root)
	var b strings.Builder
	b.WriteString("# Native packages (.deb, .rpm, .apk) of every build, and the signed apt/yum/apk\n")
	b.WriteString("# repositories the pages job publishes from them: set enabled: true.\n")
	b.WriteString("packages:\n  enabled: false\n")
	for _, f := range []struct{ key, value, from, hint string }{
		{"version", m.version, m.versionFrom, `"1.0"               # no tag found: the modules' version`},
		{"maintainer", m.maintainer, m.maintainerFrom, "Jane Doe <jane@example.com>   # none found"},
		{"homepage", m.homepage, m.homepageFrom, "https://github.com/OWNER/REPO   # no origin remote found"},
	} {
		if f.value == "" {
			fmt.Fprintf(&b, "  # %s: %s\n", f.key, f.hint)
			continue
		}
		fmt.Fprintf(&b, "  %s: %s   # %s\n", f.key, strconv.Quote(f.value), f.from)
	}
	return b.String()
}

func readPackageMeta(ctx context.Context, root string) packageMeta {
	var m packageMeta
	if tag, err := gitOut(ctx, root, "describe", "--tags", "--abbrev=0"); err == nil && tag != "" {
		if v := strings.TrimPrefix(strings.TrimPrefix(tag, "v"), "V"); len(v) > 0 && v[0] >= '0' && v[0] <= '9' {
			m.version, m.versionFrom = v, "the newest tag, "+tag
		}
	}
	m.maintainer, m.maintainerFrom = copyrightHolder(root)
	if m.maintainer == "" {
		m.maintainer, m.maintainerFrom = frequentAuthor(ctx, root)
	}
	if url, err := gitOut(ctx, root, "remote", "get-url", "origin"); err == nil {
		if h := webURL(url); h != "" {
			m.homepage, m.homepageFrom = h, "the origin remote"
		}
	}
	return m
}

func gitOut(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// copyrightLine is "Copyright (c) 2009-2017, Name <mail>": the holder
// with an address, as a package's Maintainer field wants it.
var copyrightLine = regexp.MustCompile(`(?i)copyright\s*(?:\(c\)|©)?\s*[0-9][0-9, -]*,?\s*([^<>\n]*?\S)\s*<([^<>@\s]+@[^<>\s]+)>`)

// copyrightHolder is the first copyright holder with an e-mail address in
// the repository's licence or README files, and the file it is in.
func copyrightHolder(root string) (string, string) {
	var files []string
	for _, pat := range []string{"LICENSE*", "LICENCE*", "COPYING*", "COPYRIGHT*", "README*"} {
		m, _ := filepath.Glob(filepath.Join(root, pat))
		files = append(files, m...)
	}
	for _, f := range files {
		b, err := userfile.Read(f, 1<<20)
		if err != nil {
			continue
		}
		if mm := copyrightLine.FindSubmatch(b); mm != nil {
			return string(mm[1]) + " <" + string(mm[2]) + ">", filepath.Base(f) + "'s copyright holder"
		}
	}
	return "", ""
}

// frequentAuthor is the author of most of the last 200 commits.
func frequentAuthor(ctx context.Context, root string) (string, string) {
	out, err := gitOut(ctx, root, "log", "-n", "200", "--format=%an <%ae>")
	if err != nil || out == "" {
		return "", ""
	}
	count := map[string]int{}
	for _, a := range strings.Split(out, "\n") {
		count[a]++
	}
	authors := make([]string, 0, len(count))
	for a := range count {
		authors = append(authors, a)
	}
	sort.Slice(authors, func(i, j int) bool {
		if count[authors[i]] != count[authors[j]] {
			return count[authors[i]] > count[authors[j]]
		}
		return authors[i] < authors[j]
	})
	return authors[0], "the author of most commits"
}

// webURL is a git remote's web address (git@github.com:o/r.git and
// https://github.com/o/r.git both give https://github.com/o/r); "" for a
// local path.
func webURL(remote string) string {
	r := strings.TrimSuffix(strings.TrimSpace(remote), ".git")
	if rest, ok := strings.CutPrefix(r, "git@"); ok {
		host, path, found := strings.Cut(rest, ":")
		if !found {
			return ""
		}
		return "https://" + host + "/" + strings.TrimPrefix(path, "/")
	}
	for _, p := range []string{"https://", "http://", "ssh://git@", "git://"} {
		if rest, ok := strings.CutPrefix(r, p); ok {
			if i := strings.Index(rest, "@"); i >= 0 && i < strings.Index(rest+"/", "/") {
				rest = rest[i+1:] // credentials
			}
			return "https://" + rest
		}
	}
	return ""
}
