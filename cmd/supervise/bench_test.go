package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// Benchmarks of what `supervise run` costs against running the program directly and
// against script(1), the usual way to give a job a terminal. They run the built
// binary, as cron would:
//
//	go test -run '^$' -bench . -benchtime 200x ./cmd/supervise
//
// Startup overhead is ns/op of BenchmarkWrap/supervise minus BenchmarkWrap/direct.
// Throughput is MB/s of BenchmarkThroughput.

func buildSupervise(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "supervise")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func BenchmarkWrap(b *testing.B) {
	bin := buildSupervise(b)
	for _, tc := range []struct {
		name string
		argv []string
	}{
		{"direct", []string{"/bin/true"}},
		{"supervise", []string{bin, "run", "--", "/bin/true"}},
		{"supervise-no-pty", []string{bin, "run", "--no-pty", "--", "/bin/true"}},
		{"script", []string{"script", "-qec", "/bin/true", "/dev/null"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if _, err := exec.LookPath(tc.argv[0]); err != nil {
				b.Skipf("%s is not installed", tc.argv[0])
			}
			for b.Loop() {
				runQuiet(b, tc.argv)
			}
		})
	}
}

func BenchmarkThroughput(b *testing.B) {
	const size = 256 << 20
	bin := buildSupervise(b)
	gen := "head -c " + strconv.Itoa(size) + " /dev/zero"
	for _, tc := range []struct {
		name string
		argv []string
	}{
		{"direct", []string{"sh", "-c", gen}},
		{"supervise-pty", []string{bin, "run", "--", "sh", "-c", gen}},
		{"supervise-pipe", []string{bin, "run", "--no-pty", "--", "sh", "-c", gen}},
		{"script", []string{"script", "-qec", gen, "/dev/null"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if _, err := exec.LookPath(tc.argv[0]); err != nil {
				b.Skipf("%s is not installed", tc.argv[0])
			}
			b.SetBytes(size)
			for b.Loop() {
				runQuiet(b, tc.argv)
			}
		})
	}
}

// runQuiet runs argv with its output to /dev/null, as a job whose output nobody reads.
func runQuiet(b *testing.B, argv []string) {
	b.Helper()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = null, null
	if err := cmd.Run(); err != nil {
		b.Fatalf("%v: %v", argv, err)
	}
}
