package notifier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/supervise/supervise/supervisor"
)

// DefaultAPIURL is the base URL of Telegram's own Bot API server.
const DefaultAPIURL = "https://api.telegram.org"

const (
	defaultMaxWait = time.Minute
	defaultBackoff = time.Second
	maxBackoff     = 30 * time.Second

	// attemptTimeout bounds one request, so that a connection that stalls is given up
	// and tried again instead of using the whole of MaxWait.
	attemptTimeout = 20 * time.Second
)

// MaxDocumentSize is the largest file the Bot API takes from a bot: 50 MB.
const MaxDocumentSize = 50 << 20

// ErrPermanent matches, with errors.Is, an error that sending again will not cure: a
// wrong token, an unknown chat, a message Telegram refuses.
var ErrPermanent = errors.New("permanent error")

// APIError is an error answer from the Bot API.
type APIError struct {
	Method      string
	Code        int    // the API's error_code, or the HTTP status when a proxy answered
	Description string // what Telegram said, such as "Bad Request: chat not found"
	// RetryAfter is how long a 429 Too Many Requests asks the client to wait.
	RetryAfter time.Duration
	// MigrateToChatID is the supergroup a group chat was upgraded to, when the API
	// says the message must go there.
	MigrateToChatID int64
}

// Error says what Telegram said, as "telegram: sendMessage: 400 Bad Request: chat not found".
func (e *APIError) Error() string {
	return fmt.Sprintf("telegram: %s: %d %s", e.Method, e.Code, e.Description)
}

// says reports whether e's description holds substr, given in lower case, in any
// case: Telegram tells some answers apart only by their words.
func (e *APIError) says(substr string) bool {
	return strings.Contains(strings.ToLower(e.Description), substr)
}

// Is reports whether e is ErrPermanent: a 4xx answer other than 429, which asks for
// a retry by definition.
func (e *APIError) Is(target error) bool {
	return target == ErrPermanent && e.Code >= 400 && e.Code < 500 && e.Code != http.StatusTooManyRequests
}

// permanent marks an error that is not an answer from the API as ErrPermanent.
type permanent struct{ error }

func (p permanent) Unwrap() error        { return p.error }
func (p permanent) Is(target error) bool { return target == ErrPermanent }

// Telegram sends messages to Telegram chats through the Bot API. Its zero value has
// no token; make one with NewTelegram.
type Telegram struct {
	// APIURL is the Bot API's base URL; empty means DefaultAPIURL. Requests go to
	// {APIURL}/bot{token}/{method}, which a local Bot API server also serves.
	APIURL string
	// ChatID is the chat Notify sends to: a number, or @username for a channel.
	ChatID string
	// Client makes the requests; nil means http.DefaultClient.
	Client *http.Client
	// MaxWait bounds how long Send keeps trying, retries included; zero means a minute.
	MaxWait time.Duration
	// Backoff is about how long Send waits before its first retry after a network
	// error or a 5xx; the wait doubles with each retry. Zero means a second.
	Backoff time.Duration

	// token is a password: unexported, and left out by String and GoString, so that
	// printing a Telegram does not leak it.
	token string
}

// NewTelegram returns a Telegram that sends as the bot with token, to chatID by default.
func NewTelegram(token, chatID string) *Telegram {
	return &Telegram{ChatID: chatID, token: token}
}

// String describes t without its token.
func (t Telegram) String() string {
	return fmt.Sprintf("telegram chat %s via %s", t.ChatID, t.apiURL())
}

// GoString is String, so that %#v does not print the token either.
func (t Telegram) GoString() string { return t.String() }

// Notify sends ev, rendered as HTML, to the default chat.
func (t *Telegram) Notify(ctx context.Context, ev supervisor.Event) error {
	return t.Send(ctx, t.ChatID, HTML(t.redactEvent(ev)))
}

