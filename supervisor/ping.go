package supervisor

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// pingBodyTimeout is how long the body of a ping may take to come: a job's message
// is a few lines, sent at once over a local connection.
const pingBodyTimeout = 10 * time.Second

// PingURL is the URL a job is given as SUPERVISE_PING_URL, under base
// ("http://127.0.0.1:8427").
func PingURL(base, job string) string { return base + "/ping/" + job }

// PingHandler serves the jobs' ping URLs, in the manner of healthchecks.io:
//
//	/ping/JOB        a sign of life
//	/ping/JOB/start  the job says it started, also a sign of life
//	/ping/JOB/fail   the job reports a failure now
//	/ping/JOB/N      the job reports exit status N, 0 being success
//
// by GET, HEAD or POST. A POST's body, or its end when it is longer than
// MaxPingMessage (see ReadPingMessage), is the job's last ping message, quoted in its
// alerts; a ping without one leaves no message. pulse finds a job's Pulse by name, or
// returns nil when there is no such job.
func PingHandler(pulse func(job string) *Pulse) http.Handler {
	mux := http.NewServeMux()
	serve := func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch req.Method {
		case http.MethodGet, http.MethodHead, http.MethodPost:
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
			return
		}
		name := req.PathValue("job")
		p := pulse(name)
		if p == nil {
			http.Error(w, fmt.Sprintf("no job named %s", name), http.StatusNotFound)
			return
		}
		// A body that stops coming would hold the connection for as long as its
		// client likes: the server's ReadHeaderTimeout ends with the headers.
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(pingBodyTimeout))
		body, _, err := ReadPingMessage(req.Body)
		if err != nil {
			http.Error(w, "reading the message: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := p.Ping(req.PathValue("what"), strings.TrimSpace(body)); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		io.WriteString(w, "OK\n")
	}
	mux.HandleFunc("/ping/{job}", serve)
	mux.HandleFunc("/ping/{job}/{what}", serve)
	return mux
}

// pingCut leads a ping message whose start was cut.
const pingCut = "…"

// ReadPingMessage reads r to its end and returns it as a ping message: all of it when
// it fits in MaxPingMessage bytes, else its end, where a failing job says what went
// wrong, led by "…" and cut at the start of a character, in MaxPingMessage bytes in
// all; cut says which. Only the end is held in memory, however long r is.
func ReadPingMessage(r io.Reader) (message string, cut bool, err error) {
	tail := NewTail(MaxPingMessage)
	n, err := io.Copy(tail, r)
	if err != nil {
		return "", false, err
	}
	b := tail.Bytes()
	if n <= MaxPingMessage {
		return string(b), false, nil
	}
	b = b[len(pingCut):]
	for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.RuneStart(b[0]); i++ {
		b = b[1:]
	}
	return pingCut + string(b), true, nil
}
