// Command restart measures how long a supervisor takes to replace a job killed with
// SIGKILL: the job writes its pid to PIDFILE when it starts, and restart kills that
// pid and waits for another one to appear there, REPS times, GAP apart (long enough
// for every supervisor to count the job as healthy and restart it at once). It prints
// the median, the fastest and the slowest replacement in milliseconds.
//
//	restart PIDFILE REPS GAP
package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: restart PIDFILE REPS GAP")
		os.Exit(2)
	}
	file := os.Args[1]
	reps, err1 := strconv.Atoi(os.Args[2])
	gap, err2 := time.ParseDuration(os.Args[3])
	if err1 != nil || err2 != nil || reps < 1 {
		fmt.Fprintln(os.Stderr, "restart: REPS is a count, GAP a duration")
		os.Exit(2)
	}
	var took []time.Duration
	for range reps {
		time.Sleep(gap)
		old := pid(file)
		if old <= 0 {
			fmt.Fprintf(os.Stderr, "restart: no pid in %s\n", file)
			os.Exit(1)
		}
		start := time.Now()
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			fmt.Fprintf(os.Stderr, "restart: kill %d: %v\n", old, err)
			os.Exit(1)
		}
		// Polled every 50µs: the pid file is all that every supervisor has in common.
		for p := pid(file); p <= 0 || p == old; p = pid(file) {
			if time.Since(start) > 10*time.Second {
				fmt.Fprintf(os.Stderr, "restart: no new pid in %s within 10s of killing %d\n", file, old)
				os.Exit(1)
			}
			time.Sleep(50 * time.Microsecond)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	ms := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds()*1000, 'f', 1, 64) }
	fmt.Println(ms(took[len(took)/2]), ms(took[0]), ms(took[len(took)-1]))
}

// pid reads the pid in file: 0 while it is missing, empty or half written (the job
// writes it with its newline in one write).
func pid(file string) int {
	b, err := os.ReadFile(file)
	if err != nil || !strings.HasSuffix(string(b), "\n") {
		return 0
	}
	p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return p
}
