// Package examples holds the example workflows, embedded so that `init`
// writes exactly the files the README documents.
package examples

import "embed"

// Workflows holds workflows/watch.yml and workflows/pr-check.yml.
//
//go:embed workflows/*.yml
var Workflows embed.FS
