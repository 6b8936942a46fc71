package notifier_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
)

const (
	tgToken  = "123456789:AAE-not-a-real-token_0123456789abcdef"
	tgChat   = 42
	tgChatID = "42"

	// refusedURL is a Bot API that refuses connections: nothing listens on port 1.
	// A free port taken and closed would not do, as a parallel test's fake may get it.
	refusedURL = "http://127.0.0.1:1"
)

// newTestTelegram returns a Telegram client of a fresh fake API, with short waits.
func newTestTelegram(t *testing.T) (*notifier.Telegram, *telegramtest.Server) {
	t.Helper()
	srv := telegramtest.NewServer(tgToken, tgChat)
	t.Cleanup(srv.Close)
	tg := notifier.NewTelegram(tgToken, tgChatID)
	tg.APIURL = srv.URL()
	tg.Backoff = 10 * time.Millisecond
	tg.MaxWait = 5 * time.Second
	return tg, srv
}

// assertNoToken fails the test if err would show the token however it is printed.
func assertNoToken(t *testing.T, err error) {
	t.Helper()
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if s := fmt.Sprintf(format, err); strings.Contains(s, tgToken) {
			t.Errorf("error printed with %s shows the token: %s", format, s)
		}
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if s := fmt.Sprintf("%v %#v", e, e); strings.Contains(s, tgToken) {
			t.Errorf("error unwraps to one that shows the token: %s", s)
		}
	}
}

func TestSendDelivers(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	if err := tg.Send(context.Background(), tgChatID, "<b>backup</b> failed: exit status 1"); err != nil {
		t.Fatal(err)
	}
	want := telegramtest.Message{ID: 1, ChatID: tgChat, Text: "<b>backup</b> failed: exit status 1", ParseMode: "HTML", NoLinkPreview: true}
	if got := srv.Messages(); len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("Messages() = %+v, want [%+v]", got, want)
	}
}

func TestSendWaitsRetryAfter(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	srv.Fail(telegramtest.Fault{Status: 429, RetryAfter: 1})
	start := time.Now()
	if err := tg.Send(context.Background(), tgChatID, "x"); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("retried after %s, before the 1s Telegram asked for", elapsed)
	}
	if got := srv.Requests(); got != 2 {
		t.Errorf("%d requests, want 2", got)
	}
	if got := len(srv.Messages()); got != 1 {
		t.Errorf("%d messages delivered, want 1", got)
	}
}

func TestSendRetriesServerErrors(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	srv.Fail(telegramtest.Fault{Status: 502},
		telegramtest.Fault{Status: 502, Body: "<html><body>502 Bad Gateway</body></html>"})
	if err := tg.Send(context.Background(), tgChatID, "x"); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests(); got != 3 {
		t.Errorf("%d requests, want 3", got)
	}
	if got := len(srv.Messages()); got != 1 {
		t.Errorf("%d messages delivered, want 1", got)
	}
}

func TestSendDoesNotRetryPermanentErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		token  string
		chat   string
		text   string
		code   int
		errMsg string
	}{
		{"wrong token", "1:wrong", tgChatID, "x", 401, "telegram: sendMessage: 401 Unauthorized"},
		{"unknown chat", tgToken, "7", "x", 400, "telegram: sendMessage: 400 Bad Request: chat not found"},
		{"invalid HTML", tgToken, tgChatID, "exit <1>", 400,
			`telegram: sendMessage: 400 Bad Request: can't parse entities: Unsupported start tag "1" at byte offset 5`},
		{"too long", tgToken, tgChatID, strings.Repeat("x", 4097), 400, "telegram: sendMessage: 400 Bad Request: message is too long"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, srv := newTestTelegram(t)
			tg := notifier.NewTelegram(tt.token, tt.chat)
			tg.APIURL, tg.Backoff = srv.URL(), 10*time.Millisecond
			assertPermanent(t, srv, tg.Send(context.Background(), tt.chat, tt.text), tt.errMsg, tt.code)
		})
	}
}

