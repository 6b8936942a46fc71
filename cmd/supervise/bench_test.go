package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// Benchmarks of what `supervise run` costs against running the program directly,
// against the least any Go wrapper costs (a program that only execs and waits), and
// against script(1), the usual way to give a job a terminal. They run built binaries,
// as cron would; build them static, as a release is:
//
//	CGO_ENABLED=0 go test -run '^$' -bench Wrap -benchtime 200x ./cmd/supervise
//	CGO_ENABLED=0 go test -run '^$' -bench Throughput -benchtime 3x ./cmd/supervise
//
// Startup overhead is ns/op of BenchmarkWrap/supervise minus BenchmarkWrap/direct;
// throughput is MB/s of BenchmarkThroughput.

func buildSupervise(b *testing.B) string {
	b.Helper()
	return build(b, ".")
}

// build builds the main package in dir into a temporary file.
func build(b *testing.B, dir string) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "bin")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// buildGoExec builds the least a Go wrapper can be: exec the command and wait.
func buildGoExec(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	src := "package main\n\nimport (\n\t\"os\"\n\t\"os/exec\"\n)\n\nfunc main() {\n" +
		"\tcmd := exec.Command(os.Args[1], os.Args[2:]...)\n\tcmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr\n" +
		"\tif cmd.Run() != nil {\n\t\tos.Exit(1)\n\t}\n}\n"
	for name, text := range map[string]string{"main.go": src, "go.mod": "module goexec\n\ngo 1.26\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return build(b, dir)
}

func BenchmarkWrap(b *testing.B) {
	bin, goexec := buildSupervise(b), buildGoExec(b)
	// supervise gets a state folder and a config home of its own, empty: what the
	// machine's own (incidents other runs left open, a config file) hold would change
	// what a run does. With a bot, a run that succeeds sends nothing.
	b.Setenv("SUPERVISE_STATE_DIR", b.TempDir())
	b.Setenv("XDG_CONFIG_HOME", b.TempDir())
	for _, k := range botKeys {
		b.Setenv(k, "")
	}
	bot := []string{"SUPERVISE_TELEGRAM_TOKEN=123456:ABC-benchmark", "SUPERVISE_TELEGRAM_CHAT_ID=1", "SUPERVISE_TELEGRAM_API_URL=http://127.0.0.1:1"}
	for _, tc := range []struct {
		name string
		argv []string
		env  []string
	}{
		{"direct", []string{"/bin/true"}, nil},
		{"go-exec", []string{goexec, "/bin/true"}, nil},
		{"supervise", []string{bin, "run", "--", "/bin/true"}, nil},
		{"supervise-no-pty", []string{bin, "run", "--no-pty", "--", "/bin/true"}, nil},
		{"supervise-bot", []string{bin, "run", "--", "/bin/true"}, bot},
		{"script", []string{"script", "-qec", "/bin/true", "/dev/null"}, nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if _, err := exec.LookPath(tc.argv[0]); err != nil {
				b.Skipf("%s is not installed", tc.argv[0])
			}
			for b.Loop() {
				runQuiet(b, tc.argv, tc.env...)
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

// runQuiet runs argv with its output to /dev/null, as a job whose output nobody reads,
// in the environment with env added.
func runQuiet(b *testing.B, argv []string, env ...string) {
	b.Helper()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.Env = null, null, append(os.Environ(), env...)
	if err := cmd.Run(); err != nil {
		b.Fatalf("%v: %v", argv, err)
	}
}
