// Package telegramtest is a fake Telegram Bot API for tests: an httptest server that
// answers sendMessage, sendDocument, editMessageText, editMessageReplyMarkup,
// answerCallbackQuery and getUpdates the way api.telegram.org does, rejects what it
// rejects, and can be told to fail, so a client's retries and error handling are
// tested without a network. A test plays the users: it deletes a message, presses a
// button under one.
package telegramtest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxLength is the most a message may hold after entity parsing, in UTF-16 code units,
// which is how Telegram counts characters.
const MaxLength = 4096

// The length errors, as Telegram words them (after "Bad Request: ").
var (
	ErrTooLong = errors.New("message is too long")
	ErrEmpty   = errors.New("message text is empty")
)

// allowedTags are the tags of Telegram's HTML parse mode, from
// https://core.telegram.org/bots/api#html-style.
var allowedTags = map[string]bool{
	"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true,
	"s": true, "strike": true, "del": true, "span": true, "tg-spoiler": true,
	"a": true, "code": true, "pre": true, "blockquote": true, "tg-emoji": true,
}

// ValidateHTML checks text as Telegram's HTML parse mode does and returns an error
// worded like Telegram's description of it (without the "Bad Request: " prefix), or nil.
//
// It follows the parser of tdlib, the library behind the Bot API, with one deliberate
// difference: Telegram lets a bare ">" and a bare "&" that starts no entity through as
// text, but its documentation says they must be escaped, and a formatter that leaves
// them raw has forgotten to escape, so here they are errors.
func ValidateHTML(text string) error {
	plain, err := parseHTML(text)
	if err != nil {
		return err
	}
	return checkLength(plain)
}

// checkLength applies Telegram's limits to a message's text after entity parsing. Like
// Telegram, it ignores the whitespace a message starts and ends with.
func checkLength(plain string) error {
	plain = strings.TrimFunc(plain, unicode.IsSpace)
	if plain == "" {
		return ErrEmpty
	}
	if utf16Len(plain) > MaxLength {
		return ErrTooLong
	}
	return nil
}

// utf16Len counts s in UTF-16 code units: a character outside the Basic Multilingual
// Plane, such as most emoji, counts twice.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if w := utf16.RuneLen(r); w > 0 {
			n += w
		} else {
			n++ // invalid UTF-8 decodes to U+FFFD, one unit
		}
	}
	return n
}

// parseError is a markup error: Telegram prefixes them all with "can't parse entities".
func parseError(format string, args ...any) error {
	return fmt.Errorf("can't parse entities: "+format, args...)
}

// parseHTML returns the text that HTML shows: tags removed, entities decoded.
func parseHTML(text string) (string, error) {
	if !utf8.ValidString(text) {
		return "", errors.New("strings must be encoded in UTF-8")
	}
	var plain strings.Builder
	var open []string // names of the tags not yet closed, innermost last
	for i := 0; i < len(text); {
		switch text[i] {
		case '&':
			s, n, err := decodeEntity(text, i)
			if err != nil {
				return "", err
			}
			plain.WriteString(s)
			i += n
		case '>':
			return "", parseError("Unescaped \">\" at byte offset %d", i)
		case '<':
			if i+1 < len(text) && text[i+1] == '/' {
				n, err := endTag(text, i, &open)
				if err != nil {
					return "", err
				}
				i += n
				continue
			}
			name, n, err := startTag(text, i)
			if err != nil {
				return "", err
			}
			open = append(open, name)
			i += n
		default:
			plain.WriteByte(text[i])
			i++
		}
	}
	if len(open) > 0 {
		return "", parseError("Can't find end tag corresponding to start tag %q", open[len(open)-1])
	}
	return plain.String(), nil
}

// decodeEntity decodes the entity at text[at], which is '&', and returns it with its
// length in bytes. Telegram knows only these four names and numeric references.
func decodeEntity(text string, at int) (string, int, error) {
	end := strings.IndexByte(text[at:], ';')
	if end < 0 || end > 10 {
		return "", 0, parseError("Unescaped \"&\" at byte offset %d", at)
	}
	ref := text[at+1 : at+end]
	switch ref {
	case "lt":
		return "<", end + 1, nil
	case "gt":
		return ">", end + 1, nil
	case "amp":
		return "&", end + 1, nil
	case "quot":
		return `"`, end + 1, nil
	}
	if num, ok := strings.CutPrefix(ref, "#"); ok {
		base := 10
		if hex, ok := strings.CutPrefix(num, "x"); ok {
			num, base = hex, 16
		} else if hex, ok := strings.CutPrefix(num, "X"); ok {
			num, base = hex, 16
		}
		code, err := strconv.ParseUint(num, base, 32)
		r := rune(code)
		if err == nil && r > 0 && r <= unicode.MaxRune && !(r >= 0xD800 && r <= 0xDFFF) {
			return string(r), end + 1, nil
		}
	}
	return "", 0, parseError("Unsupported HTML entity %q at byte offset %d", text[at:at+end+1], at)
}

