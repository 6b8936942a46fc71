package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

// forwarded are the signals `supervise run` passes on to the job's process group.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

// cmdRun is `supervise run`: one job, once, in the foreground, with the job's exit status.
func cmdRun(ctx context.Context, args []string, std stdio) error {
	stdout, stderr := std.out, std.errOut
	job, state, err := parseRun(args)
	var broken *supervisor.FileError
	if err != nil && !errors.As(err, &broken) {
		return err
	}
	// The signals passed on to the job are caught from before it starts. The
	// runtime sets up each in a round trip to a thread of its own, a fraction of a
	// millisecond in all, so that goes on while the job is made ready; and they are
	// let go after the run without waiting, as supervise then exits.
	//
	// A reader of supervise's stdout that goes away (`supervise run ... | head`) must
	// not end the run: the job goes on, and its output is still kept for messages.
	// Catching SIGPIPE, rather than ignoring it, leaves the job's own SIGPIPE alone.
	signals, pipes, caught := make(chan os.Signal, 4), make(chan os.Signal, 1), make(chan struct{})
	go func() {
		signal.Notify(signals, forwarded...)
		signal.Notify(pipes, syscall.SIGPIPE)
		close(caught)
	}()
	release := func() {
		<-caught
		signal.Stop(signals)
		signal.Stop(pipes)
	}
	defer func() { go release() }()

	host, _ := os.Hostname()
	// What earlier runs could not send goes out while this job runs, for at most
	// 10 s; the messages of this run follow it, so the chat reads them in order.
	// No problem with how to notify keeps the job from running. The pipeline is lazy:
	// a run that succeeds, with no backlog and no incident open, has no use for it.
	_, n := jobsPipeline(stderr, "run", stateDir(state, os.Getenv), notifier.Options{Host: host, Backlog: 10 * time.Second, Lazy: true})
	if broken != nil {
		// It is not known what to run; the chat is told, as up tells it, so that a
		// cron job whose file broke is not silent for ever. No job runs: a signal
		// ends supervise, as it would have before the job started.
		release()
		n.Emit(supervisor.ProblemEvent(host, broken.Path, "not run", broken.Err))
		deliver(ctx, n, nil)
		return &configError{broken.Err}
	}
	if job.File != "" {
		path, _ := filepath.Abs(job.File)
		n.Emit(supervisor.FixedEvent(host, path)) // ends the incident of a run its file stopped
	}
	// The token is read; no job inherits it, so none can print it. A job that runs
	// supervise itself finds it through SUPERVISE_TELEGRAM_TOKEN_FILE, which is kept,
	// or in the config file.
	os.Unsetenv(notifier.EnvToken)

	<-caught

	r := &supervisor.Runner{Host: host, Stdout: stdout, Stderr: stderr, Emit: n.Emit}
	if job.Heartbeat != nil {
		// A job with a heartbeat gets a ping URL and a NOTIFY_SOCKET for this one run,
		// so a stalled run is reported while it is still running.
		stop, err := serveHeartbeat(r, job)
		if err != nil {
			deliver(ctx, n, signals) // the pipeline stops with the run
			return fmt.Errorf("heartbeat: %w", err)
		}
		defer stop()
	}
	res := r.Run(ctx, job, signals)
	if res.Err != nil {
		fmt.Fprintf(stderr, "supervise run: %v\n", res.Err)
	}
	if !res.Stalled { // a run stopped for its heartbeat was told of then
		n.Emit(job.Ended(host, res))
	}
	deliver(ctx, n, signals)
	return exitStatus(res.Status())
}

// deliver delivers what n holds before supervise exits. A stopped run is still
// reported, so delivery does not end with ctx; once the job is gone, a further
// SIGINT or SIGTERM, from someone waiting at a terminal, cuts a slow delivery short,
// and the notifier then says on stderr where the message went instead.
//
// Delivery has the notifier's timeout in all, and a second for the send's own
// deadline, which starts a moment later, to end it first: what earlier runs left is
// sent while the job runs, and a job that ends before that backlog has gone must not
// wait for it and then for its own alert, a timeout each, while Telegram stalls.
// What is left then waits in the spool.
func deliver(ctx context.Context, n *notifier.Pipeline, signals <-chan os.Signal) {
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	if timeout := n.Timeout(); timeout > 0 {
		var stop context.CancelFunc
		dctx, stop = context.WithTimeout(dctx, timeout+time.Second)
		defer stop()
	}
	go func() {
		for {
			select {
			case sig := <-signals:
				if sig == syscall.SIGINT || sig == syscall.SIGTERM {
					cancel()
					return
				}
			case <-dctx.Done():
				return
			}
		}
	}()
	n.Close(dctx) // what it could not deliver, it has said on stderr
}

