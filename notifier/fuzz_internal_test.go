package notifier

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
)

// fuzzToken is the bot token of FuzzTelegramAnswer. TOKEN in an answer stands for
// it: a proxy, or a server that is not the Bot API, may echo the request's URL,
// which holds it.
const fuzzToken = "5550123:AAG-fuzz_only_token_x9"

// answerWith is a Bot API that answers every request with status and body.
type answerWith struct {
	status int
	body   []byte
}

func (a answerWith) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{
		StatusCode: a.status, Status: fmt.Sprintf("%d %s", a.status, http.StatusText(a.status)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(a.body)),
		ContentLength: int64(len(a.body)),
		Request:       req,
	}, nil
}

// FuzzTelegramAnswer checks what holds for any answer to getUpdates, with any HTTP
// status, as Poll and Chats read it. An error never shows the token, in any verb;
// one that is the API's says its code, the wait a 429 asks for (never shorter, never
// below zero), whether sending again can help, and which 409 it is. A good answer
// gives each message and button press once: from an update the caller had not
// confirmed, and that the offset Poll returns confirms, so the next poll does not
// give it again. Chats names each chat once, its topics in order.
func FuzzTelegramAnswer(f *testing.F) {
	f.Add(uint16(0), []byte(`{"ok":true,"result":[{"update_id":9,"message":{"message_id":1,"chat":{"id":42,"type":"private"},"from":{"id":42,"username":"ann"},"date":1767225600,"text":"/status"}}]}`))
	// More seconds than a Duration holds: the wait wrapped to below zero.
	f.Add(uint16(229), []byte(`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 9223372037","parameters":{"retry_after":9223372037}}`))
	f.Add(uint16(209), []byte(`{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}`))
	f.Add(uint16(302), []byte(`<html><body>502 Bad Gateway: POST /botTOKEN/getUpdates</body></html>`))
	f.Fuzz(func(t *testing.T, status uint16, answer []byte) {
		code := 200 + int(status)%400
		body := bytes.ReplaceAll(answer, []byte("TOKEN"), []byte(fuzzToken))
		bot := NewTelegram(fuzzToken, "42")
		bot.Client = &http.Client{Transport: answerWith{code, body}}
		const offset = 7
		var (
			cmds    []Command
			presses []Press
			next    int64
			err     error
		)
		testkit.Within(t, 10*time.Second, "Poll", func() { cmds, presses, next, err = bot.Poll(context.Background(), offset, 0) })
		if err != nil {
			checkAnswerError(t, code, body, err)
			return
		}

		var reply struct {
			Result json.RawMessage `json:"result"`
		}
		var updates []tgUpdate
		if json.Unmarshal(body, &reply) != nil || json.Unmarshal(reply.Result, &updates) != nil {
			t.Fatalf("Poll took an answer that is not a list of updates: %s", body)
		}
		if next < offset {
			t.Fatalf("Poll from offset %d returned offset %d: the updates it confirmed would come again", offset, next)
		}
		// Polled again from the offset it returned, by a server that sends the same
		// updates again, Poll gives none of them twice.
		var again []Command
		var pressedAgain []Press
		var after int64
		testkit.Within(t, 10*time.Second, "Poll again", func() { again, pressedAgain, after, err = bot.Poll(context.Background(), next, 0) })
		if err != nil || len(again)+len(pressedAgain) > 0 || after != next {
			t.Fatalf("Poll from offset %d, the one it returned, gives %d messages and presses again, and offset %d (%v):\n%s",
				next, len(again)+len(pressedAgain), after, err, body)
		}
		// One message or press per update, each update once, from offset on; and,
		// from updates as Telegram sends them (their ids going up), every one.
		carried, distinct, ascending := 0, map[int64]int{}, true
		for i, u := range updates {
			n := 0
			if u.CallbackQuery != nil && u.CallbackQuery.Message != nil {
				n++
			}
			if u.Message != nil && u.Message.Text != "" {
				n++
			}
			carried += n
			if u.UpdateID >= offset {
				distinct[u.UpdateID] = max(distinct[u.UpdateID], n)
			}
			ascending = ascending && u.UpdateID >= offset && u.UpdateID < math.MaxInt64 && (i == 0 || u.UpdateID > updates[i-1].UpdateID)
		}
		most := 0
		for _, n := range distinct {
			most += n
		}
		if got := len(cmds) + len(presses); got > most || ascending && got != carried {
			t.Fatalf("Poll from offset %d gave %d messages and presses, of updates that carry %d (%d from offset %d on, each once):\n%s",
				offset, got, carried, most, offset, body)
		}
		for _, c := range cmds {
			if c.Text == "" {
				t.Fatalf("Poll gave a command without text: %+v", c)
			}
		}

		var chats []Chat
		testkit.Within(t, 10*time.Second, "chatsOf", func() { chats = chatsOf(updates) })
		seen := map[int64]bool{}
		for _, c := range chats {
			if c.ID == 0 || seen[c.ID] {
				t.Fatalf("Chats names chat %d twice, or a chat 0: %+v", c.ID, chats)
			}
			seen[c.ID] = true
			if !slices.IsSortedFunc(c.Topics, func(a, b Topic) int { return cmp.Compare(a.ID, b.ID) }) ||
				len(slices.CompactFunc(slices.Clone(c.Topics), func(a, b Topic) bool { return a.ID == b.ID })) != len(c.Topics) {
				t.Fatalf("chat %d has its topics out of order, or one twice: %+v", c.ID, c.Topics)
			}
		}
	})
}

// checkAnswerError fails t unless err is what Poll must make of an answer body with
// the HTTP status code that is not a good one.
func checkAnswerError(t *testing.T, code int, body []byte, err error) {
	t.Helper()
	for _, verb := range []string{"%v", "%+v", "%#v", "%q"} {
		if s := fmt.Sprintf(verb, err); strings.Contains(s, fuzzToken) {
			t.Fatalf("the error shows the token with %s: %s", verb, s)
		}
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return // not an answer of the API's: one that is not a list of updates
	}
	var answer struct { // as post reads it
		OK          bool            `json:"ok"`
		Result      json.RawMessage `json:"result"`
		ErrorCode   int             `json:"error_code"`
		Description string          `json:"description"`
		Parameters  struct {
			RetryAfter      int   `json:"retry_after"`
			MigrateToChatID int64 `json:"migrate_to_chat_id"`
		} `json:"parameters"`
	}
	if json.Unmarshal(body, &answer) != nil {
		if apiErr.Code != code {
			t.Fatalf("the error of an answer that is not the API's has code %d, not the HTTP status %d: %v", apiErr.Code, code, err)
		}
		return
	}
	if want := cmp.Or(answer.ErrorCode, code); apiErr.Code != want {
		t.Fatalf("the error has code %d, want %d: %v\n%s", apiErr.Code, want, err, body)
	}
	asked := answer.Parameters.RetryAfter
	if wait := apiErr.RetryAfter; wait < 0 || asked > 0 && wait/time.Second < time.Duration(min(int64(asked), math.MaxInt64/int64(time.Second))) {
		t.Fatalf("retry_after %d became a wait of %v", asked, wait)
	}
	c := apiErr.Code
	if permanent := c >= 400 && c < 500 && c != http.StatusTooManyRequests; errors.Is(err, ErrPermanent) != permanent {
		t.Fatalf("code %d: errors.Is(err, ErrPermanent) = %v: %v", c, !permanent, err)
	}
	if c == http.StatusConflict && apiErr.says("webhook") && !errors.Is(err, ErrWebhookSet) {
		t.Fatalf("a 409 about a webhook is not ErrWebhookSet: %v", err)
	}
}
