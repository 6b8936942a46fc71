package telegramtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier/telegramtest"
)

const token = "123456:TEST-token"

// answer is a Bot API response as a client sees it.
type answer struct {
	Status      int
	OK          bool `json:"ok"`
	ErrorCode   int  `json:"error_code"`
	Description string
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	}
	Result struct {
		MessageID int64 `json:"message_id"`
		Chat      struct{ ID int64 }
		Text      string
		Caption   string
		Document  struct {
			FileName string `json:"file_name"`
			MIMEType string `json:"mime_type"`
			FileSize int64  `json:"file_size"`
		}
	}
}

func postJSON(t *testing.T, url string, body any) answer {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp)
}

func decode(t *testing.T, resp *http.Response) answer {
	t.Helper()
	defer resp.Body.Close()
	a := answer{Status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return a
}

func TestServerSendMessage(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42, -1001234567890)
	defer s.Close()
	send := s.URL() + "/bot" + token + "/sendMessage"

	for _, tt := range []struct {
		name       string
		url        string
		body       map[string]any
		status     int
		desc       string
		retryAfter int
	}{
		{"ok", send, map[string]any{"chat_id": 42, "text": "<b>hi</b> &amp; bye", "parse_mode": "HTML"}, 200, "", 0},
		{"chat as string", send, map[string]any{"chat_id": "-1001234567890", "text": "x"}, 200, "", 0},
		{"method case", s.URL() + "/bot" + token + "/sendmessage", map[string]any{"chat_id": 42, "text": "x"}, 200, "", 0},
		{"wrong token", s.URL() + "/bot1:other/sendMessage", map[string]any{"chat_id": 42, "text": "x"}, 401, "Unauthorized", 0},
		{"unknown method", s.URL() + "/bot" + token + "/sendMessages", map[string]any{"chat_id": 42, "text": "x"}, 404, "Not Found", 0},
		{"no bot path", s.URL() + "/sendMessage", map[string]any{"chat_id": 42, "text": "x"}, 404, "Not Found", 0},
		{"unknown chat", send, map[string]any{"chat_id": 7, "text": "x"}, 400, "Bad Request: chat not found", 0},
		{"username chat", send, map[string]any{"chat_id": "@somebody", "text": "x"}, 400, "Bad Request: chat not found", 0},
		{"no chat", send, map[string]any{"text": "x"}, 400, "Bad Request: chat_id is empty", 0},
		{"bad HTML", send, map[string]any{"chat_id": 42, "text": "exit <1>", "parse_mode": "HTML"}, 400,
			`Bad Request: can't parse entities: Unsupported start tag "1" at byte offset 5`, 0},
		{"plain text is not parsed", send, map[string]any{"chat_id": 42, "text": "exit <1>"}, 200, "", 0},
		{"too long", send, map[string]any{"chat_id": 42, "text": strings.Repeat("x", 4097)}, 400, "Bad Request: message is too long", 0},
		{"too long after parsing", send, map[string]any{"chat_id": 42, "text": "<pre>" + strings.Repeat("😀", 2049) + "</pre>", "parse_mode": "HTML"}, 400, "Bad Request: message is too long", 0},
		{"empty", send, map[string]any{"chat_id": 42, "text": ""}, 400, "Bad Request: message text is empty", 0},
		{"bad parse mode", send, map[string]any{"chat_id": 42, "text": "x", "parse_mode": "BBCode"}, 400, "Bad Request: unsupported parse_mode", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := postJSON(t, tt.url, tt.body)
			if a.Status != tt.status || a.OK != (tt.status == 200) || a.Description != tt.desc {
				t.Errorf("got %d ok=%v %q, want %d %q", a.Status, a.OK, a.Description, tt.status, tt.desc)
			}
			if !a.OK && a.ErrorCode != tt.status {
				t.Errorf("error_code = %d, want %d", a.ErrorCode, tt.status)
			}
		})
	}

	msgs := s.Messages()
	if len(msgs) != 4 {
		t.Fatalf("accepted %d messages, want 4: %+v", len(msgs), msgs)
	}
	want := telegramtest.Message{ID: 1, ChatID: 42, Text: "<b>hi</b> &amp; bye", ParseMode: "HTML"}
	if !reflect.DeepEqual(msgs[0], want) {
		t.Errorf("first message = %+v, want %+v", msgs[0], want)
	}
	if got := s.Requests(); got != 15 {
		t.Errorf("Requests() = %d, want 15", got)
	}
}

func TestServerResultIsTheParsedText(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	a := postJSON(t, s.URL()+"/bot"+token+"/sendMessage",
		map[string]any{"chat_id": 42, "text": "<b>a &lt; b</b>", "parse_mode": "HTML"})
	if !a.OK || a.Result.MessageID != 1 || a.Result.Chat.ID != 42 || a.Result.Text != "a < b" {
		t.Errorf("answer = %+v", a)
	}
}