func TestSendGivesUpOnStall(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	tg.MaxWait = 300 * time.Millisecond
	srv.Fail(telegramtest.Fault{Stall: true})
	start := time.Now()
	err := tg.Send(context.Background(), tgChatID, "x")
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("gave up after %s, want about MaxWait (300ms)", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send = %v, want a deadline error", err)
	}
	if errors.Is(err, notifier.ErrPermanent) {
		t.Errorf("a stall is reported as permanent: %v", err)
	}
	if !strings.Contains(fmt.Sprint(err), "bot<redacted>/sendMessage") {
		t.Errorf("error does not name the redacted URL: %v", err)
	}
	assertNoToken(t, err)
}

func TestSendGivesUpWhenRetryAfterIsTooLong(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	tg.MaxWait = time.Second
	srv.Fail(telegramtest.Fault{Status: 429, RetryAfter: 30})
	start := time.Now()
	err := tg.Send(context.Background(), tgChatID, "x")
	if elapsed := time.Since(start); elapsed > 900*time.Millisecond {
		t.Errorf("waited %s for a retry past MaxWait", elapsed)
	}
	var apiErr *notifier.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 429 || apiErr.RetryAfter != 30*time.Second {
		t.Errorf("Send = %v, want a 429 APIError with RetryAfter 30s", err)
	}
	if errors.Is(err, notifier.ErrPermanent) {
		t.Errorf("a 429 is reported as permanent: %v", err)
	}
	if srv.Requests() != 1 {
		t.Errorf("%d requests, want 1", srv.Requests())
	}
}

func TestSendRespectsContext(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	srv.Fail(telegramtest.Fault{Stall: true})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := tg.Send(ctx, tgChatID, "x")
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Send returned %s after its context ended", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send = %v, want a deadline error", err)
	}
	assertNoToken(t, err)
}

func TestSendConnectionRefused(t *testing.T) {
	t.Parallel()
	tg := notifier.NewTelegram(tgToken, tgChatID)
	tg.APIURL = refusedURL
	tg.Backoff = 10 * time.Millisecond
	tg.MaxWait = 200 * time.Millisecond
	err := tg.Send(context.Background(), tgChatID, "x")
	if err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
	if !strings.Contains(err.Error(), "gave up after") {
		t.Errorf("Send = %v, want it to say it gave up after retries", err)
	}
	assertNoToken(t, err)
}

func TestSendBadAPIURL(t *testing.T) {
	t.Parallel()
	tg := notifier.NewTelegram(tgToken, tgChatID)
	tg.APIURL = "http://[::1"
	err := tg.Send(context.Background(), tgChatID, "x")
	if !errors.Is(err, notifier.ErrPermanent) {
		t.Errorf("Send with a malformed URL = %v, want a permanent error", err)
	}
	assertNoToken(t, err)
}

func TestTelegramPrintsNoToken(t *testing.T) {
	t.Parallel()
	tg := notifier.NewTelegram(tgToken, tgChatID)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{tg, *tg} {
			if s := fmt.Sprintf(format, v); strings.Contains(s, tgToken) {
				t.Errorf("%s of %T shows the token: %s", format, v, s)
			}
		}
	}
}

func TestNotifySendsHTML(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	if err := tg.Notify(context.Background(), backupFailed); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].Text != notifier.HTML(backupFailed) || msgs[0].ChatID != tgChat {
		t.Errorf("Messages() = %+v, want the event's HTML in chat %d", msgs, tgChat)
	}
}

// logOutput is n bytes of a job's output that is not all text: lines of it, invalid
// UTF-8 and NUL bytes, none of which may be lost or changed on the way.
func logOutput(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%06d pg_dump: <table> & \"quotes\" \xff\xfe\x00\x01 ünïcødé\r\n", i)
	}
	return b.Bytes()[:n]
}

