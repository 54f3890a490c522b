package modconf

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

var (
	streamType    = regexp.MustCompile(`\bngx_module_type=["']?STREAM\b`)
	streamList    = regexp.MustCompile(`\bSTREAM_MODULES=`)
	streamInclude = regexp.MustCompile(`(?m)^\s*#\s*include\s*[<"]ngx_stream\.h[>"]`)
)

// maxSourceFiles bounds the sources read for an include.
const maxSourceFiles = 2000

// NeedsStream says why a module needs nginx's stream module configured
// (its headers, its core): its config declares a STREAM module or adds
// to STREAM_MODULES (stream-sts), tests $STREAM for an optional stream
// part (njs), or one of its C or C++ files includes ngx_stream.h (sts, an
// http module that reads stream's zones). "" when none does: a reading
// before configure, as the hints are; configure and the compiler decide.
func NeedsStream(dir string) string {
	h, err := ReadHints(dir)
	if err != nil {
		return ""
	}
	for _, f := range h.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		rel, _ := filepath.Rel(dir, f)
		for _, l := range logicalLines(string(data)) {
			switch {
			case streamType.MatchString(l):
				return rel + " declares ngx_module_type=STREAM"
			case streamList.MatchString(l):
				return rel + " adds to STREAM_MODULES"
			}
		}
	}
	if slices.Contains(h.Reads, "STREAM") {
		return "its config tests $STREAM (a stream part built when nginx has stream)"
	}
	why, n := "", 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || why != "" || n > maxSourceFiles {
			return filepath.SkipAll
		}
		if d.IsDir() {
			if p != dir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "t") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".c", ".h", ".cc", ".cpp", ".hpp":
		default:
			return nil
		}
		n++
		if data, err := os.ReadFile(p); err == nil && streamInclude.Match(data) {
			rel, _ := filepath.Rel(dir, p)
			why = rel + " includes ngx_stream.h"
		}
		return nil
	})
	return why
}
