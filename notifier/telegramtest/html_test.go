package telegramtest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/supervise/supervise/notifier/telegramtest"
)

func TestValidateHTMLAccepts(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		"plain text",
		"<b>bold</b> <strong>strong</strong> <i>i</i> <em>em</em> <u>u</u> <ins>ins</ins>",
		"<s>s</s> <strike>strike</strike> <del>del</del>",
		`<span class="tg-spoiler">spoiler</span> <span class=tg-spoiler>unquoted</span> <tg-spoiler>x</tg-spoiler>`,
		`<a href="https://example.com/?a=1&amp;b=2">link</a>`,
		`<a href='tg://user?id=1'>single quotes</a>`,
		"<code>x := 1</code>",
		`<pre><code class="language-go">func main() {}</code></pre>`,
		"<blockquote>quote</blockquote> <blockquote expandable>long</blockquote>",
		`<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>`,
		"<B>upper case</B>",
		"<b >space before the end</b >",
		"<b>short end tag</>",
		"<b>bold <i>nested <u>deeper</u></i></b>",
		"&lt;script&gt; &amp; &quot;quoted&quot; &#39; &#x1F600; &#X41;",
		"exit status 1 — ошибка 日本語 😀",
		"  <b> </b>x  ",
	} {
		if err := telegramtest.ValidateHTML(text); err != nil {
			t.Errorf("ValidateHTML(%q) = %v, want nil", text, err)
		}
	}
}

func TestValidateHTMLRejects(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		text string
		want string
	}{
		{"<script>alert(1)</script>", `can't parse entities: Unsupported start tag "script" at byte offset 0`},
		{"ab<p>x</p>", `can't parse entities: Unsupported start tag "p" at byte offset 2`},
		{"a < b", `can't parse entities: Unsupported start tag "" at byte offset 2`},
		{"<br/>", `can't parse entities: Unsupported start tag "br/" at byte offset 0`},
		{"<!-- comment -->", `can't parse entities: Unsupported start tag "!--" at byte offset 0`},
		{"x <b", `can't parse entities: Unclosed start tag at byte offset 2`},
		{`<a href="x`, `can't parse entities: Unclosed start tag "a" at byte offset 0`},
		{"<b>bold", `can't parse entities: Can't find end tag corresponding to start tag "b"`},
		{"<b><i>x</b></i>", `can't parse entities: Unmatched end tag at byte offset 7, expected "</i>", found "</b>"`},
		{"x</b>", `can't parse entities: Unexpected end tag at byte offset 1`},
		{"<b>x</b", `can't parse entities: Unclosed end tag at byte offset 4`},
		{"a > b", `can't parse entities: Unescaped ">" at byte offset 2`},
		{"a & b", `can't parse entities: Unescaped "&" at byte offset 2`},
		{"&nbsp;", `can't parse entities: Unsupported HTML entity "&nbsp;" at byte offset 0`},
		{"&#xD800;", `can't parse entities: Unsupported HTML entity "&#xD800;" at byte offset 0`},
		{"&#0;", `can't parse entities: Unsupported HTML entity "&#0;" at byte offset 0`},
		{"<span>x</span>", `can't parse entities: Tag "span" must have class "tg-spoiler" at byte offset 0`},
		{`<span class="red">x</span>`, `can't parse entities: Tag "span" must have class "tg-spoiler" at byte offset 0`},
		{`<tg-emoji emoji-id="abc">x</tg-emoji>`, `can't parse entities: Invalid custom emoji identifier specified at byte offset 0`},
		{`<a href=x"y">x</a>`, `can't parse entities: Unexpected end of name token at byte offset 9`},
		{`<b ="x">x</b>`, `can't parse entities: Empty attribute name in the tag "b" at byte offset 0`},
		{"😀<x>", `can't parse entities: Unsupported start tag "x" at byte offset 4`}, // offsets count bytes
		{"", "message text is empty"},
		{" \n\t", "message text is empty"},
		{"<b></b>", "message text is empty"},
		{"<b>\n</b>  ", "message text is empty"},
		{"\xff", "strings must be encoded in UTF-8"},
	} {
		err := telegramtest.ValidateHTML(tt.text)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ValidateHTML(%q) = %v, want %s", tt.text, err, tt.want)
		}
	}
}

func TestValidateHTMLLength(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		text string
		want error
	}{
		{"4096 ASCII", strings.Repeat("a", 4096), nil},
		{"4097 ASCII", strings.Repeat("a", 4097), telegramtest.ErrTooLong},
		{"tags do not count", "<pre>" + strings.Repeat("a", 4096) + "</pre>", nil},
		{"entities count once", strings.Repeat("&lt;", 4096), nil},
		{"entities count once, over", strings.Repeat("&lt;", 4097), telegramtest.ErrTooLong},
		// 😀 is one rune but two UTF-16 code units: 2048 fit, 2049 do not.
		{"2048 emoji", strings.Repeat("😀", 2048), nil},
		{"2049 emoji", strings.Repeat("😀", 2049), telegramtest.ErrTooLong},
		{"emoji as entity", strings.Repeat("&#x1F600;", 2049), telegramtest.ErrTooLong},
		// Cyrillic takes two bytes in UTF-8 but one UTF-16 unit.
		{"4096 Cyrillic", strings.Repeat("ж", 4096), nil},
		{"trailing space ignored", strings.Repeat("a", 4096) + "\n\n  ", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := telegramtest.ValidateHTML(tt.text); !errors.Is(got, tt.want) {
				t.Errorf("ValidateHTML = %v, want %v", got, tt.want)
			}
		})
	}
}
