package notifier_test

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
	"github.com/supervise/supervise/supervisor"
)

// limit is Telegram's, restated here so that a change to the package's constant shows.
const limit = 4096

var kst = time.FixedZone("KST", 9*60*60)

func failure(output string) supervisor.Event {
	return supervisor.Event{
		Kind:     supervisor.KindFailure,
		Job:      "backup",
		Host:     "host01",
		Command:  "/usr/local/bin/backup.sh --full",
		Start:    time.Date(2026, 11, 27, 3, 0, 0, 0, kst),
		Duration: 2*time.Minute + 13*time.Second,
		ExitCode: 3,
		Output:   []byte(output),
	}
}

func TestHeadline(t *testing.T) {
	t.Parallel()
	with := func(f func(*supervisor.Event)) supervisor.Event {
		ev := failure("")
		f(&ev)
		return ev
	}
	tests := []struct {
		name string
		ev   supervisor.Event
		want string
	}{
		{"exit status", failure(""), "❌ backup failed on host01: exit status 3 after 2m13s"},
		{"signal", with(func(ev *supervisor.Event) {
			ev.ExitCode, ev.Signal, ev.Duration = -1, syscall.SIGKILL, 4*time.Second
		}), "❌ backup failed on host01: killed by SIGKILL (signal 9) after 4s"},
		{"unnamed signal", with(func(ev *supervisor.Event) {
			ev.ExitCode, ev.Signal = -1, syscall.Signal(42)
		}), "❌ backup failed on host01: killed by signal 42 after 2m13s"},
		{"could not start", with(func(ev *supervisor.Event) {
			ev.ExitCode, ev.Duration = -1, 0
			ev.Err = errors.New(`exec: "backup.sh": executable file not found in $PATH`)
		}), `❌ backup failed on host01: could not start: exec: "backup.sh": executable file not found in $PATH`},
		{"no exit status", with(func(ev *supervisor.Event) { ev.ExitCode = -1 }),
			"❌ backup failed on host01: stopped after 2m13s"},
		{"timeout", with(func(ev *supervisor.Event) {
			ev.Kind, ev.ExitCode, ev.Signal = supervisor.KindTimeout, -1, syscall.SIGTERM
			ev.Duration, ev.Timeout = 2*time.Hour+10*time.Second, 2*time.Hour
		}), "⏰ backup timed out on host01 after 2h (timeout 2h)"},
		{"success", with(func(ev *supervisor.Event) { ev.Kind, ev.ExitCode = supervisor.KindSuccess, 0 }),
			"✅ backup succeeded on host01 after 2m13s"},
		{"start", with(func(ev *supervisor.Event) { ev.Kind, ev.Duration = supervisor.KindStart, 0 }),
			"▶️ backup started on host01"},
		{"restart loop", with(func(ev *supervisor.Event) { ev.Kind = supervisor.KindRestartLoop }),
			"🔁 backup is crash-looping on host01"},
		{"heartbeat", with(func(ev *supervisor.Event) { ev.Kind = supervisor.KindHeartbeat }),
			"💔 backup missed its heartbeat on host01"},
		{"recovery", with(func(ev *supervisor.Event) { ev.Kind = supervisor.KindRecovery }),
			"💚 backup recovered on host01"},
		{"silent", with(func(ev *supervisor.Event) {
			ev.Kind, ev.Silent, ev.Every = supervisor.KindHeartbeat, 6*time.Minute+2*time.Second, 5*time.Minute
		}), "💔 backup missed its heartbeat on host01: silent for 6m2s (expected every 5m)"},
		{"missed run", with(func(ev *supervisor.Event) {
			ev.Kind, ev.Missed, ev.MissedRuns = supervisor.KindHeartbeat, time.Date(2026, 11, 28, 3, 0, 0, 0, kst), 1
		}), "💔 backup missed its run on host01 due at 2026-11-28 03:00:00 KST"},
		{"missed runs", with(func(ev *supervisor.Event) {
			ev.Kind, ev.Missed, ev.MissedRuns = supervisor.KindHeartbeat, time.Date(2026, 11, 28, 3, 0, 0, 0, kst), 3
		}), "💔 backup missed 3 runs on host01, the last due at 2026-11-28 03:00:00 KST"},
		{"no success in time", with(func(ev *supervisor.Event) {
			ev.Kind, ev.Missed, ev.Expect = supervisor.KindHeartbeat, time.Date(2026, 11, 28, 3, 0, 0, 0, kst), 2*time.Hour
		}), "💔 backup did not succeed on host01 within 2h of its run due at 2026-11-28 03:00:00 KST"},
		{"never started", with(func(ev *supervisor.Event) {
			ev.Kind, ev.Missed = supervisor.KindHeartbeat, time.Date(2026, 11, 28, 3, 0, 0, 0, kst)
		}), "💔 backup did not start on host01: its run was due at 2026-11-28 03:00:00 KST"},
		{"signs again", with(func(ev *supervisor.Event) { ev.Kind, ev.Silent = supervisor.KindRecovery, 7*time.Minute }),
			"💚 backup recovered on host01: a sign of life after 7m of silence"},
		{"reported failure", with(func(ev *supervisor.Event) { ev.ExitCode, ev.Note = -1, "reported exit status 3" }),
			"❌ backup failed on host01: reported exit status 3"},
		{"too short", with(func(ev *supervisor.Event) {
			ev.ExitCode, ev.Duration, ev.MinRuntime = 0, 100*time.Millisecond, 5*time.Second
		}), "❌ backup failed on host01: exit status 0 after 100ms, sooner than its min_runtime 5s"},
		{"unknown kind", with(func(ev *supervisor.Event) { ev.Kind = "exploded" }),
			"ℹ️ backup exploded on host01"},
		{"no host", with(func(ev *supervisor.Event) { ev.Host = "" }),
			"❌ backup failed: exit status 3 after 2m13s"},
		{"newline in name", with(func(ev *supervisor.Event) { ev.Job = "two\nlines" }),
			"❌ two lines failed on host01: exit status 3 after 2m13s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := notifier.Headline(tt.ev); got != tt.want {
				t.Errorf("Headline() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHTMLAndText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		ev       supervisor.Event
		wantHTML string
		wantText string
	}{
		{
			name: "failure",
			ev:   failure("dumping db\n\x1b[31merror:\x1b[0m disk <full> & sad\n"),
			wantHTML: "<b>❌ backup failed on host01: exit status 3 after 2m13s</b>\n" +
				"command: <code>/usr/local/bin/backup.sh --full</code>\n" +
				"started 2026-11-27 03:00:00 KST\n" +
				"<pre>dumping db\nerror: disk &lt;full&gt; &amp; sad</pre>",
			wantText: "❌ backup failed on host01: exit status 3 after 2m13s\n" +
				"command: /usr/local/bin/backup.sh --full\n" +
				"started 2026-11-27 03:00:00 KST\n" +
				"| dumping db\n| error: disk <full> & sad",
		},
		{
			name: "lines left out",
			ev: func() supervisor.Event {
				ev := failure("c\nd\ne\n")
				ev.OutputLines, ev.Notify.Tail = 5, 2
				return ev
			}(),
			wantHTML: "<b>❌ backup failed on host01: exit status 3 after 2m13s</b>\n" +
				"command: <code>/usr/local/bin/backup.sh --full</code>\n" +
				"started 2026-11-27 03:00:00 KST\n" +
				"<pre>… 3 earlier lines\nd\ne</pre>",
			wantText: "❌ backup failed on host01: exit status 3 after 2m13s\n" +
				"command: /usr/local/bin/backup.sh --full\n" +
				"started 2026-11-27 03:00:00 KST\n" +
				"| … 3 earlier lines\n| d\n| e",
		},
		{
			name: "no output",
			ev:   failure(""),
			wantHTML: "<b>❌ backup failed on host01: exit status 3 after 2m13s</b>\n" +
				"command: <code>/usr/local/bin/backup.sh --full</code>\n" +
				"started 2026-11-27 03:00:00 KST\n" +
				"(no output)",
			wantText: "❌ backup failed on host01: exit status 3 after 2m13s\n" +
				"command: /usr/local/bin/backup.sh --full\n" +
				"started 2026-11-27 03:00:00 KST\n" +
				"(no output)",
		},
		{
			name: "start says nothing of output",
			ev: func() supervisor.Event {
				ev := failure("")
				ev.Kind, ev.Duration = supervisor.KindStart, 0
				return ev
			}(),
			wantHTML: "<b>▶️ backup started on host01</b>\n" +
				"command: <code>/usr/local/bin/backup.sh --full</code>\n" +
				"started 2026-11-27 03:00:00 KST",
			wantText: "▶️ backup started on host01\n" +
				"command: /usr/local/bin/backup.sh --full\n" +
				"started 2026-11-27 03:00:00 KST",
		},
		{
			name: "markup in names and command",
			ev: func() supervisor.Event {
				ev := failure("x\n")
				ev.Job, ev.Host, ev.Command, ev.Start = "<b>a&b</b>", "h<1>", `pg_dump db | gzip > "/tmp/db.gz" && echo <ok>`, time.Time{}
				return ev
			}(),
			wantHTML: "<b>❌ &lt;b&gt;a&amp;b&lt;/b&gt; failed on h&lt;1&gt;: exit status 3 after 2m13s</b>\n" +
				`command: <code>pg_dump db | gzip &gt; "/tmp/db.gz" &amp;&amp; echo &lt;ok&gt;</code>` + "\n" +
				"<pre>x</pre>",
			wantText: "❌ <b>a&b</b> failed on h<1>: exit status 3 after 2m13s\n" +
				`command: pg_dump db | gzip > "/tmp/db.gz" && echo <ok>` + "\n" +
				"| x",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := notifier.HTML(tt.ev)
			if got != tt.wantHTML {
				t.Errorf("HTML() =\n%s\nwant\n%s", got, tt.wantHTML)
			}
			checkHTML(t, got)
			if got := notifier.Text(tt.ev); got != tt.wantText {
				t.Errorf("Text() =\n%s\nwant\n%s", got, tt.wantText)
			}
		})
	}
}

// TestHTMLOutput feeds the formatter the output real programs write and checks what
// Telegram would check, that the last line survives, and that the count of lines left
// out is right.
func TestHTMLOutput(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 20000) + " END"
	tests := []struct {
		name        string
		output      string
		outputLines int // as the supervisor counts them; 0 for the lines in output
		tailLines   int
		wantLast    string // the output's last line, cleaned; a cut line ends with it
		wantCut     bool   // the last line is too long and is cut from its start
		wantTotal   int    // lines the job wrote
	}{
		{name: "markup", output: "ok\n<b>bold</b> & <script>alert(1)</script>\n",
			wantLast: "<b>bold</b> & <script>alert(1)</script>", wantTotal: 2},
		{name: "ansi colours", output: "\x1b[32mok\x1b[0m\n\x1b[1;31mError:\x1b[0m disk full\n",
			wantLast: "Error: disk full", wantTotal: 2},
		{name: "20000-character last line", output: "first\n" + long + "\n",
			wantLast: " END", wantCut: true, wantTotal: 2},
		{name: "20000-character line before the last", output: "first\n" + long + "\nfinal\n",
			wantLast: "final", wantTotal: 3},
		{name: "3000 lines, default tail", output: string(numbered(3000)),
			wantLast: "line 3000", wantTotal: 3000},
		{name: "3000 lines, all asked for", output: string(numbered(3000)), tailLines: 3000,
			wantLast: "line 3000", wantTotal: 3000},
		{name: "3000 lines of markup", output: strings.Repeat("<&>\n", 2999) + "<last>", tailLines: 3000,
			wantLast: "<last>", wantTotal: 3000},
		{name: "invalid utf-8", output: "ok\nbad \xff\xfe bytes\n",
			wantLast: "bad \uFFFD\uFFFD bytes", wantTotal: 2},
		{name: "progress bar", output: "fetching\n 10% [=   ]\r 50% [==  ]\r100% [====]\r\n",
			wantLast: "100% [====]", wantTotal: 2},
		{name: "crlf", output: "one\r\ntwo\r\nthree\r\n",
			wantLast: "three", wantTotal: 3},
		{name: "no final newline", output: "one\ntwo",
			wantLast: "two", wantTotal: 2},
		{name: "wrapped buffer", output: "rtial\nb\nc\n", outputLines: 1000,
			wantLast: "c", wantTotal: 1000},
		{name: "wide characters", output: strings.Repeat("😀", 5000) + "!",
			wantLast: "😀!", wantCut: true, wantTotal: 1},
		{name: "ampersands", output: strings.Repeat("&", 20000),
			wantLast: "&&&", wantCut: true, wantTotal: 1},
		{name: "binary", output: "\x00\x01\x02\xff\x1b\x9b31m\x80\nend", wantLast: "end", wantTotal: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := failure(tt.output)
			ev.OutputLines, ev.Notify.Tail = tt.outputLines, tt.tailLines
			got := notifier.HTML(ev)
			checkHTML(t, got)

			pre, ok := strings.CutSuffix(got[strings.Index(got, "<pre>")+len("<pre>"):], "</pre>")
			if !ok {
				t.Fatalf("HTML() does not end with </pre>:\n%s", got)
			}
			lines := strings.Split(pre, "\n")
			last := lines[len(lines)-1]
			if tt.wantCut {
				if !strings.HasPrefix(last, "…") || !strings.HasSuffix(last, escape(tt.wantLast)) {
					t.Errorf("last line = %.40q…, want one that starts with … and ends with %q", last, tt.wantLast)
				}
			} else if last != escape(tt.wantLast) {
				t.Errorf("last line = %.80q, want %q", last, escape(tt.wantLast))
			}

			omitted := 0
			if m := earlierRE.FindStringSubmatch(lines[0]); m != nil {
				omitted, _ = strconv.Atoi(m[1])
				lines = lines[1:]
			}
			if omitted+len(lines) != tt.wantTotal {
				t.Errorf("%d earlier lines and %d shown, want %d in all", omitted, len(lines), tt.wantTotal)
			}
			tail := tt.tailLines
			if tail == 0 {
				tail = 40
			}
			if len(lines) > tail {
				t.Errorf("%d lines shown, want at most %d", len(lines), tail)
			}
		})
	}
}

