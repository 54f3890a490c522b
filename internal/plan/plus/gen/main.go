// Command gen regenerates internal/plan/plus/plus.json from the NGINX Plus
// release notes (content/nginx/releases.md in nginx/documentation).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/nginx-modbuild/nginx-modbuild/internal/plan/plus"
)

func main() {
	in := flag.String("in", "", "path to content/nginx/releases.md")
	commit := flag.String("commit", "", "nginx/documentation commit the file was read at")
	flag.Parse()
	if err := run(*in, *commit); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(in, commit string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	rels, err := plus.ParseReleaseNotes(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	t := plus.Table{
		Source:   "github.com/nginx/documentation content/nginx/releases.md",
		Commit:   commit,
		Releases: rels,
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}
