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
	if msgs[0] != want {
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
		if got[i] != want[i] {
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