// redactEvent takes the token out of what a job wrote or runs: a job that prints its
// environment, or a traceback that shows it, must not post the password to a chat.
//
// Every text a job can reach is redacted before the message is made, not after: a
// message cuts long fields, and a cut could leave half a token that no search finds.
func (t *Telegram) redactEvent(ev supervisor.Event) supervisor.Event {
	if t.token == "" {
		return ev
	}
	if bytes.Contains(ev.Output, []byte(t.token)) {
		ev.Output = []byte(t.hide(string(ev.Output)))
	}
	for _, s := range []*string{&ev.Job, &ev.Command, &ev.Note, &ev.Message, &ev.Status, &ev.LastSignBy} {
		*s = t.hide(*s)
	}
	if ev.Err != nil && strings.Contains(ev.Err.Error(), t.token) {
		ev.Err = errors.New(t.hide(ev.Err.Error()))
	}
	return ev
}

// redactDelivery is redactEvent for what d tells. Its rendered words were made of
// events the pipeline redacted already; they are searched all the same.
func (t *Telegram) redactDelivery(d delivery) delivery {
	if t.token == "" {
		return d
	}
	d.ev = t.redactEvent(d.ev)
	d.rendered, d.plain = t.hide(d.rendered), t.hide(d.plain)
	return d
}

// Send sends html, in Telegram's HTML parse mode and without link previews, to chatID.
// It retries network errors, 5xx answers and 429 Too Many Requests (after the wait
// Telegram asks for) until MaxWait has passed or ctx is done; it does not retry an
// error that matches ErrPermanent. An answer from the API comes back as an *APIError.
func (t *Telegram) Send(ctx context.Context, chatID, html string) error {
	return t.send(ctx, Target{ChatID: chatID}, html, "HTML")
}

// Target is where a message goes: a chat, a forum topic of it, with or without sound.
type Target struct {
	ChatID   string
	ThreadID int64 // message_thread_id, or 0
	Silent   bool  // disable_notification
}

// send sends text in parseMode to to, as SendPost does, and does not need the
// message's id.
func (t *Telegram) send(ctx context.Context, to Target, text, parseMode string) error {
	_, err := t.sendPost(ctx, Post{Target: to, Text: text, ParseMode: parseMode})
	return err
}

// Document is a file to send with sendDocument.
type Document struct {
	Name    string // file name shown in the chat, like "backup-2026-11-27T030000.log"
	Content []byte
	Silent  bool // disable_notification
	// ThreadID is the forum topic it goes to, or 0.
	ThreadID int64
}

// SendDocument sends doc to chatID as a text file (text/plain in UTF-8, though its
// bytes go as they are), without a caption. It retries as Send does, sending the
// whole file again each time.
//
// The name is made safe to save on any device: see fileName. An empty file, or one
// over MaxDocumentSize, is refused before any request, with an error that matches
// ErrPermanent. The token is taken out of the file and its name, as Notify takes it
// out of an event: a job's whole output is where it would leak.
func (t *Telegram) SendDocument(ctx context.Context, chatID string, doc Document) error {
	const method = "sendDocument"
	name := fileName(t.hide(doc.Name))
	content := doc.Content
	if t.token != "" && bytes.Contains(content, []byte(t.token)) {
		content = bytes.ReplaceAll(content, []byte(t.token), []byte("<redacted>"))
	}
	switch {
	case len(content) == 0:
		return permanent{fmt.Errorf("telegram: %s: %s: the file is empty", method, name)}
	case len(content) > MaxDocumentSize:
		return permanent{fmt.Errorf("telegram: %s: %s: %d bytes, more than the %d MB a bot may send",
			method, name, len(content), MaxDocumentSize>>20)}
	}

	fields := [][2]string{{"chat_id", chatID}}
	if doc.ThreadID > 0 {
		fields = append(fields, [2]string{"message_thread_id", strconv.FormatInt(doc.ThreadID, 10)})
	}
	if doc.Silent {
		fields = append(fields, [2]string{"disable_notification", "true"})
	}
	body, err := multipartPayload(fields, "document", name, "text/plain; charset=utf-8", content)
	if err != nil {
		return fmt.Errorf("telegram: %s: %w", method, err)
	}
	_, err = t.retryPayload(ctx, method, body)
	return err
}

