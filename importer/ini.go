package importer

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// supervisord reads its config with Python's configparser, set up as supervisor's
// UnhosedConfigParser sets it: keys are lower-cased, a key and its value are parted
// by = or :, a line indented more than its key's continues the value, a line whose
// first character is # or ; is a comment, and so is the rest of a line from a ; or #
// that follows a blank. The same section in two files is one, the later key winning.
// This is that parser, as far as supervisord's files use it.

// iniFile is the sections read from a config file and the files it includes.
type iniFile struct {
	sections []*iniSection // in the order they first appear
	byName   map[string]*iniSection
}

// iniSection is one [section].
type iniSection struct {
	name string
	file string // the file it is in, the last one that has it
	line int
	keys map[string]*iniKey
}

// iniKey is one key of a section: its value, and where it was set.
type iniKey struct {
	name, value string
	file        string
	line        int
	lines       []string // of the value, before they are joined
}

func (s *iniSection) source() string { return fmt.Sprintf("%s:%d", s.file, s.line) }
func (k *iniKey) source() string     { return fmt.Sprintf("%s:%d", k.file, k.line) }

// The lines of an INI file, compiled when first needed: supervise's other commands
// do not pay for them at start.
var (
	iniSectionLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\[(.+)\]`) })
	iniOptionLine  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(.*?)\s*([=:])\s*(.*)$`) })
)

// read adds the sections of file, whose text is data.
func (p *iniFile) read(file string, data []byte) error {
	if p.byName == nil {
		p.byName = map[string]*iniSection{}
	}
	var (
		sect   *iniSection
		key    *iniKey
		indent int
	)
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	for i, line := range strings.Split(text, "\n") {
		lineno := i + 1
		start := inlineComment(line)
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "#") || strings.HasPrefix(t, ";") {
			start = 0
		}
		cut := line
		if start >= 0 {
			cut = line[:start]
		}
		value := strings.TrimSpace(cut)
		if value == "" {
			// A blank line inside a value is kept in it; a comment line is not.
			if start < 0 && key != nil {
				key.lines = append(key.lines, "")
			}
			continue
		}
		cur := strings.IndexFunc(line, func(r rune) bool { return !unicode.IsSpace(r) })
		if sect != nil && key != nil && cur > indent {
			key.lines = append(key.lines, value)
			continue
		}
		indent = cur
		if m := iniSectionLine().FindStringSubmatch(value); m != nil {
			name := m[1]
			if sect = p.byName[name]; sect == nil {
				sect = &iniSection{name: name, keys: map[string]*iniKey{}}
				p.byName[name] = sect
				p.sections = append(p.sections, sect)
			}
			sect.file, sect.line, key = file, lineno, nil
			continue
		}
		if sect == nil {
			return fmt.Errorf("%s:%d: a key before any [section]: %q", file, lineno, line)
		}
		m := iniOptionLine().FindStringSubmatch(value)
		if m == nil || strings.TrimSpace(m[1]) == "" {
			return fmt.Errorf("%s:%d: neither a [section] nor a key = value: %q", file, lineno, line)
		}
		name := strings.ToLower(strings.TrimRight(m[1], " \t"))
		key = &iniKey{name: name, file: file, line: lineno, lines: []string{strings.TrimSpace(m[3])}}
		sect.keys[name] = key
	}
	for _, s := range p.sections {
		for _, k := range s.keys {
			k.value = strings.TrimRightFunc(strings.Join(k.lines, "\n"), unicode.IsSpace)
		}
	}
	return nil
}

// inlineComment is where an inline comment begins in line, or -1: at a ; or # that
// begins the line or follows a blank. As configparser looks for them, prefix by
// prefix and occurrence by occurrence, the first round that finds one decides.
func inlineComment(line string) int {
	from := map[string]int{";": -1, "#": -1}
	for len(from) > 0 {
		found := -1
		next := map[string]int{}
		for prefix, after := range from {
			i := strings.Index(line[after+1:], prefix)
			if i < 0 {
				continue
			}
			i += after + 1
			next[prefix] = i
			if i == 0 || unicode.IsSpace(rune(line[i-1])) {
				if found < 0 || i < found {
					found = i
				}
			}
		}
		if found >= 0 {
			return found
		}
		from = next
	}
	return -1
}

// expand formats s as Python's s % vars does, which is how supervisord expands
// %(program_name)s, %(process_num)02d, %(here)s, %(ENV_HOME)s and the like; %% is a %.
func expand(s string, vars map[string]any) (string, error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		s = s[i+1:]
		if strings.HasPrefix(s, "%") {
			b.WriteByte('%')
			s = s[1:]
			continue
		}
		m := pyFormat().FindStringSubmatch(s)
		if m == nil {
			return "", fmt.Errorf("a %% that is neither %%%% nor %%(name)s in %q", s)
		}
		v, ok := vars[m[1]]
		if !ok {
			return "", fmt.Errorf("%%(%s) is not a name supervisord expands (it knows %s)", m[1], strings.Join(sortedKeys(vars), ", "))
		}
		out, err := pyConvert(v, m[2], m[3], m[4], m[5])
		if err != nil {
			return "", fmt.Errorf("%%(%s)%s: %w", m[1], m[0][len(m[1])+2:], err)
		}
		b.WriteString(out)
		s = s[len(m[0]):]
	}
}

// pyFormat is a %(name) conversion, after its %: flags, width, precision, a length
// (which Python ignores) and the conversion.
var pyFormat = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\(([^)]*)\)([-#0 +]*)(\d*)(?:\.(\d*))?[hlL]?([diouxXeEfFgGcrsa])`)
})

// pyConvert formats v as Python's %-conversion conv with flags, width and precision.
func pyConvert(v any, flags, width, precision, conv string) (string, error) {
	spec := width
	if precision != "" {
		spec += "." + precision
	}
	switch conv {
	case "s", "r", "a":
		s := fmt.Sprint(v)
		if _, isString := v.(string); isString && conv != "s" {
			s = "'" + s + "'"
		}
		// Python pads a string with blanks only: 0 is for numbers.
		return fmt.Sprintf("%"+strings.ReplaceAll(flags, "0", "")+spec+"s", s), nil
	case "d", "i", "u", "x", "X", "o":
		n, ok := v.(int)
		if !ok {
			return "", fmt.Errorf("format %q needs a number, not %q", conv, v)
		}
		switch conv {
		case "i", "u":
			conv = "d"
		}
		return fmt.Sprintf("%"+flags+spec+conv, n), nil
	}
	return "", fmt.Errorf("conversion %q is not one supervisord's names take", conv)
}

// pyBool reads a boolean as supervisor's datatypes.boolean does.
func pyBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "true", "on", "1":
		return true, nil
	case "no", "false", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true or false)", s)
}

// pyInt reads a whole number as Python's int() does.
func pyInt(s string) (int, error) {
	n, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(s), "_", ""))
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	return n, nil
}

// byteSize reads a size as supervisor's datatypes.byte_size does: bytes, or KB, MB
// or GB, multiples of 1024.
func byteSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for suffix, m := range map[string]int64{"kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30} {
		if num, ok := strings.CutSuffix(t, suffix); ok {
			t, mult = num, m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return n * mult, nil
}
