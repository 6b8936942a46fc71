package notifier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

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
func (t *Telegram) redactEvent(ev supervisor.Event) supervisor.Event {
	if t.token == "" {
		return ev
	}
	if bytes.Contains(ev.Output, []byte(t.token)) {
		ev.Output = []byte(t.hide(string(ev.Output)))
	}
	ev.Command = t.hide(ev.Command)
	return ev
}

// Send sends html, in Telegram's HTML parse mode and without link previews, to chatID.
// It retries network errors, 5xx answers and 429 Too Many Requests (after the wait
// Telegram asks for) until MaxWait has passed or ctx is done; it does not retry an
// error that matches ErrPermanent. An answer from the API comes back as an *APIError.
func (t *Telegram) Send(ctx context.Context, chatID, html string) error {
	return t.send(ctx, chatID, html, "HTML")
}

// SendText sends text as it is, without parse mode, to chatID, retrying as Send does.
func (t *Telegram) SendText(ctx context.Context, chatID, text string) error {
	return t.send(ctx, chatID, text, "")
}

func (t *Telegram) send(ctx context.Context, chatID, text, parseMode string) error {
	type linkPreviewOptions struct {
		IsDisabled bool `json:"is_disabled"`
	}
	body, err := json.Marshal(struct {
		ChatID             string             `json:"chat_id"`
		Text               string             `json:"text"`
		ParseMode          string             `json:"parse_mode,omitempty"`
		LinkPreviewOptions linkPreviewOptions `json:"link_preview_options"`
	}{chatID, text, parseMode, linkPreviewOptions{IsDisabled: true}})
	if err != nil {
		return fmt.Errorf("telegram: sendMessage: %w", err)
	}
	_, err = t.retry(ctx, "sendMessage", body)
	return err
}

// retry calls method until it succeeds, fails for good, or time is up, and returns
// the API's result.
func (t *Telegram) retry(ctx context.Context, method string, body []byte) (json.RawMessage, error) {
	start := time.Now()
	maxWait := orDefault(t.MaxWait, defaultMaxWait)
	ctx, cancel := context.WithTimeout(ctx, maxWait)
	defer cancel()
	deadline, _ := ctx.Deadline()

	backoff := orDefault(t.Backoff, defaultBackoff)
	for attempt := 1; ; attempt++ {
		result, err := t.call(ctx, method, body)
		if err == nil || errors.Is(err, ErrPermanent) {
			return result, err
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

// call makes one request with a JSON body and returns the API's result; any failure
// becomes an error that never shows the token.
func (t *Telegram) call(ctx context.Context, method string, body []byte) (json.RawMessage, error) {
	return t.post(ctx, method, "application/json", body)
}

// post makes one request with body of contentType.
func (t *Telegram) post(ctx context.Context, method, contentType string, body []byte) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.apiURL()+"/bot"+t.token+"/"+method, bytes.NewReader(body))
	if err != nil {
		// A malformed APIURL: no retry will make it well-formed.
		return nil, permanent{fmt.Errorf("telegram: %s: %w", method, t.redact(err))}
	}
	req.Header.Set("Content-Type", contentType)
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
		RetryAfter:      time.Duration(answer.Parameters.RetryAfter) * time.Second,
		MigrateToChatID: answer.Parameters.MigrateToChatID,
	}
	if apiErr.Code == 0 {
		apiErr.Code = resp.StatusCode
	}
	return nil, apiErr
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
