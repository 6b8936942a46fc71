// Package supervisor runs jobs and reports what happens to them. It holds the job
// model and its files (job.go, config.go, globalconfig.go), the runner that runs one
// process under a pty or pipes and stops its whole session (runner.go, process.go,
// pty_linux.go, reaper.go), the signs of life a job gives (heartbeat.go, ping.go,
// sdnotify.go), and `supervise up`: the Daemon (daemon.go) with one lifecycle per
// job (lifecycle.go), a state machine whose restart and schedule decisions are pure
// functions (restartpolicy.go, schedulepolicy.go) of its state, its input and the
// time of an injected Clock (clock.go).
//
// It reports Events (event.go) and knows nothing of chats, paces or spools: deciding
// what becomes a message is the notifier's business.
package supervisor
