package importer

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// supervisord splits a program's command with Python's shlex.split, and reads its
// environment with a shlex.shlex in Python's older, non-POSIX mode. These are the two,
// rule for rule, so a command and an environment mean here what they meant there.

const shlexBlanks = " \t\r\n"

// shlexSplit splits s into words as Python's shlex.split(s) does: POSIX rules, no
// comments. Quotes group, a backslash escapes the next character outside quotes,
// and inside "…" only before " or \.
func shlexSplit(s string) ([]string, error) {
	var (
		words  []string
		word   strings.Builder
		inWord bool // a word is begun, if only by quotes ("" is a word)
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.IndexByte(shlexBlanks, c) >= 0:
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("no escaped character after the last \\")
			}
			i++
			word.WriteByte(s[i])
			inWord = true
		case c == '\'' || c == '"':
			inWord = true
			closed := false
			for i++; i < len(s); i++ {
				d := s[i]
				if d == c {
					closed = true
					break
				}
				if c == '"' && d == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
					d = s[i]
				} else if c == '"' && d == '\\' && i+1 >= len(s) {
					return nil, errors.New("no escaped character after the last \\")
				}
				word.WriteByte(d)
			}
			if !closed {
				return nil, fmt.Errorf("no closing quotation (%c)", c)
			}
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

// shlexWordChars are the characters of a word for supervisord's environment lexer:
// Python's non-POSIX shlex word characters, with the /.+-(): supervisord adds.
const shlexWordChars = "abcdfeghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_/.+-():"

// shlexTokens splits s as a non-POSIX Python shlex.shlex with supervisord's word
// characters does: words, quoted strings with their quotes, and every other character
// a token of its own; # begins a comment.
func shlexTokens(s string) ([]string, error) {
	var tokens []string
	isWord := func(c byte) bool { return strings.IndexByte(shlexWordChars, c) >= 0 }
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case strings.IndexByte(shlexBlanks, c) >= 0:
			i++
		case c == '#':
			if nl := strings.IndexByte(s[i:], '\n'); nl >= 0 {
				i += nl + 1
			} else {
				i = len(s)
			}
		case c == '\'' || c == '"':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, errors.New("no closing quotation")
			}
			tokens = append(tokens, s[i:i+end+2])
			i += end + 2
		case isWord(c):
			// A word goes on through word characters and quotes; a # in it skips
			// the rest of the line and the word goes on after it, as Python's does.
			var w strings.Builder
		word:
			for i < len(s) {
				switch d := s[i]; {
				case isWord(d) || d == '\'' || d == '"':
					w.WriteByte(d)
					i++
				case d == '#':
					if nl := strings.IndexByte(s[i:], '\n'); nl >= 0 {
						i += nl + 1
					} else {
						i = len(s)
					}
				default:
					break word
				}
			}
			tokens = append(tokens, w.String())
		default: // a character of its own, which may take several bytes
			_, n := utf8.DecodeRuneInString(s[i:])
			tokens = append(tokens, s[i:i+n])
			i += n
		}
	}
	return tokens, nil
}

// keyValues reads KEY=val,KEY2="val 2" as supervisor's dict_of_key_value_pairs does.
// That takes four tokens at a time, key, =, value and what it takes for a comma:
// lost lists the tokens it took for a comma that were not one, such as the "HOME"
// of A=$HOME, which it reads as "$".
func keyValues(s string) (env map[string]string, lost []string, err error) {
	tokens, err := shlexTokens(s)
	if err != nil {
		return nil, nil, err
	}
	env = map[string]string{}
	for i := 0; i < len(tokens); i += 4 {
		if i+3 > len(tokens) || tokens[i+1] != "=" {
			return nil, nil, errors.New("not KEY=value pairs parted by commas (quote a value that holds anything but letters, digits and _/.+-():)")
		}
		env[tokens[i]] = strings.Trim(tokens[i+2], `'"`)
		if i+3 < len(tokens) && tokens[i+3] != "," {
			lost = append(lost, tokens[i+3])
		}
	}
	return env, lost, nil
}
