package importer

import (
	"maps"
	"slices"
	"testing"
)

// The wants below are what Python 3.11 answers for the same input: shlex.split for
// a command, and supervisor's dict_of_key_value_pairs (a non-POSIX shlex.shlex) for an
// environment.

func TestShlexSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`/usr/bin/printf "%s|%s\n" 'café ☕' "say \"hi\"" back\\slash#x`,
			[]string{"/usr/bin/printf", `%s|%s\n`, "café ☕", `say "hi"`, `back\slash#x`}},
		{`a "b c"d e\ f`, []string{"a", "b cd", "e f"}},
		{`sh -c 'echo \"$HOME\"; exit 3'`, []string{"sh", "-c", `echo \"$HOME\"; exit 3`}},
		{`"a\$b" "c\\d" "e\nf"`, []string{`a\$b`, `c\d`, `e\nf`}},
		{`x ''  "" y`, []string{"x", "", "", "y"}},
		{"cmd\n  --flag\n  --other", []string{"cmd", "--flag", "--other"}},
		{"a\\\nb", []string{"a\nb"}},
	} {
		got, err := shlexSplit(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("shlexSplit(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`a "b`, `a 'b`, `a\`, `"a\`} {
		if got, err := shlexSplit(bad); err == nil {
			t.Errorf("shlexSplit(%q) = %q; want an error, as Python's", bad, got)
		}
	}
}

func TestKeyValues(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
		lost []string
	}{
		{`A=1,B="two, three",C='x y'`, map[string]string{"A": "1", "B": "two, three", "C": "x y"}, nil},
		{`PATH=/usr/local/bin:/usr/bin,HOME=/srv`, map[string]string{"PATH": "/usr/local/bin:/usr/bin", "HOME": "/srv"}, nil},
		{`A="x" , B=y`, map[string]string{"A": "x", "B": "y"}, nil},
		{`URL="http://u:p@h/db?x=1"`, map[string]string{"URL": "http://u:p@h/db?x=1"}, nil},
		{`A=1,`, map[string]string{"A": "1"}, nil},
		{`GREETING='hello "world"'`, map[string]string{"GREETING": `hello "world`}, nil}, // Python strips every quote at the ends
		{"A=x # comment\n,B=y", map[string]string{"A": "x", "B": "y"}, nil},
		{`A=1,B=2,C=3`, map[string]string{"A": "1", "B": "2", "C": "3"}, nil},
		// supervisord's own reading, which loses what follows an unquoted $ or é.
		{`A=$HOME`, map[string]string{"A": "$"}, []string{"HOME"}},
		{`K=café`, map[string]string{"K": "caf"}, []string{"é"}},
	} {
		got, lost, err := keyValues(tc.in)
		if err != nil || !maps.Equal(got, tc.want) || !slices.Equal(lost, tc.lost) {
			t.Errorf("keyValues(%q) = %q, lost %q, %v; want %q, lost %q", tc.in, got, lost, err, tc.want, tc.lost)
		}
	}
	for _, bad := range []string{`A="unterminated`, `A`, `A=1,B`, `=1`} {
		if got, _, err := keyValues(bad); err == nil {
			t.Errorf("keyValues(%q) = %q; want an error, as supervisord's", bad, got)
		}
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]any{"program_name": "w", "process_num": 3, "n": 42, "s": "abc"}
	for _, tc := range []struct{ in, want string }{
		{"%(program_name)s_%(process_num)02d", "w_03"},
		{"%%(x)s 100%%", "%(x)s 100%"},
		{"%(n)5d|%(n)-5d|%(n)x|%(s)r|%(s)6s|%(s)-6s|%(s).2s", "   42|42   |2a|'abc'|   abc|abc   |ab"},
		{"%(n)s", "42"},
		{"no percent", "no percent"},
	} {
		if got, err := expand(tc.in, vars); err != nil || got != tc.want {
			t.Errorf("expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"%(missing)s", "50%", "%(s)d"} {
		if got, err := expand(bad, vars); err == nil {
			t.Errorf("expand(%q) = %q; want an error, as Python's", bad, got)
		}
	}
}

// The config is read as Python's configparser reads it with supervisord's settings:
// inline comments after a blank, continuation lines, a section given twice merged.
func TestINI(t *testing.T) {
	text := `; comment
[program:a]
command = /bin/x --a=b ; a comment
    --more   # and another
  ; a comment line inside
    --last
directory=/srv ;no space before? yes there is
url=http://x;y
note=a #b
k: v
Key2=upper
empty=
blank=one

    two
[program:a]
extra=merged
command=override
`
	want := map[string]string{"command": "override", "directory": "/srv", "url": "http://x;y", "note": "a", "k": "v",
		"key2": "upper", "empty": "", "blank": "one\n\ntwo", "extra": "merged"}
	var p iniFile
	if err := p.read("x.conf", []byte(text)); err != nil {
		t.Fatal(err)
	}
	if len(p.sections) != 1 || p.sections[0].name != "program:a" {
		t.Fatalf("sections %v, want [program:a] once", p.sections)
	}
	got := map[string]string{}
	for k, v := range p.sections[0].keys {
		got[k] = v.value
	}
	if !maps.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if k := p.sections[0].keys["url"]; k.line != 8 {
		t.Errorf("url on line %d, want 8", k.line)
	}
	// Before the second [program:a], command went on over three lines.
	p = iniFile{}
	if err := p.read("x.conf", []byte(text[:len(text)-len("[program:a]\nextra=merged\ncommand=override\n")])); err != nil {
		t.Fatal(err)
	}
	if got, want := p.byName["program:a"].keys["command"].value, "/bin/x --a=b\n--more\n--last"; got != want {
		t.Errorf("command %q, want %q", got, want)
	}
	for _, bad := range []string{"key=before a section\n[program:a]\n", "[program:a]\nno delimiter here\n"} {
		if err := (&iniFile{}).read("x.conf", []byte(bad)); err == nil {
			t.Errorf("%q read without an error; configparser refuses it", bad)
		}
	}
}
