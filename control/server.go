// Package control is the control socket of `supervise up`, STATE/supervise.sock: JSON
// over HTTP on a unix socket that only its owner and root may use, and the client
// that `supervise status`, start, stop, restart, reload, logs and ping use.
//
// The protocol, for other tools:
//
//	GET  /v1/status                              {"host", "started", "jobs": [JobStatus…], "delivery"}
//	POST /v1/jobs/{job}/start|stop|restart       {"job", "command", "note"}; stop answers once the job is down
//	POST /v1/reload                              {"jobs": N, "broken": ["file: error"…]}
//	GET  /v1/jobs/{job}/logs?lines=N&follow=1    the job's output as text/plain, streamed while follow
//	POST /ping/{job}[/start|/fail|/N]            a heartbeat, as on up's --listen
//
// Errors answer {"error": "…"} with 400, 403 (another user), 404 (no such job) or
// 503 (the request was given up, as up stops). Each connection takes one request, whose
// headers may hold at most MaxHeaderBytes and must come within ReadHeaderTimeout.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

// Status is the answer to GET /v1/status.
type Status struct {
	Host     string                   `json:"host"`
	Started  time.Time                `json:"started"` // when up started
	Jobs     []supervisor.JobStatus   `json:"jobs"`
	Delivery *notifier.DeliveryStatus `json:"delivery,omitempty"` // how the notifier fares
	Muted    map[string]time.Time     `json:"muted,omitempty"`    // jobs muted, to the end of their mute
}

// Answer is the answer to a start, stop or restart.
type Answer struct {
	Job     string `json:"job"`
	Command string `json:"command"`
	Note    string `json:"note,omitempty"` // what was found instead: "already running"
}

// Reloaded is the answer to POST /v1/reload.
type Reloaded struct {
	Jobs   int      `json:"jobs"`             // jobs loaded
	Broken []string `json:"broken,omitempty"` // files that could not be, each with its error
}

// Server serves the control socket for a running up.
type Server struct {
	Daemon  *supervisor.Daemon
	Started time.Time
	Reload  func(context.Context) Reloaded // what SIGHUP does
	Stderr  io.Writer                      // where refused peers are logged

	// Delivery says how the notifier fares, and false when it cannot say (a
	// console); nil for the same.
	Delivery func() (notifier.DeliveryStatus, bool)
	// Incidents says which jobs are muted; nil for none.
	Incidents Incidents
}

// ReadHeaderTimeout is how long a request's headers may take to come: a client
// sends them at once.
const ReadHeaderTimeout = 10 * time.Second

// MaxHeaderBytes bounds a request's headers on the socket, in place of net/http's
// megabyte: the client's take a hundred bytes, and hundreds of connections that each
// send a megabyte of headers and wait would hold hundreds of megabytes.
const MaxHeaderBytes = 16 << 10

// Handler returns the socket's routes, behind the check of the peer's uid. Serve it
// with keep-alives off (http.Server.SetKeepAlivesEnabled), as the client makes its
// requests: a connection of its own for each, which ends with the answer.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", s.status)
	mux.HandleFunc("POST /v1/jobs/{job}/{command}", s.command)
	mux.HandleFunc("POST /v1/reload", s.reload)
	mux.HandleFunc("GET /v1/jobs/{job}/logs", s.logs)
	mux.Handle("/ping/", supervisor.PingHandler(s.Daemon.Pulse))
	return endRead(s.owner(mux))
}

// endRead stops reading a request once it is answered. net/http reads the rest of a
// body no handler read, for the connection's next request, with no deadline: a
// client that stops sending it would hold the connection as long as it likes. With no
// next request on the connection, there is nothing to read it for.
func endRead(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		next.ServeHTTP(w, req)
		http.NewResponseController(w).SetReadDeadline(time.Now())
	})
}

func (s *Server) status(w http.ResponseWriter, req *http.Request) {
	reply(w, http.StatusOK, statusOf(s.Daemon, s.Started, s.Delivery, s.Incidents))
}

// statusOf is what d knows of its jobs now, for up started at started, and what
// delivery and incidents (nil for nothing) say of its notifier.
func statusOf(d *supervisor.Daemon, started time.Time, delivery func() (notifier.DeliveryStatus, bool), incidents Incidents) Status {
	st := Status{Host: d.Host, Started: started, Jobs: d.Status()}
	if incidents != nil {
		st.Muted = incidents.Mutes()
	}
	if delivery != nil {
		if ds, ok := delivery(); ok {
			st.Delivery = &ds
		}
	}
	return st
}

