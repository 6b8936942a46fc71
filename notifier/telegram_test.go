package notifier_test

import (
	"context"
	"errors"
	"fmt"
	"net"
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
	tg, srv := newTestTelegram(t)
	if err := tg.Send(context.Background(), tgChatID, "<b>backup</b> failed: exit status 1"); err != nil {
		t.Fatal(err)
	}
	want := telegramtest.Message{ID: 1, ChatID: tgChat, Text: "<b>backup</b> failed: exit status 1", ParseMode: "HTML", NoLinkPreview: true}
	if got := srv.Messages(); len(got) != 1 || got[0] != want {
		t.Errorf("Messages() = %+v, want [%+v]", got, want)
	}
}

func TestSendWaitsRetryAfter(t *testing.T) {
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
			tg, srv := newTestTelegram(t)
			tg = notifier.NewTelegram(tt.token, tt.chat)
			tg.APIURL, tg.Backoff = srv.URL(), 10*time.Millisecond
			err := tg.Send(context.Background(), tt.chat, tt.text)
			if err == nil || err.Error() != tt.errMsg {
				t.Errorf("Send = %v, want %s", err, tt.errMsg)
			}
			if !errors.Is(err, notifier.ErrPermanent) {
				t.Errorf("errors.Is(%v, ErrPermanent) = false", err)
			}
			var apiErr *notifier.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != tt.code {
				t.Errorf("errors.As(%v, *APIError) = %+v, want code %d", err, apiErr, tt.code)
			}
			if got := srv.Requests(); got != 1 {
				t.Errorf("%d requests, want exactly 1", got)
			}
			assertNoToken(t, err)
		})
	}
}

func TestSendGivesUpOnStall(t *testing.T) {
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
	// A loopback port that nothing listens on: take a free one and close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	tg := notifier.NewTelegram(tgToken, tgChatID)
	tg.APIURL = "http://" + addr
	tg.Backoff = 10 * time.Millisecond
	tg.MaxWait = 200 * time.Millisecond
	err = tg.Send(context.Background(), tgChatID, "x")
	if err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
	if !strings.Contains(err.Error(), "gave up after") {
		t.Errorf("Send = %v, want it to say it gave up after retries", err)
	}
	assertNoToken(t, err)
}

func TestSendBadAPIURL(t *testing.T) {
	tg := notifier.NewTelegram(tgToken, tgChatID)
	tg.APIURL = "http://[::1"
	err := tg.Send(context.Background(), tgChatID, "x")
	if !errors.Is(err, notifier.ErrPermanent) {
		t.Errorf("Send with a malformed URL = %v, want a permanent error", err)
	}
	assertNoToken(t, err)
}

func TestTelegramPrintsNoToken(t *testing.T) {
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
	tg, srv := newTestTelegram(t)
	if err := tg.Notify(context.Background(), backupFailed); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].Text != notifier.HTML(backupFailed) || msgs[0].ChatID != tgChat {
		t.Errorf("Messages() = %+v, want the event's HTML in chat %d", msgs, tgChat)
	}
}
