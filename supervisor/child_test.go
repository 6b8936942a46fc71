package supervisor_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// The test binary plays the job: when SUPERVISE_TEST_CHILD is set, TestMain runs
// that behaviour instead of the tests, so process tests need no shell scripts.
func TestMain(m *testing.M) {
	if mode := os.Getenv("SUPERVISE_TEST_CHILD"); mode != "" {
		child(strings.Fields(mode))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func child(args []string) {
	switch args[0] {
	case "exit": // exit CODE
		fmt.Println("about to exit", args[1])
		code, _ := strconv.Atoi(args[1])
		os.Exit(code)
	case "kill-self": // die of SIGKILL
		fmt.Println("killing myself")
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
	case "isatty":
		fmt.Printf("stdin=%v stdout=%v stderr=%v\n", isatty(0), isatty(1), isatty(2))
	case "env":
		fmt.Printf("job=%s extra=%s pwd=%s\n", os.Getenv("SUPERVISE_JOB"), os.Getenv("EXTRA"), must(os.Getwd()))
	case "burst": // burst BYTES: write BYTES in lines of 100 bytes at once, end with a marker, exit 1
		n, _ := strconv.Atoi(args[1])
		line := strings.Repeat("x", 99) + "\n"
		os.Stdout.WriteString(strings.Repeat(line, n/100) + "LAST LINE\n")
		os.Exit(1)
	case "beats": // beats http|notify|output|match: signs of life every 100ms for 0.6s, none for 0.9s, then again
		beat := func(alive bool) {
			switch args[1] {
			case "http":
				if alive {
					resp, err := http.Get(os.Getenv("SUPERVISE_PING_URL"))
					if err != nil {
						panic(err)
					}
					resp.Body.Close()
				}
			case "notify":
				if alive {
					c, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET"))
					if err != nil {
						panic(err)
					}
					c.Write([]byte("WATCHDOG=1\nSTATUS=beating"))
					c.Close()
				}
			case "output":
				if alive {
					fmt.Println("alive")
				}
			case "match":
				if alive {
					fmt.Println("alive and well")
				} else {
					fmt.Println("noise")
				}
			}
		}
		for i := 0; ; i++ {
			beat(i < 6 || i >= 15)
			time.Sleep(100 * time.Millisecond)
		}
	case "report": // report a failure by ping, twice, then success, then sleep
		post := func(suffix, message string) {
			resp, err := http.Post(os.Getenv("SUPERVISE_PING_URL")+suffix, "text/plain", strings.NewReader(message))
			if err != nil {
				panic(err)
			}
			resp.Body.Close()
		}
		post("/fail", "disk full")
		post("/3", "still full")
		time.Sleep(300 * time.Millisecond)
		post("/0", "")
		time.Sleep(time.Hour)
	case "trigger": // sd_notify: a sign of life, WATCHDOG=trigger, then signs again
		send := func(msg string) {
			c, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET"))
			if err != nil {
				panic(err)
			}
			c.Write([]byte(msg))
			c.Close()
		}
		send("READY=1\nSTATUS=stuck on a lock")
		time.Sleep(100 * time.Millisecond)
		send("WATCHDOG=trigger")
		time.Sleep(300 * time.Millisecond)
		send("WATCHDOG=1")
		time.Sleep(time.Hour)
	case "fail-ping": // report a failure by ping, then exit 0
		resp, err := http.Post(os.Getenv("SUPERVISE_PING_URL")+"/fail", "text/plain", strings.NewReader("run failed"))
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
	case "sleep":
		fmt.Println("sleeping")
		time.Sleep(time.Hour)
	case "trap": // print the signals it gets, exit 0 on TERM
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGUSR1, syscall.SIGTERM)
		fmt.Println("ready")
		for s := range c {
			fmt.Println("got", s)
			if s == syscall.SIGTERM {
				os.Exit(0)
			}
		}
	case "ignore-term": // sleep, deaf to SIGTERM and SIGHUP
		signal.Ignore(syscall.SIGTERM, syscall.SIGHUP)
		fmt.Println("ignoring")
		time.Sleep(time.Hour)
	case "grandchild": // grandchild FILE exit|stay same|own-group: start a grandchild deaf to SIGTERM, in this process group or its own, write its pid to FILE; then exit or stay
		gc := exec.Command(os.Args[0])
		gc.Env = append(os.Environ(), "SUPERVISE_TEST_CHILD=ignore-term")
		gc.Stdout = os.Stdout
		gc.SysProcAttr = &syscall.SysProcAttr{Setpgid: args[3] == "own-group"}
		if err := gc.Start(); err != nil {
			panic(err)
		}
		os.WriteFile(args[1], []byte(strconv.Itoa(gc.Process.Pid)), 0o644)
		time.Sleep(100 * time.Millisecond) // let it install its signal handling
		fmt.Println("started grandchild")
		if args[2] == "exit" {
			os.Exit(0)
		}
		time.Sleep(time.Hour)
	}
}

func isatty(fd int) bool {
	_, err := unixIoctlTermios(fd)
	return err == nil
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// childJob is a job that runs this test binary in the given mode.
func childJob(t *testing.T, mode string) *supervisor.Job {
	t.Helper()
	job := supervisor.NewJob("testjob", os.Args[0])
	// Under -race, a child would otherwise sleep a second at exit for the detector.
	job.Env = map[string]string{"SUPERVISE_TEST_CHILD": mode, "GORACE": "atexit_sleep_ms=0"}
	job.StopTimeout = 5 * time.Second
	return job
}
