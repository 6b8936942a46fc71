package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/supervise/supervise/control"
	"github.com/supervise/supervise/supervisor"
)

// pingTimeout bounds the whole exchange with the daemon, so that a stalled or wedged
// supervise never hangs the shell script that pings it. A variable for tests.
var pingTimeout = 10 * time.Second

// cmdPing is `supervise ping`: a heartbeat from a shell script to a running
// `supervise up` or `supervise run`. It exits 0 when the ping was taken, 1 when it
// was not, and 2 for a usage error.
func cmdPing(ctx context.Context, args []string, std stdio) error {
	fs := newFlagSet("ping", `  JOB     the job's name; inside a job, "$SUPERVISE_JOB"
  (none)  a sign of life
  start   the job started (also a sign of life)
  fail    the job failed
  log     a message only (-m): no sign of life, no change of state
  N       the job ended with exit status N, 0..255; 0 is success, as in "$?"

Inside a job, the ping goes to SUPERVISE_PING_URL, which reaches the supervise that
runs it; elsewhere, to the running up's control socket (STATE/supervise.sock), or to
its --listen address when that is given. Exit status: 0 when the ping was taken, 1
when it was not (no answer within 10s, no such job), 2 for a usage error.
`, "ping [flags] JOB [start|fail|log|N]")
	listen := fs.String("listen", "", "`address` of the running supervise up, as given to its --listen (like 127.0.0.1:8427); wins over SUPERVISE_PING_URL and the control socket")
	state := stateFlag(fs)
	socket := socketFlag(fs)
	var message string
	fs.StringVar(&message, "m", "", "ping message `text` quoted in alerts; - reads it from stdin (of a longer one, the last 100 KB is sent)")
	fs.StringVar(&message, "message", "", "the same as -m `text`")
	if err := fs.parse(args); err != nil {
		return err
	}
	t, err := pingTargetOf(fs.Args(), *listen, fs.isSet("listen"), os.Getenv)
	if err != nil {
		return fs.usageError(err)
	}
	if t.url == nil {
		t.socket = socketPath(*socket, *state) // a shell script beside up: its control socket
	}

	// Of a longer message, the end is sent: where a failing job's output says what
	// went wrong. stdin is read to its end rather than left unread: in
	// `backup.sh | supervise ping -m - backup`, ping must wait for the end of the
	// job's output, not ping early and leave the job to die of SIGPIPE. That wait is
	// the pipeline's, so pingTimeout starts after it.
	var src io.Reader = strings.NewReader(message)
	if message == "-" {
		src = std.in
	}
	body, cut, err := supervisor.ReadPingMessage(src)
	if err != nil {
		return fmt.Errorf("%s: read the message from stdin: %w", t.job, err)
	}
	if cut {
		fmt.Fprintf(std.errOut, "supervise ping: %s: the message is longer than 100 KB; sending its last 100 KB\n", t.job)
	}

	if err := t.send(ctx, body); err != nil {
		return fmt.Errorf("%s: %w", t.job, err)
	}
	return nil
}

// pingTarget is where a ping goes.
type pingTarget struct {
	job     string
	what    string   // "", "start", "fail", "log" or an exit status
	url     *url.URL // SUPERVISE_PING_URL's, or --listen's; nil for the control socket
	fromEnv bool     // the URL is SUPERVISE_PING_URL, not built from --listen
	socket  string   // when set, the ping goes to up's control socket
}