// maxNameBytes bounds a document's file name: 255 bytes is what most file systems
// take, and so what a phone or a desktop can save it under.
const maxNameBytes = 255

// fileName makes name safe to save as it is: no path, no control characters, no
// characters that change the direction of text (with which "log\u202etxt.exe" would
// look like a text file), none of the characters Windows refuses, not hidden by a
// leading dot, valid UTF-8, at most 255 bytes, and ending in .txt or .log, which it
// keeps, or else in an added .txt, so that any device opens the file as text. Each
// character it takes out becomes "_"; an empty name becomes "output.txt".
func fileName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, name)

	stem, ext := name, ".txt"
	if n := len(name) - 4; n >= 0 && (strings.EqualFold(name[n:], ".txt") || strings.EqualFold(name[n:], ".log")) {
		stem, ext = name[:n], name[n:]
	}
	trim := func(s string) string {
		// A leading dot hides a file; Windows drops trailing dots and spaces.
		return strings.TrimFunc(s, func(r rune) bool { return r == '.' || unicode.IsSpace(r) })
	}
	stem = trim(stem)
	if len(stem) > maxNameBytes-len(ext) {
		stem = stem[:maxNameBytes-len(ext)]
		for !utf8.ValidString(stem) {
			stem = stem[:len(stem)-1] // cut inside a character: drop its first bytes too
		}
		stem = trim(stem)
	}
	if stem == "" {
		stem = "output"
	}
	return stem + ext
}

// payload is a request's body and its content type. The body is kept as pieces, so
// that a file is sent from where it lies rather than copied, and read afresh for
// each attempt.
type payload struct {
	contentType string
	pieces      [][]byte
}

func jsonPayload(body []byte) payload {
	return payload{contentType: "application/json", pieces: [][]byte{body}}
}

// multipartPayload lays out a multipart/form-data body: fields in order, then one file.
func multipartPayload(fields [][2]string, fileField, name, fileType string, content []byte) (payload, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := w.WriteField(f[0], f[1]); err != nil {
			return payload{}, err
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", multipart.FileContentDisposition(fileField, name))
	h.Set("Content-Type", fileType)
	if _, err := w.CreatePart(h); err != nil {
		return payload{}, err
	}
	// The writer has written everything up to the file's bytes; the closing boundary
	// is all it writes after them.
	head := bytes.Clone(buf.Bytes())
	buf.Reset()
	if err := w.Close(); err != nil {
		return payload{}, err
	}
	return payload{contentType: w.FormDataContentType(), pieces: [][]byte{head, content, buf.Bytes()}}, nil
}

// reader returns a fresh reader of the whole body.
func (p payload) reader() io.Reader {
	readers := make([]io.Reader, len(p.pieces))
	for i, piece := range p.pieces {
		readers[i] = bytes.NewReader(piece)
	}
	return io.MultiReader(readers...)
}

func (p payload) size() int64 {
	var n int64
	for _, piece := range p.pieces {
		n += int64(len(piece))
	}
	return n
}

// retry calls method with a JSON body until it succeeds, fails for good, or time is
// up, and returns the API's result.
func (t *Telegram) retry(ctx context.Context, method string, body []byte) (json.RawMessage, error) {
	return t.retryPayload(ctx, method, jsonPayload(body))
}

// retryPayload is retry with a body of any type.
func (t *Telegram) retryPayload(ctx context.Context, method string, body payload) (json.RawMessage, error) {
	start := time.Now()
	maxWait := orDefault(t.MaxWait, defaultMaxWait)
	ctx, cancel := context.WithTimeout(ctx, maxWait)
	defer cancel()
	deadline, _ := ctx.Deadline()

	backoff := orDefault(t.Backoff, defaultBackoff)
	var answered error // the last failure that was an answer, not the deadline
	for attempt := 1; ; attempt++ {
		result, err := t.post(ctx, method, body)
		if err == nil || errors.Is(err, ErrPermanent) {
			return result, err
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			answered = err
		} else if answered != nil {
			err = answered // "502 Bad Gateway" says more than that time ran out
		}
		// Equal jitter: keep at least half the backoff, so waits still grow, and
		// spread the rest, so many supervisors do not retry in step.
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, maxBackoff)
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.RetryAfter > 0 {
			wait = apiErr.RetryAfter
		}
		// Do not sleep towards a retry that the deadline would cut off anyway.
		if ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("%w; gave up after %d %s in %s", err, attempt,
				plural(attempt, "attempt"), time.Since(start).Round(time.Millisecond))
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
		}
	}
}