func TestSendDocumentDelivers(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	content := logOutput(1 << 20)
	doc := notifier.Document{
		Name:    "backup-2026-11-27T030000.log",
		Content: content,
		Silent:  true,
	}
	if err := tg.SendDocument(context.Background(), tgChatID, doc); err != nil {
		t.Fatal(err)
	}
	// Without Silent, disable_notification is left out.
	if err := tg.SendDocument(context.Background(), tgChatID, notifier.Document{Name: "b.txt", Content: []byte("x")}); err != nil {
		t.Fatal(err)
	}

	docs := srv.Documents()
	if len(docs) != 2 {
		t.Fatalf("%d documents delivered, want 2", len(docs))
	}
	want := []telegramtest.Document{
		{ID: 1, ChatID: tgChat, Name: doc.Name, MIMEType: "text/plain; charset=utf-8", Content: content,
			DisableNotification: true},
		{ID: 2, ChatID: tgChat, Name: "b.txt", MIMEType: "text/plain; charset=utf-8", Content: []byte("x")},
	}
	for i, got := range docs {
		if !bytes.Equal(got.Content, want[i].Content) {
			t.Errorf("document %d: content of %d bytes differs from the %d bytes sent", i+1, len(got.Content), len(want[i].Content))
		}
		got.Content, want[i].Content = nil, nil
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("document %d = %+v, want %+v", i+1, got, want[i])
		}
	}
	if len(srv.Messages()) != 0 {
		t.Errorf("a document arrived as a message too")
	}
}

func TestSendDocumentRetries(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		fault    telegramtest.Fault
		minDelay time.Duration
	}{
		{"502", telegramtest.Fault{Status: 502}, 0},
		{"502 page", telegramtest.Fault{Status: 502, Body: "<html><body>502 Bad Gateway</body></html>"}, 0},
		{"429", telegramtest.Fault{Status: 429, RetryAfter: 1}, time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg, srv := newTestTelegram(t)
			srv.Fail(tt.fault)
			content := logOutput(1 << 20)
			start := time.Now()
			if err := tg.SendDocument(context.Background(), tgChatID, notifier.Document{Name: "job.log", Content: content}); err != nil {
				t.Fatal(err)
			}
			if elapsed := time.Since(start); elapsed < tt.minDelay {
				t.Errorf("retried after %s, before the %s asked for", elapsed, tt.minDelay)
			}
			if got := srv.Requests(); got != 2 {
				t.Errorf("%d requests, want 2", got)
			}
			// The fault's answer read the first request's body to its end: a second
			// request that reused its reader would carry nothing.
			docs := srv.Documents()
			if len(docs) != 1 || !bytes.Equal(docs[0].Content, content) || docs[0].Name != "job.log" {
				t.Errorf("after a retry, %d documents, want the whole file once", len(docs))
			}
		})
	}
}

func TestSendDocumentWaitsForTheChatLimit(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	srv.Limit(time.Second)
	if err := tg.Send(context.Background(), tgChatID, "<b>backup</b> failed"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := tg.SendDocument(context.Background(), tgChatID, notifier.Document{Name: "backup.log", Content: []byte("out\n")}); err != nil {
		t.Fatal(err)
	}
	if got := srv.Throttled(); got != 1 {
		t.Errorf("Throttled() = %d, want 1: the document right after the message is one too many", got)
	}
	if elapsed := time.Since(start); elapsed < 900*time.Millisecond {
		t.Errorf("the document went after %s, before the second the fake asked to wait", elapsed)
	}
	if docs := srv.Documents(); len(docs) != 1 || docs[0].ID != 2 {
		t.Errorf("Documents() = %+v, want one, message 2 of the chat", docs)
	}
}

func TestSendDocumentDoesNotRetryPermanentErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		token  string
		chat   string
		doc    notifier.Document
		code   int
		errMsg string
	}{
		{"wrong token", "1:wrong", tgChatID, notifier.Document{Name: "a.log", Content: []byte("x")}, 401,
			"telegram: sendDocument: 401 Unauthorized"},
		{"unknown chat", tgToken, "7", notifier.Document{Name: "a.log", Content: []byte("x")}, 400,
			"telegram: sendDocument: 400 Bad Request: chat not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, srv := newTestTelegram(t)
			tg := notifier.NewTelegram(tt.token, tt.chat)
			tg.APIURL, tg.Backoff = srv.URL(), 10*time.Millisecond
			assertPermanent(t, srv, tg.SendDocument(context.Background(), tt.chat, tt.doc), tt.errMsg, tt.code)
		})
	}
}