var earlierRE = regexp.MustCompile(`^… (\d+) earlier lines?$`)

func TestTextQuotesWholeTail(t *testing.T) {
	t.Parallel()
	ev := failure("first\n" + strings.Repeat("y", 20000) + "\n")
	got := notifier.Text(ev)
	if !strings.HasSuffix(got, "\n| first\n| "+strings.Repeat("y", 20000)) {
		t.Errorf("Text() ends %q, want the whole last line", got[len(got)-50:])
	}
}

// FuzzHTML checks what must hold for any output: Telegram accepts the message, and the
// output's last line is in it, whole when it fits and otherwise by its end.
func FuzzHTML(f *testing.F) {
	f.Add([]byte("plain\n"), 0, 0)
	f.Add([]byte("\x1b[31m<b>&</b>\x1b[0m\r\n50%\r100%"), 3, 1)
	f.Add([]byte("\x1b]0;title\a\xff\xfe\x00😀\n\n"), 10, 40)
	f.Add(numbered(500), 1000, 500)
	f.Add(bytes.Repeat([]byte("<&>"), 3000), 1, 0)
	f.Fuzz(func(t *testing.T, output []byte, outputLines, tailLines int) {
		ev := failure(string(output))
		ev.OutputLines, ev.Notify.Tail = outputLines, tailLines
		got := notifier.HTML(ev)
		if !utf8.ValidString(got) {
			t.Fatalf("HTML() is not valid UTF-8: %q", got)
		}
		if n := len(utf16.Encode([]rune(got))); n > limit {
			t.Fatalf("HTML() is %d UTF-16 units long, want at most %d", n, limit)
		}
		checkHTML(t, got)
		if len(output) == 0 {
			return
		}

		// Text quotes the last line whole, so it says what HTML must end with.
		text := notifier.Text(ev)
		want := escape(strings.TrimPrefix(text[strings.LastIndexByte(text, '\n')+1:], "| "))
		pre, ok := strings.CutSuffix(got, "</pre>")
		if !ok {
			t.Fatalf("HTML() does not end with </pre>: %q", got)
		}
		last := pre[strings.LastIndexAny(pre, "\n>")+1:]
		if last == want {
			return
		}
		cut, ok := strings.CutPrefix(last, "…")
		if len(want) <= 2000 || !ok || !strings.HasSuffix(want, cut) || len(cut) < 1000 {
			t.Fatalf("last line = %.60q…, want %.60q… or its end", last, want)
		}
	})
}

