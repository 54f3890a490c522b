package plus

import (
	"strings"
	"testing"
)

// want is every row of the NGINX Plus release notes, typed from
// content/nginx/releases.md ("Based on NGINX Open Source X"), independent of
// the generator, so a broken regeneration fails here.
var want = map[string]string{
	"PLS.37.0.0.1": "1.29.8",
	"R36":          "1.29.3", "R35": "1.29.0", "R34": "1.27.4", "R33": "1.27.2",
	"R32": "1.25.5", "R31": "1.25.3", "R30": "1.25.1", "R29": "1.23.4",
	"R28": "1.23.2", "R27": "1.21.6", "R26": "1.21.5", "R25": "1.21.3",
	"R24": "1.19.10", "R23": "1.19.5", "R22": "1.19.0", "R21": "1.17.9",
	"R20": "1.17.6", "R19": "1.17.3", "R18": "1.15.10", "R17": "1.15.7",
	"R16": "1.15.2", "R15": "1.13.10", "R14": "1.13.7", "R13": "1.13.4",
	"R12": "1.11.10", "R11": "1.11.5", "R10": "1.11.3", "R9": "1.9.13",
	"R8": "1.9.9", "R7": "1.9.4", "R6": "1.7.11", "R5": "1.7.7",
	"R4": "1.7.3", "R3": "1.5.12", "R2": "1.5.7", "R1": "1.5.3",
	// LTS patch releases keep the base of PLS.37.0.0.1.
	"PLS.37.0.1.1": "1.29.8", "PLS.37.0.2.1": "1.29.8",
	"PLS.37.0.3.1": "1.29.8", "PLS.37.0.4.1": "1.29.8",
}

func TestEmbeddedTableHasEveryRelease(t *testing.T) {
	t.Parallel()
	tab := Embedded()
	if len(tab.Releases) != len(want) {
		t.Errorf("table has %d releases, want %d", len(tab.Releases), len(want))
	}
	if tab.Source == "" || len(tab.Commit) != 40 {
		t.Errorf("table provenance missing: source %q commit %q", tab.Source, tab.Commit)
	}
	for name, base := range want {
		m, err := tab.Lookup(name)
		if err != nil {
			t.Errorf("Lookup(%q): %v", name, err)
			continue
		}
		if m.Base != base || m.Release != name || !m.Listed {
			t.Errorf("Lookup(%q) = %+v, want base %s", name, m, base)
		}
	}
}

func TestLookupSpellings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, release, base string
		listed            bool
	}{
		{"R33", "R33", "1.27.2", true},
		{"r33", "R33", "1.27.2", true},
		{" R34 ", "R34", "1.27.4", true},
		{"R36 P3", "R36 P3", "1.29.3", true},
		{"r36 p3", "R36 P3", "1.29.3", true},
		{"R36-P7", "R36 P7", "1.29.3", true},
		{"R36P8", "R36 P8", "1.29.3", true},
		{"R36 P9", "R36 P9", "1.29.3", false}, // not in the notes yet; keeps the base
		{"nginx-plus-r12", "R12", "1.11.10", true},
		{"nginx-plus-r12-p3", "R12 P3", "1.11.10", true},
		{"NGINX Plus R34", "R34", "1.27.4", true},
		{"NGINX Plus Release 34", "R34", "1.27.4", true},
		{"R011", "R11", "1.11.5", true},
		{"PLS.37.0.4.1", "PLS.37.0.4.1", "1.29.8", true},
		{"pls.37.0.4.1", "PLS.37.0.4.1", "1.29.8", true},
		{"PLS.37.0.4.1 LTS", "PLS.37.0.4.1", "1.29.8", true},
		{"NGINX Plus PLS.37.0.3.1 LTS", "PLS.37.0.3.1", "1.29.8", true},
		{"PLS.37.0.5.1", "PLS.37.0.5.1", "1.29.8", false}, // a later LTS patch
		{"PLS-37-0-0-1", "PLS.37.0.0.1", "1.29.8", true},
	}
	for _, tt := range tests {
		m, err := Embedded().Lookup(tt.in)
		if err != nil {
			t.Errorf("Lookup(%q): %v", tt.in, err)
			continue
		}
		if m.Release != tt.release || m.Base != tt.base || m.Listed != tt.listed {
			t.Errorf("Lookup(%q) = %+v, want {%s %s %v}", tt.in, m, tt.release, tt.base, tt.listed)
		}
	}
}

