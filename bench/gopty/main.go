// Command gopty is the least a Go wrapper that gives its command a terminal can
// cost: it runs its arguments on a pty (creack/pty) and copies what comes out of it to
// its own stdout, as `supervise run` does. bench/all.sh measures the throughput of
// supervise and script(1) against it.
package main

import (
	"os"
	"os/exec"

	"github.com/creack/pty"
)

func main() {
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	ptmx, err := pty.Start(cmd)
	if err != nil {
		os.Exit(1)
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := ptmx.Read(buf)
		if n > 0 {
			os.Stdout.Write(buf[:n])
		}
		if err != nil { // EIO once the last process holding the terminal closed it
			break
		}
	}
	if cmd.Wait() != nil {
		os.Exit(1)
	}
}
