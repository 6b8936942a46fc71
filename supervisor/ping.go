package supervisor

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
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

// PingHandler serves the jobs' ping URLs, as healthchecks.io's pinging API does, so
// that its clients (curl lines, runitor) work unchanged:
//
//	/ping/JOB        success, a sign of life
//	/ping/JOB/start  the job says a run started, also a sign of life
//	/ping/JOB/fail   the job reports a failure now
//	/ping/JOB/N      the job reports exit status N, 0 being success
//	/ping/JOB/log    a message only: no state changes, no sign of life
//
// and each also as /ping/KEY/JOB..., healthchecks.io's slug form, whose KEY is
// ignored: the job's name is its slug. A ?rid= pairs a start with its end. By GET,
// HEAD or POST; ?create= and other parameters are ignored. A POST's body, or its end
// when it is longer than MaxPingMessage (see ReadPingMessage), is the job's last ping
// message, quoted in its alerts; a ping without one leaves no message. pulse finds a
// job's Pulse by name, or returns nil when there is no such job.
func PingHandler(pulse func(job string) *Pulse) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch req.Method {
		case http.MethodGet, http.MethodHead, http.MethodPost:
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
			return
		}
		name, what, ok := pingTarget(req.URL.Path, func(name string) bool { return pulse(name) != nil })
		if !ok {
			http.NotFound(w, req)
			return
		}
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
		rid := req.URL.Query().Get("rid")
		if len(rid) > maxRid {
			http.Error(w, fmt.Sprintf("rid is longer than %d bytes", maxRid), http.StatusBadRequest)
			return
		}
		if err := p.Ping(what, rid, strings.TrimSpace(body)); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// As healthchecks.io does: runitor sizes the output it sends by it.
		w.Header().Set("Ping-Body-Limit", strconv.Itoa(MaxPingMessage))
		io.WriteString(w, "OK\n")
	})
}

// maxRid bounds a run id: healthchecks.io's are UUIDs, 36 bytes; any short word is
// taken here.
const maxRid = 64

// pingTarget parses the path of a ping URL into the job and the ping's suffix ("" for
// success): /ping/JOB, /ping/JOB/WHAT, /ping/KEY/JOB or /ping/KEY/JOB/WHAT. A path of
// two parts is JOB/WHAT when its first names a job (isJob) and its second is a
// suffix or names none (a bad suffix, told as such), else KEY/JOB. ok is false for a path of none of these forms.
func pingTarget(path string, isJob func(string) bool) (job, what string, ok bool) {
	rest, ok := strings.CutPrefix(path, "/ping/")
	if !ok {
		return "", "", false
	}
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	if slices.Contains(parts, "") {
		return "", "", false
	}
	switch len(parts) {
	case 1:
		return parts[0], "", true
	case 2:
		if isJob(parts[0]) && (isPingSuffix(parts[1]) || !isJob(parts[1])) {
			return parts[0], parts[1], true
		}
		return parts[1], "", true
	case 3:
		return parts[1], parts[2], true
	}
	return "", "", false
}

// isPingSuffix reports whether s is what may follow a job in a ping URL.
func isPingSuffix(s string) bool {
	switch s {
	case "start", "fail", "log":
		return true
	}
	_, err := strconv.Atoi(s)
	return err == nil
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
