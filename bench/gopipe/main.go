// Command gopipe is the least a Go wrapper that sees its command's output can cost:
// it runs its arguments with their stdout and stderr on one pipe, and copies what
// comes out of it to its own stdout, as `supervise run --no-pty` does. bench/all.sh
// measures the throughput of supervise against it.
package main

import (
	"os"
	"os/exec"
)

func main() {
	r, w, err := os.Pipe()
	if err != nil {
		os.Exit(1)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		os.Exit(1)
	}
	w.Close()
	// A plain read and write, as supervise does (it keeps the tail of what it reads):
	// no splice, which would move the bytes without them ever being seen.
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			os.Stdout.Write(buf[:n])
		}
		if err != nil {
			break
		}
	}
	if cmd.Wait() != nil {
		os.Exit(1)
	}
}
