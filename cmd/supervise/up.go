package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	actor "github.com/oklog/run"

	"github.com/supervise/supervise/control"
	"github.com/supervise/supervise/metrics"
	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

// cmdUp is `supervise up`: keep every job in a folder running until SIGINT or SIGTERM.
func cmdUp(ctx context.Context, args []string, std stdio) error {
	stdout, stderr := std.out, std.errOut
	fs := newFlagSet("up", "", "up [--jobs DIR] [--listen ADDR] [--socket PATH]")
	dir := fs.String("jobs", "jobs.d", "the `folder` of job files")
	stateArg := stateFlag(fs)
	listen := fs.String("listen", "127.0.0.1:8427", "`address` for heartbeat pings and metrics (loopback; 127.0.0.1:0 picks a port)")
	socket := socketFlag(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fs.usageErrorf("unexpected argument %q; give the folder with --jobs", fs.Arg(0))
	}
	if fi, err := os.Stat(*dir); err != nil || !fi.IsDir() {
		return fs.usageErrorf("--jobs %s: not a folder of job files", *dir)
	}
	tuneGC()
	state := stateDir(*stateArg, os.Getenv)
	host, _ := os.Hostname()
	// The notifier first sends what earlier processes left in the spool, and tries
	// again while messages wait there, backing off from a minute to a quarter hour.
	// No problem with how to notify keeps the jobs from running.
	cfg, n := jobsPipeline(stderr, "up", state, notifier.Options{Host: host, Backlog: time.Hour, Retry: time.Minute, Buttons: true})
	// Once the jobs have stopped, what they said has 5 s more to reach the chat; what
	// is left then is written to stderr.
	drain := sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		n.Close(ctx)
	})
	defer drain()
	var bot *notifier.Telegram // for Telegram commands, when the config turns them on
	if cfg != nil && cfg.Commands {
		var err error
		if bot, err = notifier.BotFromConfig(cfg, os.Getenv); err != nil {
			fmt.Fprintf(stderr, "supervise up: %s: %v; Telegram commands are off until it is fixed\n", cfg.Where("telegram.commands"), err)
		}
	}
	os.Unsetenv(notifier.EnvToken) // as in run: no job inherits the token
	// Under systemd (Type=notify), up tells it when the jobs have started, how they
	// are, and that up is alive. The jobs do not inherit NOTIFY_SOCKET or WATCHDOG_*:
	// each gets a NOTIFY_SOCKET of up's.
	sd, err := newSdNotifier(os.Getenv, os.Getpid(), stderr)
	if err != nil {
		fmt.Fprintf(stderr, "supervise: up: %v\n", err)
	}
	ln, err := listenLoopback(*listen)
	if err != nil {
		return &configError{fmt.Errorf("--listen: %w", err)}
	}
	ctl, release, err := control.Listen(socketPath(*socket, state))
	switch {
	case err != nil && !unwritable(err): // another up holds it, or a file that is not a socket is there
		ln.Close()
		return fmt.Errorf("control socket: %w", err)
	case err != nil:
		// A state folder that cannot be written (a read-only or full file system)
		// does not keep the jobs from running; only the commands that reach up
		// through the socket do not.
		fmt.Fprintf(stderr, "supervise up: control socket: %v; the jobs run, but status, start, stop, restart, reload and logs cannot reach this up\n", err)
	default:
		defer release() // only once every job has stopped: until then, no other up starts here
	}
	// The jobs' NOTIFY_SOCKETs go in a private folder of their own; the path of a
	// unix socket must be short, which the state folder need not be.
	sockets, err := os.MkdirTemp("", "supervise-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(sockets)
	logs := filepath.Join(state, "logs")
	d := &supervisor.Daemon{Host: host, Stdout: stdout, Stderr: stderr, Events: n, Color: isTerminal(stdout),
		LogDir: logs, RunsDir: filepath.Join(state, "runs"), NotifyDir: sockets, PingBase: "http://" + ln.Addr().String()}

	// Signals are caught before the jobs are read: a SIGHUP then is a reload, not the
	// end of up. SIGPIPE is caught so that `supervise up | head` does not end up and
	// orphan its jobs; the jobs' own SIGPIPE stays as it is.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	defer signal.Stop(pipes)

	// Orphans of the jobs are adopted and reaped here, and so is every zombie when
	// supervise is PID 1 in a container.
	if err := supervisor.Adopt(); err != nil {
		fmt.Fprintf(stderr, "supervise up: cannot adopt orphaned processes: %v\n", err)
	}
	jobs, problems := load(d, *dir)
	var broken atomic.Int64 // job files not loaded, for the status systemd shows
	broken.Store(int64(len(brokenFiles(problems))))
	status := func() string { return summary(d.Status(), int(broken.Load())) }
	started := time.Now()
	listening := ln.Addr().String()
	if ctl != nil {
		listening += " and on " + ctl.Addr().String()
	}
	fmt.Fprintf(stderr, "supervise: up: %d jobs from %s; logs in %s; listening on %s\n", len(jobs), *dir, logs, listening)

	// A reload, by SIGHUP or by `supervise reload`.
	reload := func(ctx context.Context) control.Reloaded {
		sd.reloading()
		jobs, problems := load(d, *dir)
		fmt.Fprintf(stderr, "supervise: reload: %d jobs from %s\n", len(jobs), *dir)
		files := brokenFiles(problems)
		d.Reload(ctx, jobs, files)
		broken.Store(int64(len(files)))
		if sd != nil { // the summary reads every job's status: only for systemd
			sd.reloaded(status())
		}
		r := control.Reloaded{Jobs: len(jobs)}
		for _, p := range problems {
			r.Broken = append(r.Broken, p.Error())
		}
		return r
	}

	// SIGINT or SIGTERM stops every job, each with its stop_signal and stop_timeout; a
	// second one kills what is left at once. SIGHUP reloads. up ends once the jobs
	// have stopped: until then, its control socket and metrics still answer.
	jobsCtx, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	// A second after every job has started (the notifier has taken their starts, the
	// servers listen), what starting took is given back.
	go func() {
		select {
		case <-d.Started():
		case <-jobsCtx.Done():
			return
		}
		t := time.NewTimer(settleAfter)
		defer t.Stop()
		select {
		case <-t.C:
			settleMemory()
		case <-jobsCtx.Done():
		}
	}()
	hurry := make(chan struct{}) // closed by a second SIGINT or SIGTERM
	var g actor.Group
	{
		// This loop is also where up tells systemd it is ready and alive: when it
		// hangs, the WATCHDOG=1s stop. Without NOTIFY_SOCKET, ready and ticks are nil
		// and it only waits for signals.
		done := make(chan struct{})
		ready := sd.started(d)
		var ticks <-chan time.Time
		if every := sd.every(); every > 0 {
			t := time.NewTicker(every)
			defer t.Stop()
			ticks = t.C
		}
		g.Add(func() error {
			stopping, killed := false, false
			for {
				select {
				case <-ready:
					ready = nil
					sd.readyNow(status())
				case <-ticks:
					sd.tick(status()) // d.Status takes the daemon's lock: a deadlock stops the ticks
				case sig := <-sigs:
					switch {
					case sig == syscall.SIGHUP:
						if !stopping {
							reload(ctx)
						}
					case !stopping:
						fmt.Fprintf(stderr, "supervise: %s: stopping every job\n", sig)
						stopping = true
						sd.stop()
						stopJobs()
					case !killed:
						fmt.Fprintf(stderr, "supervise: %s again: killing every job\n", sig)
						killed = true
						d.Kill()
						close(hurry)
					}
				case <-done:
					return nil
				}
			}
		}, func(error) {
			close(done)
		})
	}
	g.Add(func() error {
		d.Run(jobsCtx, jobs)
		drain()
		supervisor.StopOrphans(syscall.SIGTERM, supervisor.DefaultStopTimeout, hurry)
		return nil // every job has stopped: up ends
	}, func(error) {
		sd.stop()
		stopJobs()
	})
	{
		// Heartbeat pings and Prometheus's scrapes come here.
		mux := http.NewServeMux()
		mux.Handle("/ping/", supervisor.PingHandler(d.Pulse))
		mux.Handle("GET /metrics", metrics.Handler(d, n.Delivery))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		g.Add(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}, func(error) {
			srv.Close()
		})
	}
	if ctl != nil {
		// The control socket: status, start, stop, restart, reload, logs, ping.
		s := &control.Server{Daemon: d, Started: started, Reload: reload, Stderr: stderr, Delivery: n.Delivery, Incidents: n}
		srv := &http.Server{Handler: s.Handler(), ConnContext: control.ConnContext,
			ReadHeaderTimeout: control.ReadHeaderTimeout, MaxHeaderBytes: control.MaxHeaderBytes}
		// One request a connection, as the client makes them: no connection is held
		// idle between requests.
		srv.SetKeepAlivesEnabled(false)
		g.Add(func() error {
			if err := srv.Serve(ctl); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}, func(error) {
			srv.Close()
		})
	}
	if bot != nil {
		allow := map[int64]bool{}
		for _, id := range cfg.Allow {
			allow[id] = true
		}
		c := &control.Commands{Bot: bot, Allow: allow, Daemon: d, Started: started, Stderr: stderr, Delivery: n.Delivery, Incidents: n}
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			c.Run(ctx)
			return nil
		}, func(error) {
			cancel()
		})
		fmt.Fprintf(stderr, "supervise: up: answering Telegram commands from %d chats\n", len(allow))
	}
	return g.Run()
}