// BenchmarkHTML formats a megabyte of output, to show the cost is linear: compare with
// -benchtime on a larger output if in doubt.
func BenchmarkHTML(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20} {
		out := bytes.Repeat([]byte("\x1b[32mprogress\x1b[0m 12%\r<done> & more\r\n"), size/40)
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			ev := failure(string(out))
			ev.Notify.Tail = 100000
			b.SetBytes(int64(len(out)))
			for b.Loop() {
				notifier.HTML(ev)
			}
		})
	}
}

// checkHTML fails t unless Telegram would accept html and no markup came from the
// event: the only tags are the formatter's own, and every '&' starts an entity.
func checkHTML(t *testing.T, html string) {
	t.Helper()
	if err := telegramtest.ValidateHTML(html); err != nil {
		t.Fatalf("Telegram would reject the message: %v\n%.300s", err, html)
	}
	if n := len(utf16.Encode([]rune(html))); n > limit {
		t.Fatalf("message is %d UTF-16 units long, want at most %d", n, limit)
	}
	bare := ourTags.Replace(html)
	if i := strings.IndexAny(bare, "<>"); i >= 0 {
		t.Fatalf("raw %q in the message: %.60q", bare[i], bare[max(0, i-20):])
	}
	for i := 0; i < len(bare); i++ {
		if bare[i] == '&' && !strings.HasPrefix(bare[i:], "&lt;") && !strings.HasPrefix(bare[i:], "&gt;") && !strings.HasPrefix(bare[i:], "&amp;") {
			t.Fatalf("raw & in the message: %.60q", bare[i:])
		}
	}
}