func TestSendDocumentRefusesBeforeSending(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		content []byte
		errMsg  string
	}{
		{"nil", nil, "telegram: sendDocument: job.log: the file is empty"},
		{"empty", []byte{}, "telegram: sendDocument: job.log: the file is empty"},
		// make's zeroed pages are not touched, so this costs little memory.
		{"over 50 MB", make([]byte, notifier.MaxDocumentSize+1),
			"telegram: sendDocument: job.log: 52428801 bytes, more than the 50 MB a bot may send"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg, srv := newTestTelegram(t)
			err := tg.SendDocument(context.Background(), tgChatID, notifier.Document{Name: "job.log", Content: tt.content})
			if err == nil || err.Error() != tt.errMsg {
				t.Errorf("SendDocument = %v, want %s", err, tt.errMsg)
			}
			if !errors.Is(err, notifier.ErrPermanent) {
				t.Errorf("errors.Is(%v, ErrPermanent) = false", err)
			}
			if got := srv.Requests(); got != 0 {
				t.Errorf("%d requests, want none", got)
			}
		})
	}
}

func TestSendDocumentName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 200) // 400 bytes
	for _, tt := range []struct{ name, want string }{
		{"backup-2026-11-27T030000.log", "backup-2026-11-27T030000.log"},
		{"report.TXT", "report.TXT"},
		{"журнал резервной копии.log", "журнал резервной копии.log"},
		{"backup", "backup.txt"},
		{"dump.sql", "dump.sql.txt"},
		{"", "output.txt"},
		{".log", "output.log"},
		{"...", "output.txt"},
		{".hidden.log", "hidden.log"},
		{"../../etc/passwd", "_.._etc_passwd.txt"},
		{`C:\logs\job.log`, "C__logs_job.log"},
		{"backup 2026-11-27 03:00:00.log", "backup 2026-11-27 03_00_00.log"},
		{"a\x00b\nc\td\x7f.log", "a_b_c_d_.log"},
		{"invoice\u202egol.exe", "invoice_gol.exe.txt"},
		{"bad \xff\xfe utf8.log", "bad _ utf8.log"},
		{`say "hi" <now>|?*.log`, "say _hi_ _now____.log"},
		{"trailing. .log", "trailing.log"},
		{long + ".log", strings.Repeat("é", 125) + ".log"},
		{long + "x", strings.Repeat("é", 125) + ".txt"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg, srv := newTestTelegram(t)
			if err := tg.SendDocument(context.Background(), tgChatID, notifier.Document{Name: tt.name, Content: []byte("x")}); err != nil {
				t.Fatal(err)
			}
			if docs := srv.Documents(); len(docs) != 1 || docs[0].Name != tt.want {
				t.Errorf("sent as %q, want %q", docs[0].Name, tt.want)
			}
		})
	}
}

func TestSendDocumentHidesToken(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	doc := notifier.Document{
		Name:    tgToken + ".log",
		Content: []byte("env:\nSUPERVISE_TELEGRAM_TOKEN=" + tgToken + "\n\x00done\n"),
	}
	if err := tg.SendDocument(context.Background(), tgChatID, doc); err != nil {
		t.Fatal(err)
	}
	docs := srv.Documents()
	if len(docs) != 1 {
		t.Fatalf("%d documents, want 1", len(docs))
	}
	got := docs[0]
	if string(got.Content) != "env:\nSUPERVISE_TELEGRAM_TOKEN=<redacted>\n\x00done\n" {
		t.Errorf("content sent: %q", got.Content)
	}
	if strings.Contains(got.Name, tgToken) {
		t.Errorf("name sent: %q", got.Name)
	}
}