func TestLookupRejects(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, wantErr string }{
		{"R99", "unknown NGINX Plus release"},
		{"PLS.37.1.0.1", "unknown NGINX Plus release"}, // no CR release exists yet
		{"PLS.38.0.0.1", "unknown NGINX Plus release"},
		{"1.26.3", "not an NGINX Plus release name"},
		{"", "not an NGINX Plus release name"},
		{"R", "not an NGINX Plus release name"},
		{"R36 P", "not an NGINX Plus release name"},
		{"PLS.37.0.4", "not an NGINX Plus release name"},
	}
	for _, tt := range tests {
		_, err := Embedded().Lookup(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Lookup(%q) error = %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestParseNginxV(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Binary
	}{
		{"nginx version: nginx/1.11.10 (nginx-plus-r12)", Binary{"1.11.10", "R12"}},
		{"nginx version: nginx/1.11.10 (nginx-plus-r12-p3)\n", Binary{"1.11.10", "R12 P3"}},
		{"nginx version: nginx/1.29.3 (nginx-plus-r36-p8)", Binary{"1.29.3", "R36 P8"}},
		{"nginx version: nginx/1.22.1", Binary{"1.22.1", ""}},
		{"nginx version: nginx/1.29.8 (nginx-plus)", Binary{"1.29.8", "unknown"}},
		{"nginx version: nginx/1.31.0 (nginx-plus-r40)", Binary{"1.31.0", "R40"}},
	}
	for _, tt := range tests {
		got, err := Embedded().ParseNginxV(tt.in)
		if err != nil {
			t.Errorf("ParseNginxV(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseNginxV(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	if _, err := Embedded().ParseNginxV("command not found"); err == nil {
		t.Error("ParseNginxV accepted output without a version")
	}
}

func TestForBase(t *testing.T) {
	t.Parallel()
	tab := Embedded()
	if got := strings.Join(tab.ForBase("1.29.8"), " "); got != "PLS.37.0.0.1 PLS.37.0.1.1 PLS.37.0.2.1 PLS.37.0.3.1 PLS.37.0.4.1" {
		t.Errorf("ForBase(1.29.8) = %s", got)
	}
	if got := strings.Join(tab.ForBase("1.27.4"), " "); got != "R34" {
		t.Errorf("ForBase(1.27.4) = %s", got)
	}
	if got := tab.ForBase("1.26.3"); len(got) != 0 {
		t.Errorf("ForBase(1.26.3) = %v, want none", got)
	}
}

// notes is written in the form of content/nginx/releases.md, including its
// non-breaking spaces and hyphens, an update heading and patch entries.
const notes = "### NGINX Plus PLS.37.0.1.1 LTS {#pls.37.0.1}\n_May 22, 2026_<br/>\n\nSecurity release.\n\n" +
	"### NGINX Plus PLS.37.0.0.1 LTS {#r37.0}\n_May 13, 2026_<br/>\n_Based on NGINX Open Source 1.29.8_\n\n" +
	"### NGINX Plus Release 36 (R36) {#r36}\n_December 1, 2025_<br/>\n_Based on NGINX Open Source 1.29.3_\n\n" +
	"#### NGINX Plus R36 Update {#r36_p1}\n\nNGINX Plus R36 P10<br/>\n_18 December 2025_\n\nNGINX Plus R36 P2<br/>\n\n" +
	"### NGINX\u00a0Plus\u00a0Release 14 (R14) {#r14}\n_December 12, 2017_\n_NGINX Open Source build 1.13.7_\n\n" +
	"### NGINX Plus Release 3 (R3) {#r3}\n_Based on NGINX Open Source 1.5.12\u20111_\n"

func TestParseReleaseNotes(t *testing.T) {
	t.Parallel()
	rels, err := ParseReleaseNotes(strings.NewReader(notes))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rels {
		got = append(got, r.Name+"="+r.Base+"@"+r.Date+strings.Join(r.Patches, ","))
	}
	want := "PLS.37.0.1.1=@2026-05-22 PLS.37.0.0.1=1.29.8@2026-05-13 R36=1.29.3@2025-12-01P2,P10 R14=1.13.7@2017-12-12 R3=1.5.12@"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("ParseReleaseNotes:\n got %s\nwant %s", s, want)
	}
}

func TestParseReleaseNotesErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"# nothing here\n",
		"### NGINX Plus Release 9 (R9) {#r9}\nno base line\n",
		"NGINX Plus R5 P1<br/>\n### NGINX Plus Release 5 (R5)\n_Based on NGINX Open Source 1.7.7_\n",
	} {
		if _, err := ParseReleaseNotes(strings.NewReader(in)); err == nil {
			t.Errorf("ParseReleaseNotes(%q) accepted bad notes", in)
		}
	}
}