var ourTags = strings.NewReplacer("<b>", "", "</b>", "", "<code>", "", "</code>", "", "<pre>", "", "</pre>", "")

var escape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

func numbered(n int) []byte {
	var b bytes.Buffer
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.Bytes()
}

// A heartbeat message says what the job said of itself: its last sign of life, its
// sd_notify STATUS and its last ping message, which is cut to its end; the whole stays
// valid for Telegram and within its limit, however long each part is.
func TestHeartbeatDetails(t *testing.T) {
	t.Parallel()
	ev := failure(strings.Repeat("<output line>\n", 5000))
	ev.Kind, ev.ExitCode, ev.Silent, ev.Every = supervisor.KindHeartbeat, -1, time.Minute, 30*time.Second
	ev.LastSign, ev.LastSignBy = time.Date(2026, 11, 27, 3, 1, 0, 0, kst), "WATCHDOG=1"
	ev.Ready = time.Date(2026, 11, 27, 3, 0, 1, 0, kst)
	ev.Status = "copying <part 3> & " + strings.Repeat("s", 5000)
	ev.Message = strings.Repeat("m", 100<<10) + "\n<last words>"
	html := notifier.HTML(ev)
	if err := telegramtest.ValidateHTML(html); err != nil {
		t.Fatalf("invalid HTML: %v", err)
	}
	if n := len(utf16.Encode([]rune(html))); n > limit {
		t.Errorf("message is %d UTF-16 units, over %d", n, limit)
	}
	for _, want := range []string{
		"\nlast sign of life: WATCHDOG=1 at 2026-11-27 03:01:00 KST",
		"\nready (READY=1) at 2026-11-27 03:00:01 KST",
		"\nstatus: copying &lt;part 3&gt; &amp; sss",
		"&lt;last words&gt;</pre>",
		"&lt;output line&gt;</pre>",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q:\n%.600s", want, html)
		}
	}
	ev.LastSign, ev.Status, ev.Message = time.Time{}, "", ""
	if text := notifier.Text(ev); !strings.Contains(text, "\nno sign of life yet\n") {
		t.Errorf("a job that never showed life should say so:\n%.300s", text)
	}
}

