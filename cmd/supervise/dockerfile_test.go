package main

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// An instruction of a Dockerfile: its name, upper case, and the rest of its line.
type instruction struct {
	name, args string
}

// dockerfile reads the instructions of a Dockerfile, with continued lines joined and
// comments left out, split into its stages.
func dockerfile(t *testing.T, path string) [][]instruction {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]instruction
	var line string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if strings.HasSuffix(l, `\`) {
			line += strings.TrimSuffix(l, `\`) + " "
			continue
		}
		line += l
		name, args, _ := strings.Cut(strings.TrimSpace(line), " ")
		line = ""
		if name == "" {
			continue
		}
		in := instruction{strings.ToUpper(name), strings.Join(strings.Fields(args), " ")}
		switch {
		case in.name == "FROM":
			stages = append(stages, []instruction{in})
		case len(stages) > 0:
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	return stages
}

// jsonArgs is an instruction's arguments in exec form, a JSON array.
func jsonArgs(t *testing.T, in instruction) []string {
	t.Helper()
	var args []string
	if err := json.Unmarshal([]byte(in.args), &args); err != nil {
		t.Fatalf("%s %s: not in exec form (a JSON array): %v", in.name, in.args, err)
	}
	return args
}

// No Docker engine runs the tests, so examples/Dockerfile is not built here. What
// can rot without a build is checked instead: up is PID 1, started directly with
// flags it has; the job folder and the state folder it is given are the volumes;
// the build is static; the final image is not the Go toolchain.
func TestDockerfile(t *testing.T) {
	stages := dockerfile(t, "../../examples/Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a final one", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	if !strings.HasPrefix(build[0].args, "golang:") {
		t.Errorf("the build stage is FROM %s, want a golang image", build[0].args)
	}
	if strings.Contains(final[0].args, "golang") {
		t.Errorf("the final image is FROM %s, which carries the Go toolchain", final[0].args)
	}
	var buildCmd string
	for _, in := range build {
		if in.name == "RUN" && strings.Contains(in.args, "go build") {
			buildCmd = in.args
		}
	}
	for _, want := range []string{"CGO_ENABLED=0 ", "-trimpath", "./cmd/supervise"} {
		if !strings.Contains(buildCmd, want) {
			t.Errorf("the go build (%q) lacks %s", buildCmd, want)
		}
	}

	last := map[string]instruction{}
	env := map[string]string{}
	var volumes []string
	for _, in := range final {
		last[in.name] = in
		switch in.name {
		case "ENV":
			k, v, _ := strings.Cut(in.args, "=")
			env[k] = v
		case "VOLUME":
			volumes = append(volumes, jsonArgs(t, in)...)
		}
	}
	if got := last["STOPSIGNAL"].args; got != "SIGTERM" {
		t.Errorf("STOPSIGNAL %q, want SIGTERM", got)
	}
	entry, cmd := jsonArgs(t, last["ENTRYPOINT"]), jsonArgs(t, last["CMD"])
	if len(entry) != 1 || entry[0] != "/usr/bin/supervise" {
		t.Errorf("ENTRYPOINT %q, want supervise alone, so that CMD names the command", entry)
	}
	if !regexp.MustCompile(`(?m) /usr/bin/supervise$`).MatchString(joinArgs(final, "COPY")) {
		t.Errorf("no COPY puts supervise at /usr/bin/supervise")
	}
	if len(cmd) == 0 || cmd[0] != "up" {
		t.Fatalf("CMD %q, want up", cmd)
	}
	_, usage, _ := supervise(t, "help", "up")
	jobs := "jobs.d"
	for i, arg := range cmd[1:] {
		if flag, ok := strings.CutPrefix(arg, "--"); ok {
			if !regexp.MustCompile(`(?m)^  --` + regexp.QuoteMeta(flag) + `\b`).MatchString(usage) {
				t.Errorf("CMD gives up --%s, which up does not have:\n%s", flag, usage)
			}
			if flag == "jobs" && i+2 < len(cmd) {
				jobs = cmd[i+2]
			}
		}
	}
	state := env["SUPERVISE_STATE_DIR"]
	for _, dir := range []string{jobs, state} {
		if !slices.Contains(volumes, dir) {
			t.Errorf("%s is not a VOLUME (volumes: %q)", dir, volumes)
		}
	}
	if health := last["HEALTHCHECK"].args; health != "" && !strings.Contains(health, `"/usr/bin/supervise", "status"`) {
		t.Errorf("HEALTHCHECK %s does not ask supervise status", health)
	}
}

// joinArgs is the arguments of every instruction of a kind in a stage.
func joinArgs(stage []instruction, name string) string {
	var all []string
	for _, in := range stage {
		if in.name == name {
			all = append(all, in.args)
		}
	}
	return strings.Join(all, "\n")
}

// A -X flag naming a variable that does not exist is silently ignored by the linker:
// every main.NAME that the release builds stamp must be a variable of this package.
func TestStampedNamesExist(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "version.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
			for _, s := range g.Specs {
				for _, n := range s.(*ast.ValueSpec).Names {
					vars[n.Name] = true
				}
			}
		}
	}
	stamped := regexp.MustCompile(`-X main\.(\w+)=`)
	for _, path := range []string{"../../packaging/build.sh", "../../examples/Dockerfile"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		found := stamped.FindAllSubmatch(b, -1)
		if len(found) == 0 {
			t.Errorf("%s stamps nothing with -X main.NAME=", path)
		}
		for _, m := range found {
			if !vars[string(m[1])] {
				t.Errorf("%s stamps main.%s, which version.go does not declare", path, m[1])
			}
		}
	}
}
