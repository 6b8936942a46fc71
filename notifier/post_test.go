package notifier_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
)

// incidentButtons are the buttons of a message about an incident, as the client sends them.
var incidentButtons = [][]notifier.Button{{{Text: "Ack", Data: "ack:1"}, {Text: "Mute 1h", Data: "mute:1"}}}

// asFake is buttons as the fake keeps them.
func asFake(rows [][]notifier.Button) [][]telegramtest.Button {
	var out [][]telegramtest.Button
	for _, row := range rows {
		var r []telegramtest.Button
		for _, b := range row {
			r = append(r, telegramtest.Button{Text: b.Text, Data: b.Data})
		}
		out = append(out, r)
	}
	return out
}

// post sends p and returns its message_id, failing the test on an error.
func post(t *testing.T, tg *notifier.Telegram, p notifier.Post) int64 {
	t.Helper()
	id, err := tg.SendPost(context.Background(), p)
	if err != nil || id == 0 {
		t.Fatalf("SendPost(%q) = %d, %v", p.Text, id, err)
	}
	return id
}

// message is message id of chat 42 as the fake has it now.
func message(t *testing.T, srv *telegramtest.Server, id int64) telegramtest.Message {
	t.Helper()
	m, ok := srv.Message(tgChat, id)
	if !ok {
		t.Fatalf("no message %d in chat %d", id, tgChat)
	}
	return m
}

func TestSendPost(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	first := post(t, tg, notifier.Post{Target: notifier.Target{ChatID: tgChatID}, Text: "<b>backup</b> failing", ParseMode: "HTML",
		Buttons: incidentButtons})
	if got, want := message(t, srv, first), (telegramtest.Message{ID: first, ChatID: tgChat, Text: "<b>backup</b> failing",
		ParseMode: "HTML", NoLinkPreview: true, Buttons: asFake(incidentButtons)}); !reflect.DeepEqual(got, want) {
		t.Errorf("first message = %+v, want %+v", got, want)
	}

	// A recovery: a reply, silent, in plain text, without buttons; empty rows are left out.
	reply := post(t, tg, notifier.Post{Target: notifier.Target{ChatID: tgChatID, ThreadID: 9, Silent: true}, Text: "backup <ok> again",
		ReplyTo: first, Buttons: [][]notifier.Button{{}}})
	if got, want := message(t, srv, reply), (telegramtest.Message{ID: reply, ChatID: tgChat, ThreadID: 9, Text: "backup <ok> again",
		DisableNotification: true, NoLinkPreview: true, ReplyTo: first}); !reflect.DeepEqual(got, want) || reply == first {
		t.Errorf("reply = %+v, want %+v", got, want)
	}

	// A reply to a message a user deleted still goes, as a message of its own.
	srv.DeleteMessage(tgChat, first)
	orphan := post(t, tg, notifier.Post{Target: notifier.Target{ChatID: tgChatID}, Text: "backup ok", ReplyTo: first})
	if m := message(t, srv, orphan); m.ReplyTo != 0 {
		t.Errorf("a reply to a deleted message = %+v, want it sent without the reply", m)
	}
}

func TestSendPostRetries(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	srv.Fail(telegramtest.Fault{Status: 502}, telegramtest.Fault{Status: 500, Body: "<html>oops</html>"})
	id := post(t, tg, notifier.Post{Target: notifier.Target{ChatID: tgChatID}, Text: "x", Buttons: incidentButtons})
	if got := srv.Requests(); got != 3 {
		t.Errorf("%d requests, want 3", got)
	}
	if m := message(t, srv, id); !reflect.DeepEqual(m.Buttons, asFake(incidentButtons)) {
		t.Errorf("after retries: %+v", m)
	}
}

func TestSendPostRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		p    notifier.Post
		msg  string
	}{
		{"unknown chat", notifier.Post{Target: notifier.Target{ChatID: "7"}, Text: "x"}, "telegram: sendMessage: 400 Bad Request: chat not found"},
		{"callback data too long", notifier.Post{Target: notifier.Target{ChatID: tgChatID}, Text: "x",
			Buttons: [][]notifier.Button{{{Text: "Ack", Data: strings.Repeat("x", 65)}}}}, "telegram: sendMessage: 400 Bad Request: BUTTON_DATA_INVALID"},
		{"no callback data", notifier.Post{Target: notifier.Target{ChatID: tgChatID}, Text: "x",
			Buttons: [][]notifier.Button{{{Text: "Ack"}}}},
			"telegram: sendMessage: 400 Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"},
		{"bad HTML", notifier.Post{Target: notifier.Target{ChatID: tgChatID}, Text: "exit <1>", ParseMode: "HTML"},
			`telegram: sendMessage: 400 Bad Request: can't parse entities: Unsupported start tag "1" at byte offset 5`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg, srv := newTestTelegram(t)
			id, err := tg.SendPost(context.Background(), tt.p)
			if id != 0 {
				t.Errorf("SendPost = %d, want no id", id)
			}
			assertPermanent(t, srv, err, tt.msg, 400)
		})
	}
}

// An answer that says the message went but has no message_id (a proxy's, say) is a
// message sent, with no id: sending it again would send it twice.
func TestSendPostResultWithoutID(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	srv.Fail(telegramtest.Fault{Status: 200, Body: `{"ok":true,"result":{}}`}, telegramtest.Fault{Status: 200, Body: `{"ok":true,"result":{}}`})
	if id, err := tg.SendPost(context.Background(), notifier.Post{Target: notifier.Target{ChatID: tgChatID}, Text: "x"}); id != 0 || err != nil {
		t.Errorf("SendPost = %d, %v; want 0, nil", id, err)
	}
	if err := tg.Send(context.Background(), tgChatID, "x"); err != nil {
		t.Errorf("Send = %v, want nil", err)
	}
}

func TestEditPost(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	ctx := context.Background()
	to := notifier.Target{ChatID: tgChatID}
	id := post(t, tg, notifier.Post{Target: to, Text: "<b>backup</b> failing", ParseMode: "HTML", Buttons: incidentButtons})

	// Silent, ThreadID and ReplyTo are not for an edit: they change nothing.
	acked := notifier.Post{Target: notifier.Target{ChatID: tgChatID, ThreadID: 5, Silent: true}, ReplyTo: 99,
		Text: "<b>backup</b> failing, acknowledged by @ann", ParseMode: "HTML", Buttons: [][]notifier.Button{{{Text: "Unack", Data: "unack:1"}}}}
	if err := tg.EditPost(ctx, id, acked); err != nil {
		t.Fatalf("EditPost = %v", err)
	}
	want := telegramtest.Message{ID: id, ChatID: tgChat, Text: acked.Text, ParseMode: "HTML", NoLinkPreview: true,
		Buttons: asFake(acked.Buttons), Edits: 1}
	if got := message(t, srv, id); !reflect.DeepEqual(got, want) {
		t.Errorf("after EditPost: %+v, want %+v", got, want)
	}

	// The same again: Telegram's "message is not modified" is success.
	if err := tg.EditPost(ctx, id, acked); err != nil {
		t.Errorf("EditPost of the same = %v, want nil", err)
	}
	// No buttons takes the keyboard away.
	resolved := notifier.Post{Target: to, Text: "backup ok again"}
	if err := tg.EditPost(ctx, id, resolved); err != nil {
		t.Fatalf("EditPost without buttons = %v", err)
	}
	if got := message(t, srv, id); got.Text != "backup ok again" || got.ParseMode != "" || got.Buttons != nil || got.Edits != 2 {
		t.Errorf("after EditPost without buttons: %+v", got)
	}

	// A retried edit whose first attempt was made: not modified, so success.
	srv.Fail(telegramtest.Fault{Status: 502})
	if err := tg.EditPost(ctx, id, notifier.Post{Target: to, Text: "backup ok"}); err != nil {
		t.Errorf("EditPost after a 502 = %v", err)
	}
	if got := message(t, srv, id); got.Text != "backup ok" || got.Edits != 3 {
		t.Errorf("after a retried EditPost: %+v", got)
	}

	// A refused edit other than these is an error, and not ErrMessageGone.
	err := tg.EditPost(ctx, id, notifier.Post{Target: to, Text: "exit <1>", ParseMode: "HTML"})
	if !errors.Is(err, notifier.ErrPermanent) || errors.Is(err, notifier.ErrMessageGone) {
		t.Errorf("EditPost with bad HTML = %v, want permanent and not gone", err)
	}
	assertNoToken(t, err)
}