// A digest names every job it folds, within Telegram's limit, as many as up folds into
// one (notifier.MaxDigest), even with the longest names a job may have.
func TestDigest(t *testing.T) {
	t.Parallel()
	var events []supervisor.Event
	long := strings.Repeat("x", 94)
	for i := range notifier.MaxDigest {
		ev := failure("")
		ev.Job = fmt.Sprintf("job%03d", i) + long
		if i%5 == 0 {
			ev.Kind, ev.Timeout = supervisor.KindTimeout, time.Hour
		}
		events = append(events, ev)
	}
	html := notifier.DigestHTML("host01", events)
	if err := telegramtest.ValidateHTML(html); err != nil {
		t.Fatalf("invalid HTML: %v", err)
	}
	if n := len(utf16.Encode([]rune(html))); n > limit {
		t.Errorf("digest is %d UTF-16 units, over %d", n, limit)
	}
	if !strings.HasPrefix(html, "<b>🚨 30 alerts on host01: 6 timed out, 24 failed</b>\n⏰ job000"+long+" timed out after") {
		t.Errorf("digest starts %q", html[:min(len(html), 200)])
	}
	for i := range notifier.MaxDigest {
		if name := fmt.Sprintf("job%03d", i) + long; !strings.Contains(html, name) {
			t.Errorf("job%03d is not named", i)
		}
	}
	if n := strings.Count(html, "\n"); n != notifier.MaxDigest {
		t.Errorf("the digest has %d lines after its headline, want one for each of its %d events", n, notifier.MaxDigest)
	}
	if text := notifier.DigestText("host01", events); strings.Count(text, "\n") != notifier.MaxDigest {
		t.Errorf("the plain text has %d lines, want one per event after the headline", strings.Count(text, "\n"))
	}
}
