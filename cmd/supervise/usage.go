package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// flagSet is a command's flag.FlagSet with the words of its usage. It prints
// nothing itself: what goes wrong comes back to realMain as an error, which prints it
// and the usage in one place.
type flagSet struct {
	*flag.FlagSet
	synopsis []string // the command's forms, after "supervise ": "logs [-n N] [-f] JOB"
	about    string   // what follows the synopsis, before the flags; may be empty
	// interleaved is set by parseInterleaved: the command takes flags after its
	// arguments too, which shell completion needs to know.
	interleaved bool
}

// newFlagSet returns the flag set of the command name, used as in synopsis.
func newFlagSet(name, about string, synopsis ...string) *flagSet {
	fs := flag.NewFlagSet("supervise "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, synopsis: synopsis, about: about}
}

// parse parses args, which hold only flags before the arguments. -h and --help
// return a help request; a bad flag, a usage error.
func (fs *flagSet) parse(args []string) error {
	if err := fs.FlagSet.Parse(args); err != nil {
		return &usageError{fs: fs, err: err}
	}
	return nil
}

// parseInterleaved parses flags that come before, between or after the arguments, as
// in `supervise logs web -f`, and returns the arguments. What follows -- is arguments.
func (fs *flagSet) parseInterleaved(args []string) ([]string, error) {
	fs.interleaved = true
	var names []string
	for {
		if err := fs.parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" { // Parse took the -- itself
			return append(names, rest...), nil
		}
		if len(rest) == 0 {
			return names, nil
		}
		names, args = append(names, rest[0]), rest[1:]
	}
}

// parseNoArgs parses args, flags anywhere, for a command that takes no arguments.
func (fs *flagSet) parseNoArgs(args []string) error {
	rest, err := fs.parseInterleaved(args)
	if err == nil && len(rest) > 0 {
		err = fs.usageErrorf("unexpected argument %q", rest[0])
	}
	return err
}

// usageErrorf is a usage error of the command: its arguments or a flag's value.
func (fs *flagSet) usageErrorf(format string, a ...any) error {
	return &usageError{fs: fs, err: fmt.Errorf(format, a...)}
}

// usageError wraps err as a usage error of the command.
func (fs *flagSet) usageError(err error) error {
	return &usageError{fs: fs, err: err}
}

// isSet reports whether the flag name was given.
func (fs *flagSet) isSet(name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// writeUsage writes the command's usage: its synopsis, what it says about itself,
// and its flags, long ones with two dashes, as the README writes them.
func (fs *flagSet) writeUsage(w io.Writer) {
	for i, s := range fs.synopsis {
		lead := "usage: "
		if i > 0 {
			lead = "       "
		}
		fmt.Fprintf(w, "%ssupervise %s\n", lead, s)
	}
	if fs.about != "" {
		fmt.Fprintf(w, "\n%s", fs.about)
	}
	docs := fs.flagDocs()
	if len(docs) == 0 {
		return
	}
	fmt.Fprint(w, "\nflags:\n")
	for _, d := range docs {
		placeholder := d.placeholder
		if placeholder != "" {
			placeholder = " " + placeholder
		}
		fmt.Fprintf(w, "  %s%s\n", d.name, placeholder)
		fmt.Fprintf(w, "    \t%s\n", strings.ReplaceAll(d.text, "\n", "\n    \t"))
	}
}

// flagDoc is a flag as a command's usage, its man page and shell completion show it.
type flagDoc struct {
	name        string // with its dashes: -n, --state
	placeholder string // the name of its value, "" for a flag that takes none
	text        string // what it does, with its default
}

// flagDocs are the command's flags in the order its usage lists them: long ones with
// two dashes, as the README writes them.
func (fs *flagSet) flagDocs() []flagDoc {
	var docs []flagDoc
	fs.VisitAll(func(f *flag.Flag) {
		placeholder, text := flag.UnquoteUsage(f)
		dashes := "--"
		if len(f.Name) == 1 {
			dashes = "-"
		}
		if d := f.DefValue; d != "" && d != "false" && !strings.Contains(text, "(default") {
			text += fmt.Sprintf(" (default %s)", d)
		}
		docs = append(docs, flagDoc{name: dashes + f.Name, placeholder: placeholder, text: text})
	})
	return docs
}

// flagSetOf returns the flag set of the command name, as the command builds it, with
// its usage. It asks the command for help, as `supervise help NAME` does: every
// command parses its flags before it does anything else, so -h returns its flag set
// and runs nothing. It is nil for a command that is not one.
func flagSetOf(name string) *flagSet {
	cmd := commands[name]
	if cmd == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // should a command ever get further, it finds itself cancelled
	var ue *usageError
	if err := cmd(ctx, []string{"-h"}, stdio{strings.NewReader(""), io.Discard, io.Discard}); errors.As(err, &ue) {
		return ue.fs
	}
	return nil
}

// usageError is a command given wrongly: an unknown flag, a missing or extra
// argument, a bad value. realMain prints it with the command's usage, and exits 2. A
// request for help (-h, --help) is one whose err is flag.ErrHelp: realMain prints the
// usage on stdout and exits 0.
type usageError struct {
	fs  *flagSet
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// configError is a configuration error, found before anything runs: realMain prints
// it and exits 2, without a command's usage, which is not what is wrong.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// exitStatus ends a command with its status, when the command has said what it has to
// say itself (`supervise check` lists each problem) or passes on a job's status.
type exitStatus int

func (s exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

// statusOf is the exit status of a command that returned err, having printed err
// on stderr as the command name's, and a usage where one is asked for or helps.
func statusOf(name string, err error, stdout, stderr io.Writer) int {
	var (
		ue     *usageError
		ce     *configError
		status exitStatus
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue) && errors.Is(ue.err, flag.ErrHelp):
		ue.fs.writeUsage(stdout)
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "supervise %s: %v\n\n", name, err)
		ue.fs.writeUsage(stderr)
		return exitUsage
	case errors.As(err, &status):
		return int(status)
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "supervise %s: %v\n", name, err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "supervise %s: %v\n", name, err)
	return exitFail
}
