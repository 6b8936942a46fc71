package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ErrNotRunning is the error of every call when no supervise up answers on the socket.
var ErrNotRunning = errors.New("supervise up is not running")

// Client talks to a running up over its control socket.
type Client struct {
	Socket string
	http   *http.Client
}

// NewClient returns a client of the up whose socket is at socket.
func NewClient(socket string) *Client {
	return &Client{Socket: socket, http: &http.Client{Transport: &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}}}
}

// Status returns the state of every job and of the notifier.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.call(ctx, http.MethodGet, "/v1/status", nil, &st)
	return st, err
}

// StatusJSON returns up's status as up wrote it, for `supervise status --json`:
// passed through rather than decoded and written again, which took longer than up's
// answer itself with thousands of jobs, and keeps what a newer up adds.
func (c *Client) StatusJSON(ctx context.Context) ([]byte, error) {
	resp, err := c.do(ctx, http.MethodGet, "/v1/status", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil && !json.Valid(data) {
		err = errors.New("not JSON")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: a bad answer: %v", c.Socket, err)
	}
	return data, nil
}

// Command starts, stops or restarts the job, and returns the note of its answer.
func (c *Client) Command(ctx context.Context, job, command string) (string, error) {
	var a Answer
	err := c.call(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(job)+"/"+url.PathEscape(command), nil, &a)
	return a.Note, err
}

// Reload reloads the job folder, as SIGHUP does.
func (c *Client) Reload(ctx context.Context) (Reloaded, error) {
	var r Reloaded
	err := c.call(ctx, http.MethodPost, "/v1/reload", nil, &r)
	return r, err
}

// Logs writes the last lines lines of the job's log to w and, with follow, what the
// job writes from then on, until ctx is done.
func (c *Client) Logs(ctx context.Context, job string, lines int, follow bool, w io.Writer) error {
	q := url.Values{"lines": {strconv.Itoa(lines)}}
	if follow {
		q.Set("follow", "1")
	}
	resp, err := c.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(job)+"/logs?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	switch {
	case ctx.Err() != nil:
		return nil // the reader stopped following
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("supervise up stopped")
	}
	return err
}

// Ping sends a heartbeat for the job, as `supervise ping` does outside a job: what is
// "", "start", "fail", "log" or an exit status, and message the job's ping message.
func (c *Client) Ping(ctx context.Context, job, what, message string) error {
	path := "/ping/" + url.PathEscape(job)
	if what != "" {
		path += "/" + url.PathEscape(what)
	}
	resp, err := c.do(ctx, http.MethodPost, path, strings.NewReader(message))
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// call makes a request and decodes its JSON answer into out.
func (c *Client) call(ctx context.Context, method, path string, body io.Reader, out any) error {
	resp, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s: a bad answer: %v", c.Socket, err)
	}
	return nil
}

// do makes a request and returns its answer when it is a success; any other answer
// becomes an error with the server's words.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://supervise"+path, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
			return nil, fmt.Errorf("%w (nothing answers at %s; see --state or --socket)", ErrNotRunning, c.Socket)
		case errors.Is(err, syscall.EACCES):
			return nil, fmt.Errorf("%s: permission denied: only the user supervise up runs as, and root, may use it", c.Socket)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%s: %w", c.Socket, ctx.Err())
		}
		return nil, fmt.Errorf("%s: %v", c.Socket, Reason(err))
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return nil, errors.New(e.Error)
	}
	return nil, fmt.Errorf("%d %s", resp.StatusCode, strings.TrimSpace(string(data)))
}

// Reason is the innermost useful words of a network error: "connection refused"
// rather than `Post "http://…": dial tcp 127.0.0.1:8427: connect: connection refused`.
func Reason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var op *net.OpError
	if errors.As(err, &op) {
		err = op.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		err = se.Err
	}
	return err.Error()
}