// parseRun reads the job of `supervise run` from a job file or from the command line,
// and the --state flag. Flags given explicitly override what the file says. A job
// file that cannot be loaded is a *supervisor.FileError, with its absolute path; the
// rest, usage errors.
func parseRun(args []string) (*supervisor.Job, string, error) {
	fs := newFlagSet("run", "", "run [flags] JOB.toml", "run [flags] -- CMD ARG...")
	var (
		name     = fs.String("name", "", "job `name` for messages (default: the file's stem or the program's base name)")
		timeout  = fs.String("timeout", "", "stop the job after this `duration`, like 30s or 2h, and exit 124")
		notifyOn = fs.String("notify-on", "", "comma-separated `events` to notify: failure, timeout, heartbeat, recovery, success, start (default failure,timeout,heartbeat,recovery; empty for none)")
		tail     = fs.Int("tail", supervisor.DefaultTail, "`lines` of output quoted in a message")
		noPTY    = fs.Bool("no-pty", false, "give the job pipes instead of a pseudo-terminal")
		state    = stateFlag(fs)
		every    = fs.String("heartbeat", "", "expect a sign of life (a ping to $SUPERVISE_PING_URL, 'supervise ping', sd_notify WATCHDOG=1) at least once a `duration`, like 5m")
	)
	if err := fs.parse(args); err != nil {
		return nil, "", err
	}
	rest := fs.Args()
	dashed := len(args) > len(rest) && args[len(args)-len(rest)-1] == "--"

	var job *supervisor.Job
	switch {
	case len(rest) == 0:
		return nil, "", fs.usageErrorf("no job given: name a job file, or a command after --")
	case !dashed && len(rest) == 1 && strings.HasSuffix(rest[0], ".toml"):
		var err error
		if job, err = supervisor.Load(rest[0]); err != nil {
			path, _ := filepath.Abs(rest[0])
			return nil, *state, &supervisor.FileError{Path: path, Err: err}
		}
		if job.Passive() {
			return nil, "", &configError{fmt.Errorf("%s: %s is a passive job ([heartbeat] and no command): there is nothing to run; `supervise up` watches it for pings to /ping/%s", rest[0], job.Name, job.Name)}
		}
	case !dashed && strings.HasSuffix(rest[0], ".toml"):
		return nil, "", fs.usageErrorf("flags go before the job file, as in 'supervise run %s %s'", strings.Join(rest[1:], " "), rest[0])
	case !dashed:
		return nil, "", fs.usageErrorf("%q is not a job file: put -- before a command, as in 'supervise run -- %s'", rest[0], strings.Join(rest, " "))
	default:
		job = supervisor.NewJob(filepath.Base(rest[0]), rest...)
	}

	var errs []error
	fs.Visit(func(f *flag.Flag) {
		var err error
		switch f.Name {
		case "name":
			job.Name = *name
			err = supervisor.CheckName(*name)
		case "timeout":
			job.Timeout, err = supervisor.ParseDuration(*timeout)
		case "notify-on":
			job.Notify.On = job.Notify.On[:0]
			for _, s := range strings.Split(*notifyOn, ",") {
				if s = strings.TrimSpace(s); s == "" {
					continue
				}
				k, kerr := supervisor.ParseKind(s)
				err = errors.Join(err, kerr)
				job.Notify.On = append(job.Notify.On, k)
			}
		case "tail":
			job.Notify.Tail = *tail
			if *tail < 1 || *tail > supervisor.MaxTail {
				err = fmt.Errorf("%d is out of range 1..%d", *tail, supervisor.MaxTail)
			}
		case "no-pty":
			job.PTY = !*noPTY
		case "heartbeat":
			var d time.Duration
			if d, err = supervisor.ParseDuration(*every); err == nil {
				job.Heartbeat = &supervisor.Heartbeat{Every: d, Grace: d / 10, Action: supervisor.ActionAlert}
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", f.Name, err))
		}
	})
	if dashed && !fs.isSet("name") {
		if err := supervisor.CheckName(job.Name); err != nil {
			errs = append(errs, fmt.Errorf("%w; set one with --name", err))
		}
	}
	if len(errs) > 0 {
		return nil, "", fs.usageError(errors.Join(errs...))
	}
	return job, *state, nil
}

// serveHeartbeat serves a ping URL on a free loopback port and a NOTIFY_SOCKET for
// the one job of r, until the returned func is called.
func serveHeartbeat(r *supervisor.Runner, job *supervisor.Job) (func(), error) {
	dir, err := os.MkdirTemp("", "supervise-")
	if err != nil {
		return nil, err
	}
	pulse := supervisor.NewPulse()
	sock, err := pulse.ListenNotifySocket(filepath.Join(dir, "notify.sock"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sock.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: supervisor.PingHandler(func(name string) *supervisor.Pulse {
		if name == job.Name {
			return pulse
		}
		return nil
	})}
	go srv.Serve(ln)
	r.Pulse, r.NotifySocket = pulse, sock.Path
	r.PingURL = supervisor.PingURL("http://"+ln.Addr().String(), job.Name)
	return func() {
		srv.Close()
		sock.Close()
		os.RemoveAll(dir)
	}, nil
}