// pingTargetOf checks the arguments JOB [start|fail|log|N] and works out the URL: the
// daemon's at listen when --listen was given, else the job's own SUPERVISE_PING_URL
// when ping runs inside a job, else none (the ping goes to the control socket).
func pingTargetOf(args []string, listen string, listenSet bool, getenv func(string) string) (pingTarget, error) {
	if len(args) == 0 {
		return pingTarget{}, errors.New("no job given")
	}
	for i, a := range args[1:] {
		if len(a) > 1 && a[0] == '-' && (a[1] == '-' || unicode.IsLetter(rune(a[1]))) {
			return pingTarget{}, fmt.Errorf("flags go before the job: supervise ping %s %s",
				shellWords(args[i+1:]), shellWords(args[:i+1]))
		}
	}
	if len(args) > 2 {
		return pingTarget{}, fmt.Errorf("unexpected argument %q after %s %s", args[2], args[0], args[1])
	}
	job := args[0]
	if err := supervisor.CheckName(job); err != nil {
		return pingTarget{}, err
	}
	var suffix string
	if len(args) == 2 {
		var err error
		if suffix, err = pingSuffix(args[1]); err != nil {
			return pingTarget{}, err
		}
	}

	t := pingTarget{job: job, what: suffix}
	if env := getenv("SUPERVISE_PING_URL"); !listenSet && env != "" {
		// Inside a job, the supervise that runs it is the one to ask, for this job or
		// another: the URL of another job is beside this job's own.
		u, err := url.Parse(env)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return pingTarget{}, fmt.Errorf("SUPERVISE_PING_URL=%q is not an http URL; give the daemon's address with --listen", env)
		}
		u.Path, u.RawPath = strings.TrimRight(u.Path, "/"), "" // the job's URL, whether or not it ends in /
		if getenv("SUPERVISE_JOB") != job {
			u.Path = path.Join(path.Dir(u.Path), job)
		}
		t.url, t.fromEnv = u, true
	} else if listenSet {
		host, port, err := net.SplitHostPort(listen)
		if err != nil {
			return pingTarget{}, fmt.Errorf("--listen %q: want HOST:PORT, like 127.0.0.1:8427", listen)
		}
		if port == "0" {
			return pingTarget{}, fmt.Errorf("--listen %q: port 0 is where up picked a free port; give the port it printed", listen)
		}
		if host == "" {
			host = "127.0.0.1" // up --listen :8427 listens on every address, loopback too
		}
		t.url = &url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: "/ping/" + job}
	}
	if suffix != "" && t.url != nil {
		t.url = t.url.JoinPath(suffix)
	}
	return t, nil
}

// shellWords joins args as a shell would read them back, quoting those that need it.
func shellWords(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(quoted, " ")
}

// pingSuffix checks the second argument of ping: start, fail, log, or an exit status.
func pingSuffix(arg string) (string, error) {
	if arg == "start" || arg == "fail" || arg == "log" {
		return arg, nil
	}
	digits := arg != "" && strings.Trim(arg, "0123456789") == ""
	n, err := strconv.Atoi(arg)
	switch {
	case digits && err == nil && n <= 255:
		return strconv.Itoa(n), nil // "007" is 7, as the shell has it
	case digits:
		return "", fmt.Errorf("exit status %s is out of range 0..255", arg)
	}
	return "", fmt.Errorf("%q is not start, fail, log or an exit status 0..255 (a plain sign of life takes no second argument)", arg)
}

// send delivers the ping with body as its message, within pingTimeout. The error
// is a sentence for the user, without the URL in it twice as *url.Error would have.
func (t pingTarget) send(ctx context.Context, body string) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if t.socket != "" {
		err := control.NewClient(t.socket).Ping(ctx, t.job, t.what, body)
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no answer from %s within %v", t.socket, pingTimeout)
		}
		return err
	}
	// Always a POST, with or without a message: a ping records something (a start,
	// a failure), so it is not a GET that a proxy or a retry may repeat or cache,
	// and there is one kind of request to test whether or not -m was given.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url.String(), strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("User-Agent", "supervise/"+version())
	client := &http.Client{
		// A ping goes to loopback or to the address the job was given, never through
		// HTTP_PROXY; one request, so no connection is kept.
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		// The ping endpoint does not redirect; following one would send the ping to
		// somewhere it was not meant to go, and turn the POST into a GET.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	addr := t.url.Host
	resp, err := client.Do(req)
	if err != nil {
		return t.transportError(addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10)) // one line is wanted; what came is enough
	return errors.New(statusLine(resp.StatusCode, string(answer)))
}

func (t pingTarget) transportError(addr string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer from %s within %v", addr, pingTimeout)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		hint := "is `supervise up` running? see --listen"
		if t.fromEnv {
			hint = "from SUPERVISE_PING_URL: is the supervise that runs this job still running?"
		}
		return fmt.Errorf("cannot reach supervise at %s: %s (%s)", addr, control.Reason(op.Err), hint)
	}
	return fmt.Errorf("%s: %s", addr, control.Reason(err))
}

// statusLine is the server's answer to a refused ping as one printable line, led by
// the status code: "404 no job named backup".
func statusLine(code int, answer string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(answer), "\n")
	line = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, strings.TrimSpace(line))
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	switch {
	case line == "":
		return fmt.Sprintf("%d %s", code, http.StatusText(code))
	case strings.HasPrefix(line, strconv.Itoa(code)):
		return line // as http.NotFound words it: "404 page not found"
	}
	return fmt.Sprintf("%d %s", code, line)
}
