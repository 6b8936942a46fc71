// Package importer turns what other tools run into supervise's job files: each line
// of a crontab (crontab.go) and each process of supervisord's [program:x] sections
// (supervisord.go). A translation keeps what the old tool did, or says what it
// could not keep: every file it makes is loaded back with supervisor.Parse before it
// is offered, and what does not load, or does not run the command meant, is listed
// instead of written.
package importer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/supervise/supervise/supervisor"
)

// File is one job file an import makes.
type File struct {
	Name   string // the job's name, and the file's stem
	Source string // where it came from: FILE:LINE
	Text   []byte // the job file
}

// Item is one thing an import says about its input, at the line it is about.
type Item struct {
	Source string // FILE:LINE
	Text   string
}

func (i Item) String() string { return i.Source + ": " + i.Text }

// Result is what an import makes of its input.
type Result struct {
	Files []File
	// Skipped lists what was not translated, or not all of it: lines, programs and
	// keys, each with why. An import with any exits 1.
	Skipped []Item
	// Notes say how something was translated where supervise does it its own way
	// (logs, process groups, mail): read once, nothing is lost.
	Notes []Item
	// Crontab is, for a crontab, the crontab to install in its place.
	Crontab string
}

func (r *Result) skip(source, format string, a ...any) {
	r.Skipped = append(r.Skipped, Item{source, fmt.Sprintf(format, a...)})
}

func (r *Result) note(source, format string, a ...any) {
	r.Notes = append(r.Notes, Item{source, fmt.Sprintf(format, a...)})
}

// ErrExists is Write's error when a job file is there already and force is not set.
var ErrExists = errors.New("exists")

// Write writes files into dir, which it creates if need be, and returns their
// paths. Unless force is set, a file that is there already is not overwritten: then
// nothing is written, and the error names every such file.
func Write(dir string, files []File, force bool) ([]string, error) {
	paths := make([]string, len(files))
	var there []error
	for i, f := range files {
		paths[i] = filepath.Join(dir, f.Name+".toml")
		if _, err := os.Lstat(paths[i]); err == nil && !force {
			there = append(there, fmt.Errorf("%s: %w (--force overwrites it)", paths[i], ErrExists))
		}
	}
	if len(there) > 0 {
		return nil, fmt.Errorf("nothing written: %w", errors.Join(there...))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if !force {
		flags |= os.O_EXCL // should one appear meanwhile
	}
	for i, f := range files {
		// 0644: up, when it runs as root, refuses a job file that others may write.
		w, err := os.OpenFile(paths[i], flags, 0o644)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				err = fmt.Errorf("%s: %w (--force overwrites it)", paths[i], ErrExists)
			}
			return paths[:i], err
		}
		_, err = w.Write(f.Text)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return paths[:i], err
		}
	}
	return paths, nil
}

// load reads text back as `supervise up` would from dir/name.toml, and checks that it
// runs argv. It is how an import knows each file it offers is what it meant.
func load(dir, name string, text []byte, argv []string) (*supervisor.Job, error) {
	job, err := supervisor.Parse(filepath.Join(dir, name+".toml"), text)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(job.Command, argv) {
		return nil, fmt.Errorf("the job file runs %q, not %q", job.Command, argv)
	}
	return job, nil
}

// names hands out job names, each once: the second backup is backup-2.
type names map[string]bool

// take returns base, or base-N for the first N that is free, and marks it taken.
func (n names) take(base string) string {
	name := base
	for i := 2; n[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	n[name] = true
	return name
}

// cleanName makes s a job name (supervisor.CheckName): the characters a name may not
// hold become '-', and what is left must begin with a letter or a digit.
func cleanName(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			b.WriteRune(c)
		} else if !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	name := strings.TrimRight(strings.TrimLeft(b.String(), ".-_"), ".-")
	if len(name) > 60 { // room for a -N, well within the 100 a name may have
		name = strings.TrimRight(name[:60], ".-")
	}
	if name == "" {
		return "job"
	}
	return name
}

// sortItems sorts items by their file, in the order each first appears, then by
// line.
func sortItems(items []Item) {
	order := map[string]int{}
	at := func(it Item) (int, int) {
		i := strings.LastIndexByte(it.Source, ':')
		file := it.Source[:max(i, 0)]
		if _, ok := order[file]; !ok {
			order[file] = len(order)
		}
		line, _ := strconv.Atoi(it.Source[i+1:])
		return order[file], line
	}
	for _, it := range items {
		at(it)
	}
	slices.SortStableFunc(items, func(a, b Item) int {
		af, al := at(a)
		bf, bl := at(b)
		if af != bf {
			return af - bf
		}
		return al - bl
	})
}