// listenLoopback listens on addr, which must be on a loopback address: the pings it
// serves are not for other hosts to send.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%s is not a loopback address: use 127.0.0.1:PORT or [::1]:PORT", addr)
	}
	return net.Listen("tcp", addr)
}

// load reads the job folder, reporting each file it cannot load on stderr and to the
// chat, and each that loads as fixed (which ends the incident of one that did not). It returns the jobs loaded and the problems of the files that could not be.
func load(d *supervisor.Daemon, dir string) ([]*supervisor.Job, []error) {
	jobs, err := supervisor.LoadDir(dir)
	problems := unjoin(err)
	dirLoads := true
	for _, e := range problems {
		var fe *supervisor.FileError
		if errors.As(e, &fe) {
			d.Report(fe.Path, "not loaded; the other jobs run", fe.Err)
		} else {
			d.Report(dir, "not loaded", e)
			dirLoads = false
		}
	}
	for _, job := range jobs {
		d.Fixed(job.File)
	}
	if dirLoads {
		d.Fixed(dir)
	}
	return jobs, problems
}

// brokenFiles returns the paths of the job files among problems.
func brokenFiles(problems []error) []string {
	var broken []string
	for _, e := range problems {
		var fe *supervisor.FileError
		if errors.As(e, &fe) {
			broken = append(broken, fe.Path)
		}
	}
	return broken
}

