// Command gendocs writes docs/commands from each command's help: run it
// from the repository's root after changing a command's flags, examples
// or internal/cli/help/COMMAND.md (TestDocsAreGenerated fails until then).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nginx-modbuild/nginx-modbuild/internal/cli"
)

func main() {
	dir := filepath.Join("docs", "commands")
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	for _, f := range old {
		os.Remove(f)
	}
	for name, text := range cli.Docs() {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gendocs:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("gendocs: wrote %s\n", dir)
}