func (s *Server) command(w http.ResponseWriter, req *http.Request) {
	name, cmd := req.PathValue("job"), req.PathValue("command")
	note, err := s.Daemon.Control(req.Context(), name, cmd)
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusOK, Answer{Job: name, Command: cmd, Note: note})
}

func (s *Server) reload(w http.ResponseWriter, req *http.Request) {
	reply(w, http.StatusOK, s.Reload(req.Context()))
}

// logs writes the last lines of the job's log and, with follow, what it writes from
// then on, until the client goes or the job is removed.
func (s *Server) logs(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("job")
	lines := 10
	if v := req.URL.Query().Get("lines"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			fail(w, fmt.Errorf("lines=%q: want a number of lines, 0 or more", v))
			return
		}
		lines = n
	}
	if req.URL.Query().Get("follow") != "1" {
		last, err := s.Daemon.LastLines(name, lines)
		if err != nil {
			fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(last)
		return
	}
	last, output, stop, err := s.Daemon.Follow(name, lines)
	if err != nil {
		fail(w, err)
		return
	}
	defer stop()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(last)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	for {
		select {
		case <-req.Context().Done():
			return
		case p, ok := <-output:
			if !ok {
				fmt.Fprintf(w, "\nsupervise: logs: %s: stopped following (the job was removed, or this reader fell behind)\n", name)
				return
			}
			if _, err := w.Write(p); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}

// peerKey is the context key of the peer's credentials.
type peerKey struct{}

// ConnContext records the uid of the process at the other end of a unix socket, for
// the owner check; set it as the http.Server's ConnContext.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *syscall.Ucred
	raw.Control(func(fd uintptr) {
		cred, err = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err != nil || cred == nil {
		return ctx
	}
	return context.WithValue(ctx, peerKey{}, *cred)
}

// owner serves only the user up runs as, and root: the socket's mode says as much,
// and SO_PEERCRED makes sure, should the mode be changed.
func (s *Server) owner(next http.Handler) http.Handler {
	me := os.Getuid()
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		cred, ok := req.Context().Value(peerKey{}).(syscall.Ucred)
		if !ok || (int(cred.Uid) != me && cred.Uid != 0) {
			uid := "unknown"
			if ok {
				uid = strconv.Itoa(int(cred.Uid))
				fmt.Fprintf(s.Stderr, "supervise: control socket: refused a request from uid %s (pid %d): only uid %d and root are served\n", uid, cred.Pid, me)
			}
			reply(w, http.StatusForbidden, map[string]string{"error": fmt.Sprintf("uid %s may not control this supervise: only uid %d and root may", uid, me)})
			return
		}
		next.ServeHTTP(w, req)
	})
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func fail(w http.ResponseWriter, err error) {
	code := http.StatusBadRequest
	switch {
	case errors.Is(err, supervisor.ErrNoJob):
		code = http.StatusNotFound
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		code = http.StatusServiceUnavailable
	}
	reply(w, code, map[string]string{"error": err.Error()})
}

// Listen listens on the unix socket at path, mode 0600 (its folder is made 0700 when
// it does not exist). A lock on path.lock, held until release is called, says that an
// up uses the socket: one that a second up finds held is an error, even while the
// first is stopping its jobs and no longer answers. A socket left there by an up that
// died is replaced; any other file there is an error, never removed.
func Listen(path string) (ln net.Listener, release func(), err error) {
	if len(path) >= 108 {
		return nil, nil, fmt.Errorf("%s: the path is too long for a unix socket (at most 107 bytes); give a shorter --socket", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, err
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil, fmt.Errorf("%s: another supervise up is running here (it holds %s.lock)", path, path)
		}
		return nil, nil, fmt.Errorf("%s.lock: %w", path, err)
	}
	release = func() { lock.Close() }
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			release()
			return nil, nil, fmt.Errorf("%s exists and is not a socket: give another --socket", path)
		}
		if err := os.Remove(path); err != nil { // left by an up that died
			release()
			return nil, nil, err
		}
	}
	ln, err = net.Listen("unix", path)
	if err == nil {
		err = os.Chmod(path, 0o600)
	}
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		release()
		return nil, nil, err
	}
	return ln, release, nil
}