func TestSendDocumentErrorsHideToken(t *testing.T) {
	t.Parallel()
	doc := notifier.Document{Name: "job.log", Content: logOutput(64 << 10)}

	t.Run("server down", func(t *testing.T) {
		t.Parallel()
		tg := notifier.NewTelegram(tgToken, tgChatID)
		tg.APIURL, tg.Backoff, tg.MaxWait = refusedURL, 10*time.Millisecond, 200*time.Millisecond
		err := tg.SendDocument(context.Background(), tgChatID, doc)
		if err == nil || !strings.Contains(err.Error(), "bot<redacted>/sendDocument") || !strings.Contains(err.Error(), "gave up after") {
			t.Errorf("SendDocument = %v, want it to name the redacted URL and say it gave up", err)
		}
		if errors.Is(err, notifier.ErrPermanent) {
			t.Errorf("a server that is down is reported as permanent: %v", err)
		}
		assertNoToken(t, err)
	})

	t.Run("502 page", func(t *testing.T) {
		t.Parallel()
		tg, srv := newTestTelegram(t)
		tg.MaxWait = time.Second // long enough for the first answer on a busy machine
		page := telegramtest.Fault{Status: 502, Body: "<html><body>502 Bad Gateway for /bot" + tgToken + "/sendDocument</body></html>"}
		for range 100 {
			srv.Fail(page)
		}
		err := tg.SendDocument(context.Background(), tgChatID, doc)
		if err == nil || !strings.HasPrefix(err.Error(), "telegram: sendDocument: 502 Bad Gateway (not a Bot API answer); gave up after ") {
			t.Errorf("SendDocument = %v, want a 502 it gave up on", err)
		}
		assertNoToken(t, err)
	})

	t.Run("description with the URL", func(t *testing.T) {
		t.Parallel()
		tg, srv := newTestTelegram(t)
		srv.Fail(telegramtest.Fault{Status: 400, Description: "Bad Request: no such path /bot" + tgToken + "/sendDocument"})
		err := tg.SendDocument(context.Background(), tgChatID, doc)
		if want := "telegram: sendDocument: 400 Bad Request: no such path /bot<redacted>/sendDocument"; err == nil || err.Error() != want {
			t.Errorf("SendDocument = %v, want %s", err, want)
		}
		assertNoToken(t, err)
	})
}

// assertPermanent checks that err is the API's permanent answer with code and message,
// got after exactly one request, and that it does not show the token.
func assertPermanent(t *testing.T, srv *telegramtest.Server, err error, msg string, code int) {
	t.Helper()
	if err == nil || err.Error() != msg {
		t.Errorf("error %v, want %s", err, msg)
	}
	if !errors.Is(err, notifier.ErrPermanent) {
		t.Errorf("errors.Is(%v, ErrPermanent) = false", err)
	}
	var apiErr *notifier.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != code {
		t.Errorf("errors.As(%v, *APIError) = %+v, want code %d", err, apiErr, code)
	}
	if got := srv.Requests(); got != 1 {
		t.Errorf("%d requests, want exactly 1", got)
	}
	assertNoToken(t, err)
}

// When time runs out on a retry, the error says what Telegram last answered, not only
// that the deadline passed.
func TestGivingUpSaysTheLastAnswer(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	tg.MaxWait = time.Second // long enough for the first answer on a busy machine
	srv.Fail(telegramtest.Fault{Status: 502, Body: "<html>bad gateway</html>"}, telegramtest.Fault{Stall: true})
	err := tg.Send(context.Background(), tgChatID, "hello")
	if err == nil || !strings.Contains(err.Error(), "502 Bad Gateway") || !strings.Contains(err.Error(), "gave up after 2 attempts") {
		t.Errorf("Send = %v, want the 502 and the attempts", err)
	}
	assertNoToken(t, err)
}