// startTag reads the start tag at text[at], which is '<', checks its name and
// attributes, and returns the name with the tag's length in bytes.
func startTag(text string, at int) (string, int, error) {
	i := at + 1
	for i < len(text) && !isSpace(text[i]) && text[i] != '>' {
		i++
	}
	if i >= len(text) {
		return "", 0, parseError("Unclosed start tag at byte offset %d", at)
	}
	name := strings.ToLower(text[at+1 : i])
	if !allowedTags[name] {
		return "", 0, parseError("Unsupported start tag %q at byte offset %d", name, at)
	}
	attrs := map[string]string{}
	for {
		for i < len(text) && isSpace(text[i]) {
			i++
		}
		if i >= len(text) {
			return "", 0, parseError("Unclosed start tag %q at byte offset %d", name, at)
		}
		if text[i] == '>' {
			i++
			break
		}
		j := i
		for j < len(text) && !isSpace(text[j]) && !strings.ContainsRune("=>/\"'", rune(text[j])) {
			j++
		}
		attr := strings.ToLower(text[i:j])
		if attr == "" {
			return "", 0, parseError("Empty attribute name in the tag %q at byte offset %d", name, at)
		}
		for i = j; i < len(text) && isSpace(text[i]); i++ {
		}
		if i >= len(text) {
			return "", 0, parseError("Unclosed start tag %q at byte offset %d", name, at)
		}
		if text[i] != '=' {
			attrs[attr] = "" // a bare attribute, as in <blockquote expandable>
			continue
		}
		for i++; i < len(text) && isSpace(text[i]); i++ {
		}
		value, n, err := attrValue(text, i, name, at)
		if err != nil {
			return "", 0, err
		}
		attrs[attr] = value
		i += n
	}
	if err := checkAttrs(name, attrs, at); err != nil {
		return "", 0, err
	}
	return name, i - at, nil
}

// attrValue reads the attribute value at text[i], quoted or not, and returns it
// decoded with its length in bytes; tag and at name the tag for error messages.
func attrValue(text string, i int, tag string, at int) (string, int, error) {
	if i >= len(text) {
		return "", 0, parseError("Unclosed start tag %q at byte offset %d", tag, at)
	}
	if q := text[i]; q == '"' || q == '\'' {
		var value strings.Builder
		j := i + 1
		for j < len(text) && text[j] != q {
			if text[j] == '&' {
				s, n, err := decodeEntity(text, j)
				if err != nil {
					return "", 0, err
				}
				value.WriteString(s)
				j += n
				continue
			}
			value.WriteByte(text[j])
			j++
		}
		if j >= len(text) {
			return "", 0, parseError("Unclosed start tag %q at byte offset %d", tag, at)
		}
		return value.String(), j + 1 - i, nil
	}
	// Unquoted values are a name token: letters, digits, '.' and '-'.
	j := i
	for j < len(text) && (isAlnum(text[j]) || text[j] == '.' || text[j] == '-') {
		j++
	}
	if j >= len(text) || !isSpace(text[j]) && text[j] != '>' {
		return "", 0, parseError("Unexpected end of name token at byte offset %d", j)
	}
	return strings.ToLower(text[i:j]), j - i, nil
}

// checkAttrs applies the rules Telegram has for the attributes of some tags. It
// ignores attributes it does not know, as Telegram does.
func checkAttrs(tag string, attrs map[string]string, at int) error {
	switch tag {
	case "span":
		if attrs["class"] != "tg-spoiler" {
			return parseError("Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", at)
		}
	case "tg-emoji":
		if _, err := strconv.ParseInt(attrs["emoji-id"], 10, 64); err != nil {
			return parseError("Invalid custom emoji identifier specified at byte offset %d", at)
		}
	}
	return nil
}

// endTag reads the end tag at text[at], which is "</", pops the tag it closes from
// open, and returns its length in bytes.
func endTag(text string, at int, open *[]string) (int, error) {
	if len(*open) == 0 {
		return 0, parseError("Unexpected end tag at byte offset %d", at)
	}
	i := at + 2
	for i < len(text) && !isSpace(text[i]) && text[i] != '>' {
		i++
	}
	name := strings.ToLower(text[at+2 : i])
	for i < len(text) && isSpace(text[i]) {
		i++
	}
	if i >= len(text) || text[i] != '>' {
		return 0, parseError("Unclosed end tag at byte offset %d", at)
	}
	want := (*open)[len(*open)-1]
	// Telegram accepts "</>" as the end of whatever is open.
	if name != "" && name != want {
		return 0, parseError("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", at, want, name)
	}
	*open = (*open)[:len(*open)-1]
	return i + 1 - at, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