// post makes one request and returns the API's result; any failure becomes an error
// that never shows the token.
func (t *Telegram) post(ctx context.Context, method string, body payload) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.apiURL()+"/bot"+t.token+"/"+method, body.reader())
	if err != nil {
		// A malformed APIURL: no retry will make it well-formed.
		return nil, permanent{fmt.Errorf("telegram: %s: %w", method, t.redact(err))}
	}
	// NewRequest knows the length only of a single bytes.Reader; a proxy may refuse
	// a chunked upload.
	req.ContentLength = body.size()
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(body.reader()), nil }
	req.Header.Set("Content-Type", body.contentType)
	client := t.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("telegram: %s: %w", method, t.redact(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("telegram: %s: read answer: %w", method, t.redact(err))
	}

	var answer struct {
		OK          bool            `json:"ok"`
		Result      json.RawMessage `json:"result"`
		ErrorCode   int             `json:"error_code"`
		Description string          `json:"description"`
		Parameters  struct {
			RetryAfter      int   `json:"retry_after"`
			MigrateToChatID int64 `json:"migrate_to_chat_id"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		// A proxy or load balancer answered (nginx's 502 page, say), not the API.
		return nil, &APIError{Method: method, Code: resp.StatusCode,
			Description: http.StatusText(resp.StatusCode) + " (not a Bot API answer)"}
	}
	if answer.OK {
		return answer.Result, nil
	}
	apiErr := &APIError{
		Method:          method,
		Code:            answer.ErrorCode,
		Description:     t.hide(answer.Description), // a proxy may echo the URL
		RetryAfter:      retryAfter(answer.Parameters.RetryAfter),
		MigrateToChatID: answer.Parameters.MigrateToChatID,
	}
	if apiErr.Code == 0 {
		apiErr.Code = resp.StatusCode
	}
	return nil, apiErr
}

// retryAfter is the wait a retry_after of seconds asks for: never below zero, and the
// longest Duration for more seconds than it holds, which would overflow to a wait
// shorter than asked, or below zero.
func retryAfter(seconds int) time.Duration {
	return time.Duration(min(max(int64(seconds), 0), math.MaxInt64/int64(time.Second))) * time.Second
}

func (t *Telegram) apiURL() string {
	if t.APIURL == "" {
		return DefaultAPIURL
	}
	return strings.TrimSuffix(t.APIURL, "/")
}

// redact returns err with the token replaced wherever err would print it. Go's
// *url.Error prints the request's whole URL, and the token is part of the path.
func (t *Telegram) redact(err error) error {
	if err == nil || t.token == "" {
		return err
	}
	if ue, ok := err.(*url.Error); ok {
		// Rebuilt rather than edited: the caller's error may be shared.
		return &url.Error{Op: ue.Op, URL: t.hide(ue.URL), Err: t.redact(ue.Err)}
	}
	if strings.Contains(err.Error(), t.token) || strings.Contains(fmt.Sprintf("%#v", err), t.token) {
		return &redactedError{msg: t.hide(err.Error()), err: err}
	}
	return err
}

func (t *Telegram) hide(s string) string {
	if t.token == "" {
		return s
	}
	return strings.ReplaceAll(s, t.token, "<redacted>")
}

// redactedError stands for an error that would print the token. It answers errors.Is
// and Timeout for the error it hides but does not unwrap to it, so nobody can reach
// the original and print it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) GoString() string     { return fmt.Sprintf("%q", e.msg) }
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }

func (e *redactedError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.err, &t) && t.Timeout()
}

// orDefault returns d, or def when d is not positive.
func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