func TestServerForms(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	send := s.URL() + "/bot" + token + "/sendMessage"
	form := url.Values{
		"chat_id":                  {"42"},
		"text":                     {"<i>form</i>"},
		"parse_mode":               {"HTML"},
		"disable_notification":     {"true"},
		"message_thread_id":        {"9"},
		"disable_web_page_preview": {"true"},
	}
	resp, err := http.PostForm(send, form)
	if err != nil {
		t.Fatal(err)
	}
	if a := decode(t, resp); !a.OK {
		t.Fatalf("form: %+v", a)
	}
	if a := postJSON(t, send, map[string]any{
		"chat_id": 42, "text": "json", "disable_notification": true, "message_thread_id": 9,
		"link_preview_options": map[string]any{"is_disabled": true},
	}); !a.OK {
		t.Fatalf("json: %+v", a)
	}

	want := []telegramtest.Message{
		{ID: 1, ChatID: 42, ThreadID: 9, Text: "<i>form</i>", ParseMode: "HTML", DisableNotification: true, NoLinkPreview: true},
		{ID: 2, ChatID: 42, ThreadID: 9, Text: "json", DisableNotification: true, NoLinkPreview: true},
	}
	got := s.Messages()
	if len(got) != len(want) {
		t.Fatalf("Messages() = %+v, want %+v", got, want)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("message %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestServerFaults(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	send := s.URL() + "/bot" + token + "/sendMessage"
	body := map[string]any{"chat_id": 42, "text": "x"}

	s.Fail(telegramtest.Fault{Status: 429, RetryAfter: 2}, telegramtest.Fault{Status: 502})
	a := postJSON(t, send, body)
	if a.Status != 429 || a.ErrorCode != 429 || a.Description != "Too Many Requests: retry after 2" || a.Parameters.RetryAfter != 2 {
		t.Errorf("429 fault: %+v", a)
	}
	if a := postJSON(t, send, body); a.Status != 502 || a.OK || a.Description != "Bad Gateway" {
		t.Errorf("502 fault: %+v", a)
	}
	if a := postJSON(t, send, body); !a.OK {
		t.Errorf("after the faults: %+v", a)
	}

	s.Fail(telegramtest.Fault{Status: 502, Body: "<html>502 Bad Gateway</html>"})
	resp, err := http.Post(send, "application/json", strings.NewReader(`{"chat_id":42,"text":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || string(b) != "<html>502 Bad Gateway</html>" {
		t.Errorf("raw body fault: %d %q", resp.StatusCode, b)
	}

	if got := len(s.Messages()); got != 1 {
		t.Errorf("accepted %d messages, want 1", got)
	}
	if got := s.Requests(); got != 4 {
		t.Errorf("Requests() = %d, want 4", got)
	}
}

func TestServerStallUntilClientGivesUp(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	s.Fail(telegramtest.Fault{Stall: true})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL()+"/bot"+token+"/sendMessage",
		strings.NewReader(`{"chat_id":42,"text":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stalled request: %v, want a deadline error", err)
	}
	if len(s.Messages()) != 0 {
		t.Errorf("a stalled request delivered a message")
	}
}

func TestServerStallUntilClose(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	s.Fail(telegramtest.Fault{Stall: true})

	var wg sync.WaitGroup
	wg.Add(1)
	var err error
	go func() {
		defer wg.Done()
		var resp *http.Response
		resp, err = http.Post(s.URL()+"/bot"+token+"/sendMessage", "application/json",
			strings.NewReader(`{"chat_id":42,"text":"x"}`))
		if err == nil {
			resp.Body.Close()
		}
	}()
	testkit.Eventually(t, "the request at the server", func() bool { return s.Requests() > 0 })
	s.Close() // must not wait for the stalled request forever
	wg.Wait()
	if err == nil {
		t.Errorf("a request stalled until Close got an answer")
	}
}

// A taken fault keeps the message and answers with the fault all the same; a
// stall so taken leaves the client without an answer.
func TestServerTaken(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	send := s.URL() + "/bot" + token + "/sendMessage"
	s.Fail(telegramtest.Fault{Status: 502, Taken: true}, telegramtest.Fault{Stall: true, Taken: true})
	if a := postJSON(t, send, map[string]any{"chat_id": 42, "text": "first"}); a.Status != 502 || a.OK {
		t.Errorf("taken 502: %+v", a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", send, strings.NewReader(`{"chat_id":42,"text":"second"}`))
	req.Header.Set("Content-Type", "application/json")
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("taken stall: %v, want a deadline error", err)
	}
	var texts []string
	for _, m := range s.Messages() {
		texts = append(texts, m.Text)
	}
	if strings.Join(texts, " ") != "first second" {
		t.Errorf("messages %q, want both taken", texts)
	}
}

// A trickled answer is the whole answer, a byte at a time: a client that waits gets
// it, one that does not gives up with the message taken.
func TestServerTrickle(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	send := s.URL() + "/bot" + token + "/sendMessage"
	s.Fail(telegramtest.Fault{Trickle: time.Millisecond}, telegramtest.Fault{Trickle: time.Second})
	if a := postJSON(t, send, map[string]any{"chat_id": 42, "text": "fast"}); !a.OK || a.Result.Text != "fast" {
		t.Errorf("trickled answer: %+v", a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", send, strings.NewReader(`{"chat_id":42,"text":"slow"}`))
	req.Header.Set("Content-Type", "application/json")
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a byte a second: %v, want a deadline error", err)
	}
	if n := len(s.Messages()); n != 2 {
		t.Errorf("%d messages, want both taken", n)
	}
}

// ClearFaults ends the faults not met yet.
func TestServerClearFaults(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	s.Fail(telegramtest.Fault{Status: 502}, telegramtest.Fault{Status: 502})
	s.ClearFaults()
	if a := postJSON(t, s.URL()+"/bot"+token+"/sendMessage", map[string]any{"chat_id": 42, "text": "x"}); !a.OK {
		t.Errorf("after ClearFaults: %+v", a)
	}
}

// updatesAnswer is a getUpdates answer as a client sees it.
type updatesAnswer struct {
	Status      int
	OK          bool `json:"ok"`
	ErrorCode   int  `json:"error_code"`
	Description string
	Result      []struct {
		UpdateID int64 `json:"update_id"`
		Message  struct {
			Text string
		}
	}
}

func getUpdates(t *testing.T, url string, body any) updatesAnswer {
	t.Helper()
	a, err := postGetUpdates(url, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// postGetUpdates is getUpdates for a goroutine other than the test's, which must not
// call t.Fatal.
func postGetUpdates(url string, body any) (updatesAnswer, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return updatesAnswer{}, err
	}
	resp, err := http.Post(url, "application/json", strings.NewReader(string(b)))
	if err != nil {
		return updatesAnswer{}, err
	}
	defer resp.Body.Close()
	a := updatesAnswer{Status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return a, fmt.Errorf("answer is not JSON: %v", err)
	}
	return a, nil
}

// texts is the update_id:text of each update in a, in order.
func (a updatesAnswer) texts() string {
	var s []string
	for _, u := range a.Result {
		s = append(s, fmt.Sprintf("%d:%s", u.UpdateID, u.Message.Text))
	}
	return strings.Join(s, " ")
}

func textUpdate(text string) map[string]any {
	return map[string]any{"message": map[string]any{"message_id": 1, "chat": map[string]any{"id": 42, "type": "private"}, "text": text}}
}

func TestServerGetUpdates(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	get := s.URL() + "/bot" + token + "/getUpdates"

	if a := getUpdates(t, get, map[string]any{}); a.Status != 200 || !a.OK || a.Result == nil || len(a.Result) != 0 {
		t.Errorf("no updates: %+v, want ok and an empty list", a)
	}
	for i, text := range []string{"a", "b", "c", "d"} {
		u := textUpdate(text)
		u["update_id"] = 999 // replaced by the server
		if id := s.AddUpdate(u); id != int64(i+1) {
			t.Errorf("AddUpdate(%s) = %d, want %d", text, id, i+1)
		}
	}

	for _, tt := range []struct {
		name    string
		body    map[string]any
		want    string
		pending int
	}{
		{"all, not confirmed", map[string]any{"timeout": 0}, "1:a 2:b 3:c 4:d", 4},
		{"again", map[string]any{}, "1:a 2:b 3:c 4:d", 4},
		{"limit", map[string]any{"limit": 2}, "1:a 2:b", 4},
		{"limit out of range", map[string]any{"limit": 0}, "1:a", 4},
		{"offset of the first", map[string]any{"offset": 1}, "1:a 2:b 3:c 4:d", 4},
		{"offset confirms below it", map[string]any{"offset": 3}, "3:c 4:d", 2},
		{"confirmed are gone", map[string]any{}, "3:c 4:d", 2},
		{"offset as a string", map[string]any{"offset": "4"}, "4:d", 1},
		{"allowed_updates", map[string]any{"allowed_updates": []string{"message"}}, "4:d", 1},
		{"negative offset", map[string]any{"offset": -1}, "4:d", 1},
		{"offset past all", map[string]any{"offset": 5}, "", 0},
	} {
		a := getUpdates(t, get, tt.body)
		if !a.OK || a.texts() != tt.want {
			t.Errorf("%s: %+v, want %q", tt.name, a, tt.want)
		}
		if got := s.PendingUpdates(); got != tt.pending {
			t.Errorf("%s: %d pending updates, want %d", tt.name, got, tt.pending)
		}
	}

	s.AddUpdate(textUpdate("e"))
	s.AddUpdate(textUpdate("f"))
	s.AddUpdate(textUpdate("g"))
	if a := getUpdates(t, get, map[string]any{"offset": -2}); a.texts() != "6:f 7:g" || s.PendingUpdates() != 2 {
		t.Errorf("negative offset: %q with %d pending, want the last 2 kept", a.texts(), s.PendingUpdates())
	}

	// The form encoding, as a browser or curl sends it.
	resp, err := http.PostForm(get, url.Values{"offset": {"7"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s.PendingUpdates() != 1 {
		t.Errorf("form offset: %d pending, want 1", s.PendingUpdates())
	}
}

func TestServerGetUpdatesErrors(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	get := s.URL() + "/bot" + token + "/getUpdates"
	s.AddUpdate(textUpdate("a"))

	if a := getUpdates(t, s.URL()+"/bot1:other/getUpdates", map[string]any{}); a.Status != 401 || a.OK || a.Description != "Unauthorized" {
		t.Errorf("wrong token: %+v", a)
	}
	if a := getUpdates(t, get, map[string]any{"offset": "x"}); a.Status != 400 || a.OK {
		t.Errorf("bad offset: %+v", a)
	}

	s.SetWebhook("https://example.com/hook")
	a := getUpdates(t, get, map[string]any{})
	if a.Status != 409 || a.ErrorCode != 409 || a.OK ||
		a.Description != "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first" {
		t.Errorf("with a webhook: %+v", a)
	}
	s.SetWebhook("")

	s.Fail(telegramtest.Fault{Status: 502})
	if a := getUpdates(t, get, map[string]any{}); a.Status != 502 || a.OK {
		t.Errorf("502 fault: %+v", a)
	}
	if a := getUpdates(t, get, map[string]any{}); !a.OK || a.texts() != "1:a" {
		t.Errorf("after the webhook and the fault: %+v", a)
	}
	if s.PendingUpdates() != 1 {
		t.Errorf("%d pending updates, want 1: errors confirm nothing", s.PendingUpdates())
	}
}

func TestServerGetUpdatesLongPoll(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	get := s.URL() + "/bot" + token + "/getUpdates"

	done := make(chan updatesAnswer)
	go func() {
		a, err := postGetUpdates(get, map[string]any{"timeout": 30})
		if err != nil {
			t.Error(err)
		}
		done <- a
	}()
	// An update added before the request waits would be answered at once, and the
	// wake-up this test is about would go untested.
	testkit.Eventually(t, "the long poll waiting", func() bool { return s.LongPolls() == 1 })
	s.AddUpdate(textUpdate("late"))
	select {
	case a := <-done:
		if a.texts() != "1:late" {
			t.Errorf("long poll: %+v, want the update added while it waited", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a long poll did not return when an update came")
	}

	start := time.Now()
	if a := getUpdates(t, get, map[string]any{"timeout": 1, "offset": 2}); !a.OK || len(a.Result) != 0 {
		t.Errorf("long poll with nothing: %+v", a)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("long poll with nothing returned after %v, want about its 1s timeout", d)
	}
}

// formFile is a file part of a multipart form.
type formFile struct {
	field, name, mimeType string
	content               io.Reader
}

// postMultipart sends fields, in order, and files as multipart/form-data, streamed,
// so that a file of any size costs no memory here.
func postMultipart(t *testing.T, url string, fields [][2]string, files ...formFile) answer {
	t.Helper()
	pr, pw := io.Pipe()
	w := multipart.NewWriter(pw)
	go func() {
		for _, f := range fields {
			if err := w.WriteField(f[0], f[1]); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		for _, f := range files {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", multipart.FileContentDisposition(f.field, f.name))
			if f.mimeType != "" {
				h.Set("Content-Type", f.mimeType)
			}
			part, err := w.CreatePart(h)
			if err == nil {
				_, err = io.Copy(part, f.content)
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(w.Close())
	}()
	resp, err := http.Post(url, w.FormDataContentType(), pr)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp)
}

// zeros reads as an endless run of NUL bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func logFile(content string) formFile {
	return formFile{"document", "job.log", "text/plain; charset=utf-8", strings.NewReader(content)}
}

func TestServerSendDocument(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42, -1001234567890)
	defer s.Close()
	send := s.URL() + "/bot" + token + "/sendDocument"
	chat := [2]string{"chat_id", "42"}
	longCaption := "<b>" + strings.Repeat("x", telegramtest.MaxCaptionLength+1) + "</b>"

	for _, tt := range []struct {
		name   string
		url    string
		fields [][2]string
		files  []formFile
		status int
		desc   string
	}{
		{"ok", send, [][2]string{chat, {"caption", "<b>backup</b> &amp; more"}, {"parse_mode", "HTML"}, {"disable_notification", "true"}},
			[]formFile{logFile("line 1\n\x00\xff")}, 200, ""},
		{"no caption, in a topic", send, [][2]string{{"chat_id", "-1001234567890"}, {"message_thread_id", "9"}}, []formFile{logFile("x")}, 200, ""},
		{"bad topic", send, [][2]string{chat, {"message_thread_id", "nine"}}, []formFile{logFile("x")}, 400,
			"Bad Request: invalid message thread identifier specified"},
		{"method case", s.URL() + "/bot" + token + "/senddocument", [][2]string{chat}, []formFile{logFile("x")}, 200, ""},
		{"chat in the query", send + "?chat_id=42", nil, []formFile{logFile("x")}, 200, ""},
		{"caption of 1024 after parsing", send, [][2]string{chat, {"caption", "<b>" + strings.Repeat("x", 1024) + "</b>"}, {"parse_mode", "HTML"}},
			[]formFile{logFile("x")}, 200, ""},
		{"wrong token", s.URL() + "/bot1:other/sendDocument", [][2]string{chat}, []formFile{logFile("x")}, 401, "Unauthorized"},
		{"unknown chat", send, [][2]string{{"chat_id", "7"}}, []formFile{logFile("x")}, 400, "Bad Request: chat not found"},
		{"username chat", send, [][2]string{{"chat_id", "@somebody"}}, []formFile{logFile("x")}, 400, "Bad Request: chat not found"},
		{"no chat", send, nil, []formFile{logFile("x")}, 400, "Bad Request: chat_id is empty"},
		{"no document", send, [][2]string{chat, {"caption", "x"}}, nil, 400, "Bad Request: there is no document in the request"},
		{"document in another field", send, [][2]string{chat}, []formFile{{"file", "job.log", "", strings.NewReader("x")}}, 400,
			"Bad Request: there is no document in the request"},
		{"document as a file_id", send, [][2]string{chat, {"document", "BQACAgIAAxkBAAIBZ2"}}, nil, 400,
			"Bad Request: wrong remote file identifier specified: Wrong character in the string"},
		{"document as a URL", send, [][2]string{chat, {"document", "https://example.com/job.log"}}, nil, 400,
			"Bad Request: wrong remote file identifier specified: Wrong character in the string"},
		{"empty file", send, [][2]string{chat}, []formFile{logFile("")}, 400, "Bad Request: file must be non-empty"},
		{"bad caption HTML", send, [][2]string{chat, {"caption", "exit <1>"}, {"parse_mode", "HTML"}}, []formFile{logFile("x")}, 400,
			`Bad Request: can't parse entities: Unsupported start tag "1" at byte offset 5`},
		{"plain caption is not parsed", send, [][2]string{chat, {"caption", "exit <1>"}}, []formFile{logFile("x")}, 200, ""},
		{"caption too long after parsing", send, [][2]string{chat, {"caption", longCaption}, {"parse_mode", "HTML"}}, []formFile{logFile("x")}, 400,
			"Bad Request: message caption is too long"},
		{"caption too long in UTF-16", send, [][2]string{chat, {"caption", strings.Repeat("😀", 513)}}, []formFile{logFile("x")}, 400,
			"Bad Request: message caption is too long"},
		{"bad parse mode", send, [][2]string{chat, {"caption", "x"}, {"parse_mode", "BBCode"}}, []formFile{logFile("x")}, 400,
			"Bad Request: unsupported parse_mode"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := postMultipart(t, tt.url, tt.fields, tt.files...)
			if a.Status != tt.status || a.OK != (tt.status == 200) || a.Description != tt.desc {
				t.Errorf("got %d ok=%v %q, want %d %q", a.Status, a.OK, a.Description, tt.status, tt.desc)
			}
			if !a.OK && a.ErrorCode != tt.status {
				t.Errorf("error_code = %d, want %d", a.ErrorCode, tt.status)
			}
		})
	}

	docs := s.Documents()
	if len(docs) != 6 {
		t.Fatalf("accepted %d documents, want 6", len(docs))
	}
	want := telegramtest.Document{ID: 1, ChatID: 42, Name: "job.log", MIMEType: "text/plain; charset=utf-8",
		Content: []byte("line 1\n\x00\xff"), Caption: "<b>backup</b> &amp; more", ParseMode: "HTML", DisableNotification: true}
	if got := docs[0]; got.ID != want.ID || got.ChatID != want.ChatID || got.Name != want.Name || got.MIMEType != want.MIMEType ||
		!bytes.Equal(got.Content, want.Content) || got.Caption != want.Caption || got.ParseMode != want.ParseMode ||
		got.DisableNotification != want.DisableNotification {
		t.Errorf("first document = %+v, want %+v", got, want)
	}
	if docs[1].ChatID != -1001234567890 || docs[1].ThreadID != 9 || docs[1].Caption != "" || docs[1].ParseMode != "" || docs[1].DisableNotification {
		t.Errorf("second document = %+v", docs[1])
	}
	if got := s.Requests(); got != 20 {
		t.Errorf("Requests() = %d, want 20", got)
	}
	if len(s.Messages()) != 0 {
		t.Errorf("documents were recorded as messages")
	}
}

func TestServerSendDocumentResult(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	a := postMultipart(t, s.URL()+"/bot"+token+"/sendDocument",
		[][2]string{{"chat_id", "42"}, {"caption", "<b>a &lt; b</b>"}, {"parse_mode", "HTML"}},
		formFile{"document", "журнал 03:00.log", "text/plain; charset=utf-8", strings.NewReader("12345")})
	r := a.Result
	if !a.OK || r.MessageID != 1 || r.Chat.ID != 42 || r.Caption != "a < b" ||
		r.Document.FileName != "журнал 03:00.log" || r.Document.MIMEType != "text/plain" || r.Document.FileSize != 5 {
		t.Errorf("answer = %+v", a)
	}
	// Documents returns copies: what a test does with them changes nothing.
	s.Documents()[0].Content[0] = 'x'
	if got := s.Documents()[0]; string(got.Content) != "12345" || got.Name != "журнал 03:00.log" {
		t.Errorf("document = %+v", got)
	}
}

func TestServerSendDocumentNotMultipart(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	send := s.URL() + "/bot" + token + "/sendDocument"
	if a := postJSON(t, send, map[string]any{"chat_id": 42, "document": "BQACAgIAAxkBAAIBZ2"}); a.Status != 400 ||
		a.Description != "Bad Request: wrong remote file identifier specified: Wrong character in the string" {
		t.Errorf("JSON with a file_id: %+v", a)
	}
	if a := postJSON(t, send, map[string]any{"chat_id": 42}); a.Status != 400 ||
		a.Description != "Bad Request: there is no document in the request" {
		t.Errorf("JSON without a document: %+v", a)
	}
	resp, err := http.PostForm(send, url.Values{"chat_id": {"42"}, "document": {"https://example.com/a.log"}})
	if err != nil {
		t.Fatal(err)
	}
	if a := decode(t, resp); a.Status != 400 || a.Description != "Bad Request: wrong remote file identifier specified: Wrong character in the string" {
		t.Errorf("form with a URL: %+v", a)
	}
	if len(s.Documents()) != 0 {
		t.Errorf("accepted a document that was not uploaded")
	}
}

func TestServerSendDocumentTooLarge(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("uploads 50 MB")
	}
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	// The form is laid out by hand around the file, which is read in place: under the
	// race detector, each copy of 50 MB takes seconds.
	var head, tail bytes.Buffer
	w := multipart.NewWriter(&head)
	w.WriteField("chat_id", "42")
	w.CreateFormFile("document", "big.log")
	tail.WriteString("\r\n--" + w.Boundary() + "--\r\n")
	size := telegramtest.MaxDocumentSize + 1
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/bot"+token+"/sendDocument",
		io.MultiReader(&head, bytes.NewReader(make([]byte, size)), &tail))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(head.Len() + size + tail.Len())
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	a := decode(t, resp)
	if a.Status != 413 || a.OK || a.ErrorCode != 413 || a.Description != "Request Entity Too Large" {
		t.Errorf("50 MB and a byte: %+v, want 413 Request Entity Too Large", a)
	}
	if len(s.Documents()) != 0 {
		t.Errorf("accepted a file over the limit")
	}
}

func TestServerSendDocumentLimit(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42, 43)
	defer s.Close()
	base := s.URL() + "/bot" + token
	s.Limit(time.Hour)

	if a := postJSON(t, base+"/sendMessage", map[string]any{"chat_id": 42, "text": "x"}); !a.OK {
		t.Fatalf("first message: %+v", a)
	}
	a := postMultipart(t, base+"/sendDocument", [][2]string{{"chat_id", "42"}}, logFile("x"))
	if a.Status != 429 || a.ErrorCode != 429 || a.Parameters.RetryAfter < 3500 || !strings.HasPrefix(a.Description, "Too Many Requests: retry after ") {
		t.Errorf("document right after a message: %+v, want 429 and about an hour to wait", a)
	}
	// The other way round: a document counts as the chat's message.
	if a := postMultipart(t, base+"/sendDocument", [][2]string{{"chat_id", "43"}}, logFile("x")); !a.OK || a.Result.MessageID != 2 {
		t.Fatalf("first document to the other chat: %+v, want message 2", a)
	}
	if a := postJSON(t, base+"/sendMessage", map[string]any{"chat_id": 43, "text": "x"}); a.Status != 429 {
		t.Errorf("message right after a document: %+v, want 429", a)
	}
	if got := s.Throttled(); got != 2 {
		t.Errorf("Throttled() = %d, want 2", got)
	}
}

func TestServerSendDocumentFaults(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	send := s.URL() + "/bot" + token + "/sendDocument"
	// Larger than what Go's server would read and throw away by itself (256 KiB), so
	// that the answer comes while the client is still sending unless the fake reads it.
	big := func() formFile {
		return formFile{"document", "big.log", "text/plain", io.LimitReader(zeros{}, 4<<20)}
	}

	s.Fail(telegramtest.Fault{Status: 429, RetryAfter: 2}, telegramtest.Fault{Status: 502},
		telegramtest.Fault{Status: 502, Body: "<html>502 Bad Gateway</html>"})
	if a := postMultipart(t, send, [][2]string{{"chat_id", "42"}}, big()); a.Status != 429 || a.Parameters.RetryAfter != 2 {
		t.Errorf("429 fault: %+v", a)
	}
	if a := postMultipart(t, send, [][2]string{{"chat_id", "42"}}, big()); a.Status != 502 || a.Description != "Bad Gateway" {
		t.Errorf("502 fault: %+v", a)
	}
	pr, pw := io.Pipe()
	w := multipart.NewWriter(pw)
	go func() {
		w.WriteField("chat_id", "42")
		part, _ := w.CreateFormFile("document", "big.log")
		io.Copy(part, io.LimitReader(zeros{}, 4<<20))
		pw.CloseWithError(w.Close())
	}()
	resp, err := http.Post(send, w.FormDataContentType(), pr)
	if err != nil {
		t.Fatalf("a fault's answer to a large upload: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || string(b) != "<html>502 Bad Gateway</html>" {
		t.Errorf("raw body fault: %d %q", resp.StatusCode, b)
	}
	if a := postMultipart(t, s.URL()+"/bot1:other/sendDocument", [][2]string{{"chat_id", "42"}}, big()); a.Status != 401 {
		t.Errorf("wrong token with a large upload: %+v", a)
	}
	if a := postMultipart(t, send, [][2]string{{"chat_id", "42"}}, big()); !a.OK {
		t.Errorf("after the faults: %+v", a)
	}
	if got := len(s.Documents()); got != 1 {
		t.Errorf("accepted %d documents, want 1", got)
	}
}

// notModified is Telegram's answer to an edit that changes nothing.
const notModified = "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"

// rawAnswer is a Bot API response with its result left as JSON, for the methods whose
// result is not a message.
type rawAnswer struct {
	Status      int
	OK          bool `json:"ok"`
	ErrorCode   int  `json:"error_code"`
	Description string
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	}
	Result json.RawMessage
}

func call(t *testing.T, url string, body any) rawAnswer {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := rawAnswer{Status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return a
}

// want checks that a is the answer with status and description (none for 200).
func (a rawAnswer) want(t *testing.T, what string, status int, desc string) {
	t.Helper()
	if a.Status != status || a.OK != (status == 200) || a.Description != desc || (!a.OK && a.ErrorCode != status) {
		t.Errorf("%s: got %d ok=%v error_code=%d %q, want %d %q", what, a.Status, a.OK, a.ErrorCode, a.Description, status, desc)
	}
}

// sentMessage is the part of a Message result that the tests of edits and replies read.
type sentMessage struct {
	MessageID      int64 `json:"message_id"`
	Date           int64
	EditDate       int64 `json:"edit_date"`
	Text           string
	Chat           struct{ ID int64 }
	ReplyToMessage *struct {
		MessageID int64 `json:"message_id"`
	} `json:"reply_to_message"`
	ReplyMarkup *struct {
		InlineKeyboard [][]struct {
			Text         string
			CallbackData string `json:"callback_data"`
		} `json:"inline_keyboard"`
	} `json:"reply_markup"`
}

func (a rawAnswer) message(t *testing.T) sentMessage {
	t.Helper()
	var m sentMessage
	if err := json.Unmarshal(a.Result, &m); err != nil {
		t.Fatalf("result is not a message: %s", a.Result)
	}
	return m
}

// keyboardOf is an inline keyboard of one row of callback buttons, each "text=data".
func keyboardOf(buttons ...string) map[string]any {
	var row []map[string]any
	for _, b := range buttons {
		text, data, _ := strings.Cut(b, "=")
		row = append(row, map[string]any{"text": text, "callback_data": data})
	}
	return map[string]any{"inline_keyboard": [][]map[string]any{row}}
}

func TestServerRepliesAndButtons(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42, 43)
	defer s.Close()
	send := s.URL() + "/bot" + token + "/sendMessage"
	if a := call(t, send, map[string]any{"chat_id": 42, "text": "first"}); !a.OK {
		t.Fatalf("first message: %+v", a)
	}
	if a := call(t, send, map[string]any{"chat_id": 43, "text": "elsewhere"}); !a.OK {
		t.Fatalf("message to the other chat: %+v", a)
	}
	accepted := 2

	const markupError = "Bad Request: can't parse reply keyboard markup JSON object"
	const rowsError = `Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays`
	for _, tt := range []struct {
		name        string
		body        map[string]any
		status      int
		desc        string
		replyTo     int64
		buttons     [][]telegramtest.Button
		result      bool // check the answer's reply_to_message and reply_markup
		resultReply int64
	}{
		{"reply", map[string]any{"reply_parameters": map[string]any{"message_id": 1}}, 200, "", 1, nil, true, 1},
		{"reply as a JSON string", map[string]any{"reply_parameters": `{"message_id":1}`}, 200, "", 1, nil, false, 0},
		{"legacy reply", map[string]any{"reply_to_message_id": 1}, 200, "", 1, nil, false, 0},
		{"reply to nothing", map[string]any{"reply_parameters": map[string]any{"message_id": 99}}, 400,
			"Bad Request: message to be replied not found", 0, nil, false, 0},
		{"reply to another chat's message", map[string]any{"reply_parameters": map[string]any{"message_id": 2}}, 400,
			"Bad Request: message to be replied not found", 0, nil, false, 0},
		{"reply to nothing, allowed", map[string]any{"reply_parameters": map[string]any{"message_id": 99, "allow_sending_without_reply": true}},
			200, "", 0, nil, true, 0},
		{"legacy reply to nothing", map[string]any{"reply_to_message_id": 99}, 400, "Bad Request: message to be replied not found", 0, nil, false, 0},
		{"legacy reply to nothing, allowed", map[string]any{"reply_to_message_id": 99, "allow_sending_without_reply": true}, 200, "", 0, nil, false, 0},
		{"reply without a message_id", map[string]any{"reply_parameters": map[string]any{"allow_sending_without_reply": true}}, 400,
			"Bad Request: can't parse reply parameters JSON object", 0, nil, false, 0},
		{"reply parameters not JSON", map[string]any{"reply_parameters": "{"}, 400,
			"Bad Request: can't parse reply parameters JSON object", 0, nil, false, 0},
		{"buttons", map[string]any{"reply_markup": map[string]any{"inline_keyboard": [][]map[string]any{
			{{"text": "Ack", "callback_data": "ack:1"}, {"text": "Mute 1h", "callback_data": "mute:1"}},
			{},
			{{"text": "Logs", "callback_data": strings.Repeat("x", 64)}},
		}}}, 200, "", 0, [][]telegramtest.Button{{{"Ack", "ack:1"}, {"Mute 1h", "mute:1"}}, {{"Logs", strings.Repeat("x", 64)}}}, true, 0},
		{"buttons as a JSON string", map[string]any{"reply_markup": `{"inline_keyboard":[[{"text":"Ack","callback_data":"a"}]]}`},
			200, "", 0, [][]telegramtest.Button{{{"Ack", "a"}}}, false, 0},
		{"reply and buttons", map[string]any{"reply_parameters": map[string]any{"message_id": 1}, "reply_markup": keyboardOf("Ack=a")},
			200, "", 1, [][]telegramtest.Button{{{"Ack", "a"}}}, true, 1},
		{"no inline keyboard", map[string]any{"reply_markup": map[string]any{"remove_keyboard": true}}, 200, "", 0, nil, false, 0},
		{"empty inline keyboard", map[string]any{"reply_markup": map[string]any{"inline_keyboard": [][]any{}}}, 200, "", 0, nil, true, 0},
		{"markup not JSON", map[string]any{"reply_markup": "{"}, 400, markupError, 0, nil, false, 0},
		{"markup not an object", map[string]any{"reply_markup": []int{1}}, 400, markupError, 0, nil, false, 0},
		{"rows not arrays", map[string]any{"reply_markup": map[string]any{"inline_keyboard": []string{"a"}}}, 400, rowsError, 0, nil, false, 0},
		{"keyboard not an array", map[string]any{"reply_markup": map[string]any{"inline_keyboard": "a"}}, 400, rowsError, 0, nil, false, 0},
		{"button not an object", map[string]any{"reply_markup": map[string]any{"inline_keyboard": [][]any{{"a"}}}}, 400,
			"Bad Request: can't parse inline keyboard button: InlineKeyboardButton should be an Object", 0, nil, false, 0},
		{"button without text", map[string]any{"reply_markup": map[string]any{"inline_keyboard": [][]any{{map[string]any{"callback_data": "a"}}}}}, 400,
			`Bad Request: can't parse inline keyboard button: Can't find field "text"`, 0, nil, false, 0},
		{"button text not a string", map[string]any{"reply_markup": map[string]any{"inline_keyboard": [][]any{{map[string]any{"text": 1, "callback_data": "a"}}}}}, 400,
			`Bad Request: can't parse inline keyboard button: Field "text" must be of type String`, 0, nil, false, 0},
		{"text button", map[string]any{"reply_markup": map[string]any{"inline_keyboard": [][]any{{map[string]any{"text": "Ack"}}}}}, 400,
			"Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard", 0, nil, false, 0},
		{"empty callback data", map[string]any{"reply_markup": keyboardOf("Ack=")}, 400,
			"Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard", 0, nil, false, 0},
		{"empty button text", map[string]any{"reply_markup": keyboardOf("=ack")}, 400, "Bad Request: BUTTON_TEXT_INVALID", 0, nil, false, 0},
		{"callback data of 65 bytes", map[string]any{"reply_markup": keyboardOf("Ack=" + strings.Repeat("é", 32) + "x")}, 400,
			"Bad Request: BUTTON_DATA_INVALID", 0, nil, false, 0},
		{"URL button", map[string]any{"reply_markup": map[string]any{"inline_keyboard": [][]any{{map[string]any{"text": "Docs", "url": "https://example.com"}}}}}, 400,
			"Bad Request: telegramtest: inline buttons with url are not supported, only callback_data", 0, nil, false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"chat_id": 42, "text": tt.name}
			for k, v := range tt.body {
				body[k] = v
			}
			a := call(t, send, body)
			a.want(t, "sendMessage", tt.status, tt.desc)
			if !a.OK {
				return
			}
			accepted++
			m := a.message(t)
			got, ok := s.Message(42, m.MessageID)
			if !ok || got.Text != tt.name || got.ReplyTo != tt.replyTo || !reflect.DeepEqual(got.Buttons, tt.buttons) {
				t.Errorf("Message(42, %d) = %+v, %v; want reply to %d, buttons %v", m.MessageID, got, ok, tt.replyTo, tt.buttons)
			}
			if !tt.result {
				return
			}
			if reply := m.ReplyToMessage; (reply == nil) != (tt.resultReply == 0) || reply != nil && reply.MessageID != tt.resultReply {
				t.Errorf("reply_to_message = %+v, want message %d", reply, tt.resultReply)
			}
			if mk := m.ReplyMarkup; (mk == nil) != (tt.buttons == nil) ||
				mk != nil && (len(mk.InlineKeyboard) != len(tt.buttons) || mk.InlineKeyboard[0][0].CallbackData != tt.buttons[0][0].Data) {
				t.Errorf("reply_markup = %+v, want %v", mk, tt.buttons)
			}
		})
	}
	if got := len(s.Messages()); got != accepted {
		t.Errorf("accepted %d messages, want %d", got, accepted)
	}
	if _, ok := s.Message(43, 1); ok {
		t.Errorf("Message(43, 1) found chat 42's message in chat 43")
	}
}

// sendWithButtons sends text to chat with one row of buttons ("text=data") and
// returns its message_id.
func sendWithButtons(t *testing.T, s *telegramtest.Server, chat int64, text string, buttons ...string) int64 {
	t.Helper()
	body := map[string]any{"chat_id": chat, "text": text, "parse_mode": "HTML"}
	if len(buttons) > 0 {
		body["reply_markup"] = keyboardOf(buttons...)
	}
	a := call(t, s.URL()+"/bot"+token+"/sendMessage", body)
	if !a.OK {
		t.Fatalf("sendMessage: %+v", a)
	}
	return a.message(t).MessageID
}

func TestServerEditMessageText(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42, 43)
	defer s.Close()
	edit := s.URL() + "/bot" + token + "/editMessageText"
	id := sendWithButtons(t, s, 42, "<b>backup</b> failing", "Ack=ack:1")
	other := sendWithButtons(t, s, 43, "other chat")
	doc := postMultipart(t, s.URL()+"/bot"+token+"/sendDocument", [][2]string{{"chat_id", "42"}}, logFile("x")).Result.MessageID
	gone := sendWithButtons(t, s, 42, "gone")
	s.DeleteMessage(42, gone)

	same := map[string]any{"chat_id": 42, "message_id": id, "text": "<b>backup</b> failing", "parse_mode": "HTML", "reply_markup": keyboardOf("Ack=ack:1")}
	with := func(changes map[string]any) map[string]any {
		body := map[string]any{}
		for k, v := range same {
			body[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(body, k)
			} else {
				body[k] = v
			}
		}
		return body
	}
	for _, tt := range []struct {
		name   string
		body   map[string]any
		status int
		desc   string
	}{
		{"the same", same, 400, notModified},
		{"the same, chat as a string", with(map[string]any{"chat_id": "42"}), 400, notModified},
		{"unknown chat", with(map[string]any{"chat_id": 7}), 400, "Bad Request: chat not found"},
		{"no chat", with(map[string]any{"chat_id": nil}), 400, "Bad Request: message identifier is not specified"},
		{"no message", with(map[string]any{"message_id": nil}), 400, "Bad Request: message identifier is not specified"},
		{"inline message", map[string]any{"inline_message_id": "AAA", "text": "x"}, 400, "Bad Request: telegramtest: inline_message_id is not supported"},
		{"no such message", with(map[string]any{"message_id": 99}), 400, "Bad Request: message to edit not found"},
		{"another chat's message", with(map[string]any{"message_id": other}), 400, "Bad Request: message to edit not found"},
		{"deleted message", with(map[string]any{"message_id": gone}), 400, "Bad Request: message to edit not found"},
		{"a document", with(map[string]any{"message_id": doc}), 400, "Bad Request: there is no text in the message to edit"},
		{"bad HTML", with(map[string]any{"text": "exit <1>"}), 400, `Bad Request: can't parse entities: Unsupported start tag "1" at byte offset 5`},
		{"too long", with(map[string]any{"text": strings.Repeat("x", 4097), "parse_mode": nil}), 400, "Bad Request: message is too long"},
		{"empty", with(map[string]any{"text": "<b> </b>"}), 400, "Bad Request: message text is empty"},
		{"bad markup", with(map[string]any{"reply_markup": "{"}), 400, "Bad Request: can't parse reply keyboard markup JSON object"},
		{"bad button", with(map[string]any{"reply_markup": keyboardOf("Ack=" + strings.Repeat("x", 65))}), 400, "Bad Request: BUTTON_DATA_INVALID"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			call(t, edit, tt.body).want(t, "editMessageText", tt.status, tt.desc)
		})
	}
	if m, _ := s.Message(42, id); m.Edits != 0 || m.Text != "<b>backup</b> failing" {
		t.Fatalf("refused edits changed the message: %+v", m)
	}

	steps := []struct {
		name    string
		body    map[string]any
		text    string
		buttons [][]telegramtest.Button
	}{
		{"new buttons only", with(map[string]any{"reply_markup": keyboardOf("Ack=ack:1", "Mute=mute:1")}),
			"<b>backup</b> failing", [][]telegramtest.Button{{{"Ack", "ack:1"}, {"Mute", "mute:1"}}}},
		{"new text, no markup: no buttons", with(map[string]any{"text": "<b>backup</b> ok again", "reply_markup": nil}),
			"<b>backup</b> ok again", nil},
		{"the same text as plain text", with(map[string]any{"text": "<b>backup</b> ok again", "parse_mode": nil, "reply_markup": nil}),
			"<b>backup</b> ok again", nil},
	}
	for i, step := range steps {
		a := call(t, edit, step.body)
		a.want(t, step.name, 200, "")
		if !a.OK {
			continue
		}
		m := a.message(t)
		if m.MessageID != id || m.Chat.ID != 42 || m.EditDate == 0 || m.Date == 0 || (m.ReplyMarkup != nil) != (step.buttons != nil) {
			t.Errorf("%s: result %+v", step.name, m)
		}
		got, ok := s.Message(42, id)
		if !ok || got.Text != step.text || !reflect.DeepEqual(got.Buttons, step.buttons) || got.Edits != i+1 {
			t.Errorf("%s: Message = %+v, want text %q, buttons %v, %d edits", step.name, got, step.text, step.buttons, i+1)
		}
	}
	if a := call(t, edit, with(map[string]any{"text": "<b>backup</b> ok again", "parse_mode": nil, "reply_markup": nil})); a.Description != notModified {
		t.Errorf("the last edit again: %+v, want not modified", a)
	}
	if msgs := s.Messages(); len(msgs) != 3 || msgs[0].Text != "<b>backup</b> ok again" || msgs[0].Edits != 3 || !msgs[2].Deleted {
		t.Errorf("Messages() = %+v, want the first as edited and the third deleted", msgs)
	}
}

func TestServerEditMessageReplyMarkup(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	edit := s.URL() + "/bot" + token + "/editMessageReplyMarkup"
	id := sendWithButtons(t, s, 42, "<i>job</i> failing", "Ack=ack")
	doc := postMultipart(t, s.URL()+"/bot"+token+"/sendDocument", [][2]string{{"chat_id", "42"}}, logFile("x")).Result.MessageID

	for _, tt := range []struct {
		name    string
		body    map[string]any
		status  int
		desc    string
		buttons [][]telegramtest.Button
	}{
		{"the same", map[string]any{"chat_id": 42, "message_id": id, "reply_markup": keyboardOf("Ack=ack")}, 400, notModified, nil},
		{"unknown chat", map[string]any{"chat_id": 7, "message_id": id}, 400, "Bad Request: chat not found", nil},
		{"no such message", map[string]any{"chat_id": 42, "message_id": 99}, 400, "Bad Request: message to edit not found", nil},
		{"a document", map[string]any{"chat_id": 42, "message_id": doc}, 400,
			"Bad Request: telegramtest: editing the reply markup of a document is not supported", nil},
		{"bad markup", map[string]any{"chat_id": 42, "message_id": id, "reply_markup": "{"}, 400, "Bad Request: can't parse reply keyboard markup JSON object", nil},
		{"new buttons", map[string]any{"chat_id": 42, "message_id": id, "reply_markup": keyboardOf("Unmute=unmute")}, 200, "",
			[][]telegramtest.Button{{{"Unmute", "unmute"}}}},
		{"none", map[string]any{"chat_id": 42, "message_id": id}, 200, "", nil},
		{"none again", map[string]any{"chat_id": 42, "message_id": id, "reply_markup": map[string]any{"inline_keyboard": [][]any{}}}, 400, notModified, nil},
	} {
		a := call(t, edit, tt.body)
		a.want(t, tt.name, tt.status, tt.desc)
		if !a.OK {
			continue
		}
		if m := a.message(t); m.MessageID != id || m.Text != "job failing" || m.EditDate == 0 {
			t.Errorf("%s: result %+v", tt.name, m)
		}
		if got, _ := s.Message(42, id); got.Text != "<i>job</i> failing" || got.ParseMode != "HTML" || !reflect.DeepEqual(got.Buttons, tt.buttons) {
			t.Errorf("%s: Message = %+v, want the text kept and buttons %v", tt.name, got, tt.buttons)
		}
	}
	if got, _ := s.Message(42, id); got.Edits != 2 {
		t.Errorf("%d edits, want 2", got.Edits)
	}
}

func TestServerEditsCountTowardsTheLimit(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	id := sendWithButtons(t, s, 42, "a", "Ack=ack")
	s.Limit(time.Hour)
	base := s.URL() + "/bot" + token
	// Not throttled: before Limit, the message was not counted.
	call(t, base+"/editMessageText", map[string]any{"chat_id": 42, "message_id": id, "text": "b"}).want(t, "first edit", 200, "")
	for _, method := range []string{"editMessageText", "editMessageReplyMarkup"} {
		a := call(t, base+"/"+method, map[string]any{"chat_id": 42, "message_id": id, "text": "c", "reply_markup": keyboardOf("X=x")})
		if a.Status != 429 || a.ErrorCode != 429 || a.Parameters.RetryAfter < 3500 || !strings.HasPrefix(a.Description, "Too Many Requests: retry after ") {
			t.Errorf("%s right after an edit: %+v, want 429 and about an hour to wait", method, a)
		}
	}
	// An edit that changes nothing is refused before flood control counts it.
	call(t, base+"/editMessageText", map[string]any{"chat_id": 42, "message_id": id, "text": "b"}).want(t, "no change", 400,
		notModified)
	if got, _ := s.Message(42, id); got.Text != "b" || got.Edits != 1 || got.Buttons != nil {
		t.Errorf("Message = %+v, want only the first edit", got)
	}
	if got := s.Throttled(); got != 2 {
		t.Errorf("Throttled() = %d, want 2", got)
	}
}

func TestServerDeleteMessage(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42)
	defer s.Close()
	id := sendWithButtons(t, s, 42, "incident", "Ack=ack")
	if s.DeleteMessage(43, id) || s.DeleteMessage(42, 99) {
		t.Errorf("DeleteMessage deleted a message that is not there")
	}
	if !s.DeleteMessage(42, id) {
		t.Fatalf("DeleteMessage(42, %d) = false", id)
	}
	if s.DeleteMessage(42, id) {
		t.Errorf("DeleteMessage deleted a message twice")
	}
	if m, ok := s.Message(42, id); ok {
		t.Errorf("Message of a deleted message = %+v, true", m)
	}
	if msgs := s.Messages(); len(msgs) != 1 || !msgs[0].Deleted {
		t.Errorf("Messages() = %+v, want the message, deleted", msgs)
	}
	send := s.URL() + "/bot" + token + "/sendMessage"
	call(t, send, map[string]any{"chat_id": 42, "text": "recovered", "reply_parameters": map[string]any{"message_id": id}}).
		want(t, "reply to it", 400, "Bad Request: message to be replied not found")
	a := call(t, send, map[string]any{"chat_id": 42, "text": "recovered",
		"reply_parameters": map[string]any{"message_id": id, "allow_sending_without_reply": true}})
	a.want(t, "reply to it, allowed without", 200, "")
	if m, ok := s.Message(42, a.message(t).MessageID); !ok || m.ReplyTo != 0 || a.message(t).ReplyToMessage != nil {
		t.Errorf("a reply to a deleted message: %+v, want it sent as no reply", m)
	}
	call(t, s.URL()+"/bot"+token+"/editMessageReplyMarkup", map[string]any{"chat_id": 42, "message_id": id}).
		want(t, "edit it", 400, "Bad Request: message to edit not found")
	if _, err := s.Press(42, id, 7, "ann", "ack"); err == nil {
		t.Errorf("Press on a deleted message queued a press")
	}
}

func TestServerPress(t *testing.T) {
	t.Parallel()
	s := telegramtest.NewServer(token, 42, -1001234567890)
	defer s.Close()
	base := s.URL() + "/bot" + token
	id := sendWithButtons(t, s, 42, "<b>backup</b> failing", "Ack=ack:1", "Mute=mute:1")
	plain := sendWithButtons(t, s, 42, "no buttons")
	a := call(t, base+"/sendMessage", map[string]any{"chat_id": -1001234567890, "message_thread_id": 9, "text": "in a topic", "reply_markup": keyboardOf("Ack=ack:2")})
	topic := a.message(t).MessageID

	for _, tt := range []struct {
		name      string
		chat, msg int64
		data      string
	}{
		{"no such message", 42, 99, "ack:1"},
		{"another chat", -1001234567890, id, "ack:1"},
		{"no buttons", 42, plain, "ack:1"},
		{"no such button", 42, id, "ack:2"},
	} {
		if q, err := s.Press(tt.chat, tt.msg, 7, "ann", tt.data); err == nil {
			t.Errorf("%s: Press = %q, want an error", tt.name, q)
		}
	}
	if n := s.PendingUpdates(); n != 0 {
		t.Fatalf("refused presses queued %d updates", n)
	}

	q1, err := s.Press(42, id, 7, "ann", "mute:1")
	if err != nil {
		t.Fatal(err)
	}
	q2, err := s.Press(-1001234567890, topic, 8, "", "ack:2")
	if err != nil {
		t.Fatal(err)
	}
	if q1 == "" || q1 == q2 {
		t.Fatalf("query ids %q and %q, want two different ones", q1, q2)
	}

	var updates struct {
		OK     bool `json:"ok"`
		Result []struct {
			UpdateID      int64 `json:"update_id"`
			CallbackQuery struct {
				ID   string
				From struct {
					ID        int64
					IsBot     *bool  `json:"is_bot"`
					FirstName string `json:"first_name"`
					Username  string
				}
				Message struct {
					MessageID       int64 `json:"message_id"`
					Date            int64
					Text            string
					MessageThreadID int64 `json:"message_thread_id"`
					IsTopicMessage  bool  `json:"is_topic_message"`
					Chat            struct {
						ID   int64
						Type string
					}
				}
				ChatInstance string `json:"chat_instance"`
				Data         string
			} `json:"callback_query"`
		}
	}
	if err := json.Unmarshal(call(t, base+"/getUpdates", map[string]any{}).Result, &updates.Result); err != nil || len(updates.Result) != 2 {
		t.Fatalf("getUpdates: %v, %+v", err, updates.Result)
	}
	cq := updates.Result[0].CallbackQuery
	if cq.ID != q1 || cq.From.ID != 7 || cq.From.IsBot == nil || *cq.From.IsBot || cq.From.FirstName == "" || cq.From.Username != "ann" ||
		cq.Message.MessageID != id || cq.Message.Chat.ID != 42 || cq.Message.Chat.Type != "private" || cq.Message.Date == 0 ||
		cq.Message.Text != "backup failing" || cq.ChatInstance == "" || cq.Data != "mute:1" {
		t.Errorf("first press: %+v", cq)
	}
	cq = updates.Result[1].CallbackQuery
	if cq.ID != q2 || cq.From.ID != 8 || cq.From.Username != "" || cq.From.FirstName == "" || cq.Message.Chat.Type != "supergroup" ||
		cq.Message.MessageThreadID != 9 || !cq.Message.IsTopicMessage || cq.Data != "ack:2" {
		t.Errorf("press in a topic: %+v", cq)
	}

	answer := base + "/answerCallbackQuery"
	const invalid = "Bad Request: query is too old and response timeout expired or query ID is invalid"
	call(t, answer, map[string]any{"callback_query_id": "123"}).want(t, "a query never made", 400, invalid)
	call(t, answer, map[string]any{}).want(t, "no query", 400, invalid)
	call(t, answer, map[string]any{"callback_query_id": q1, "text": strings.Repeat("😀", 100) + "x"}).want(t, "201 characters", 400, "Bad Request: MESSAGE_TOO_LONG")
	a = call(t, answer, map[string]any{"callback_query_id": q1, "text": strings.Repeat("😀", 100), "show_alert": true})
	a.want(t, "200 characters", 200, "")
	if string(a.Result) != "true" {
		t.Errorf("result %s, want true", a.Result)
	}
	call(t, answer, map[string]any{"callback_query_id": q1}).want(t, "answered twice", 400, invalid)
	call(t, answer, map[string]any{"callback_query_id": q2}).want(t, "no text", 200, "")

	want := []telegramtest.Answer{{QueryID: q1, Text: strings.Repeat("😀", 100), ShowAlert: true}, {QueryID: q2}}
	if got := s.Answers(); !reflect.DeepEqual(got, want) {
		t.Errorf("Answers() = %+v, want %+v", got, want)
	}
}