func TestEditGone(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	ctx := context.Background()
	to := notifier.Target{ChatID: tgChatID}
	id := post(t, tg, notifier.Post{Target: to, Text: "backup failing", Buttons: incidentButtons})
	srv.DeleteMessage(tgChat, id)

	before := srv.Requests()
	err := tg.EditPost(ctx, id, notifier.Post{Target: to, Text: "backup ok"})
	if !errors.Is(err, notifier.ErrMessageGone) || !errors.Is(err, notifier.ErrPermanent) {
		t.Errorf("EditPost of a deleted message = %v, want ErrMessageGone and ErrPermanent", err)
	}
	var apiErr *notifier.APIError
	if !errors.As(err, &apiErr) || apiErr.Description != "Bad Request: message to edit not found" {
		t.Errorf("errors.As(*APIError) = %+v", apiErr)
	}
	if got := srv.Requests() - before; got != 1 {
		t.Errorf("%d requests, want 1: a gone message stays gone", got)
	}
	assertNoToken(t, err)

	// The other words Telegram has for a message that cannot be edited any more.
	for _, desc := range []string{"Bad Request: message can't be edited", "Bad Request: MESSAGE_ID_INVALID"} {
		srv.Fail(telegramtest.Fault{Status: 400, Description: desc})
		if err := tg.EditPost(ctx, id, notifier.Post{Target: to, Text: "x"}); !errors.Is(err, notifier.ErrMessageGone) {
			t.Errorf("EditPost answered %q = %v, want ErrMessageGone", desc, err)
		}
	}
}

