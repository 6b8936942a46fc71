// Command goexec is the least a Go wrapper can cost: it runs its arguments as a
// command, with its own stdin, stdout and stderr, and waits for it. bench/all.sh
// measures `supervise run` against it.
package main

import (
	"os"
	"os/exec"
)

func main() {
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if cmd.Run() != nil {
		os.Exit(1)
	}
}