// isTerminal reports whether w is a terminal, where up colours the jobs' names.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0 && os.Getenv("NO_COLOR") == ""
}

// unwritable reports whether err says a file system cannot be written: read-only,
// full, or closed to this user.
func unwritable(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EROFS, syscall.ENOSPC, syscall.EDQUOT, syscall.EACCES, syscall.EPERM} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// settleAfter is how long after the jobs have started up gives back the memory
// starting them took.
const settleAfter = time.Second

// gcPercent is up's GOGC, unless the environment sets one. up's live heap is small
// and steady (some 10 KB a job) and it allocates little once the jobs run, so the
// collector has little to do whatever the setting; but between collections the heap
// grows to live*(1+GOGC/100), and the pages it grew into stay resident until the
// scavenger returns them. At 50 rather than Go's 100, up with 200 idle jobs is
// 0.3 MB smaller, and after 200 /metrics scrapes 3.3 MB smaller (15.6 MB PSS rather
// than 18.9), for a collection twice as often while something allocates, each of a
// heap of a few MB. No memory limit is set: a fitting one depends on how many jobs
// there are and how much output they keep, and a limit set too low turns into
// collections without end.
const gcPercent = 50

// tuneGC sets up's GOGC, unless GOGC or GOMEMLIMIT in the environment says otherwise.
func tuneGC() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// settleMemory gives back, once the jobs have started, what starting them took: the
// garbage of reading the job files and starting the jobs, collected and returned to
// the system now rather than at the next collection. The pages of the program that
// starting it touched stay mapped: they are clean pages of the file, shared and
// reclaimable, and unmapping them would lower up's PSS without lowering what the
// host uses.
func settleMemory() { debug.FreeOSMemory() }