func TestPollAndAnswerPress(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat, -1001234567890)
	t.Cleanup(srv.Close)
	tg := notifier.NewTelegram(tgToken, tgChatID)
	tg.APIURL, tg.Backoff, tg.MaxWait = srv.URL(), 10*time.Millisecond, 5*time.Second
	ctx := context.Background()
	id := post(t, tg, notifier.Post{Target: notifier.Target{ChatID: tgChatID}, Text: "backup failing", Buttons: incidentButtons})
	inTopic := post(t, tg, notifier.Post{Target: notifier.Target{ChatID: "-1001234567890", ThreadID: 3}, Text: "web failing", Buttons: incidentButtons})

	srv.AddUpdate(map[string]any{"message": map[string]any{
		"message_id": 500, "date": 1700000000, "text": "/status",
		"chat": map[string]any{"id": tgChat, "type": "private"},
		"from": map[string]any{"id": 1234, "is_bot": false, "first_name": "Ann", "username": "ann"},
	}})
	q1, err := srv.Press(tgChat, id, 1234, "ann", "mute:1")
	if err != nil {
		t.Fatal(err)
	}
	q2, err := srv.Press(-1001234567890, inTopic, 99, "", "ack:1")
	if err != nil {
		t.Fatal(err)
	}

	cmds, presses, next, err := tg.Poll(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantCmds := []notifier.Command{{ChatID: tgChat, UserID: 1234, From: "@ann", Text: "/status", Date: time.Unix(1700000000, 0)}}
	if !reflect.DeepEqual(cmds, wantCmds) {
		t.Errorf("commands = %+v, want %+v", cmds, wantCmds)
	}
	wantPresses := []notifier.Press{
		{ID: q1, ChatID: tgChat, MessageID: id, UserID: 1234, From: "@ann", Data: "mute:1"},
		{ID: q2, ChatID: -1001234567890, ThreadID: 3, MessageID: inTopic, UserID: 99, From: "99", Data: "ack:1"},
	}
	if !reflect.DeepEqual(presses, wantPresses) {
		t.Errorf("presses = %+v, want %+v", presses, wantPresses)
	}
	if next != 4 {
		t.Errorf("next offset = %d, want 4", next)
	}
	if _, _, _, err := tg.Poll(ctx, next, 0); err != nil || srv.PendingUpdates() != 0 {
		t.Errorf("polling at the next offset: %v, %d updates left", err, srv.PendingUpdates())
	}

	long := strings.Repeat("😀", 150) // 300 UTF-16 units
	if err := tg.AnswerPress(ctx, presses[0].ID, long); err != nil {
		t.Fatalf("AnswerPress = %v", err)
	}
	if err := tg.AnswerPress(ctx, presses[1].ID, ""); err != nil {
		t.Fatalf("AnswerPress without text = %v", err)
	}
	answers := srv.Answers()
	if len(answers) != 2 || answers[0].QueryID != q1 || answers[1] != (telegramtest.Answer{QueryID: q2}) {
		t.Fatalf("Answers() = %+v", answers)
	}
	// 99 emoji and the "…": a 100th would not fit.
	if got, units := answers[0].Text, len(utf16.Encode([]rune(answers[0].Text))); units != 199 || got != strings.Repeat("😀", 99)+"…" {
		t.Errorf("a long answer was sent as %q (%d units), want it clipped to 200", got, units)
	}

	// A press answered twice, or too late: Telegram refuses it, at once, for good.
	before := srv.Requests()
	err = tg.AnswerPress(ctx, q1, "again")
	if !errors.Is(err, notifier.ErrPermanent) ||
		err.Error() != "telegram: answerCallbackQuery: 400 Bad Request: query is too old and response timeout expired or query ID is invalid" {
		t.Errorf("AnswerPress twice = %v", err)
	}
	assertNoToken(t, err)
	// A server error is not retried either: the press would be stale by then.
	srv.Fail(telegramtest.Fault{Status: 502})
	if err := tg.AnswerPress(ctx, "123", ""); err == nil {
		t.Errorf("AnswerPress through a 502 = nil")
	}
	if got := srv.Requests() - before; got != 2 {
		t.Errorf("%d requests for two answers, want 2: no retries", got)
	}
}

// No error of the new methods shows the token, whatever fails: the connection (Go's
// *url.Error prints the whole URL, token and all), or a proxy that echoes the URL.
func TestPostErrorsHideTheToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	to := notifier.Target{ChatID: tgChatID}
	calls := map[string]func(*notifier.Telegram) error{
		"SendPost": func(tg *notifier.Telegram) error {
			_, err := tg.SendPost(ctx, notifier.Post{Target: to, Text: "x", ReplyTo: 1, Buttons: incidentButtons})
			return err
		},
		"EditPost":    func(tg *notifier.Telegram) error { return tg.EditPost(ctx, 1, notifier.Post{Target: to, Text: "x"}) },
		"AnswerPress": func(tg *notifier.Telegram) error { return tg.AnswerPress(ctx, "1", "x") },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			refused := notifier.NewTelegram(tgToken, tgChatID)
			refused.APIURL, refused.Backoff, refused.MaxWait = refusedURL, 10*time.Millisecond, 100*time.Millisecond
			err := call(refused)
			if err == nil || !strings.Contains(err.Error(), "<redacted>") {
				t.Errorf("connection refused: %v, want an error with the URL redacted", err)
			}
			assertNoToken(t, err)

			tg, srv := newTestTelegram(t)
			srv.Fail(telegramtest.Fault{Status: 400, Description: "Bad Request: no such path /bot" + tgToken + "/x"})
			err = call(tg)
			if err == nil || !strings.Contains(err.Error(), "/bot<redacted>/x") {
				t.Errorf("an answer that echoes the token: %v", err)
			}
			assertNoToken(t, err)
		})
	}
}
