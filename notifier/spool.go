package notifier

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/supervise/supervise/internal/statefile"
)

// Defaults of a Spool.
const (
	DefaultSpoolMaxAge   = 7 * 24 * time.Hour
	DefaultSpoolMaxBytes = 64 << 20
)

// Spool keeps outgoing messages on disk, in Dir, from before they are sent until
// Telegram confirms them, so that neither an outage nor a crash nor a kill loses an
// alert: whichever supervise starts next sends what is left, oldest first.
//
// A message is delivered once in the normal case. A crash between Telegram's answer
// and the removal of the file delivers it twice; nothing delivers it zero times.
// Several processes may share a Dir: each message is locked (flock) while one of them
// sends it.
type Spool struct {
	Dir      string
	MaxAge   time.Duration       // older messages are dropped, with a line on Stderr; zero means a week
	MaxBytes int64               // when the spool holds more, the oldest are dropped; zero means 64 MiB
	Stderr   io.Writer           // where drops and delivery problems are told
	Chat     func(string) string // where messages for a chat id go; nil for the id itself

	mu     sync.Mutex // one flush at a time in this process
	health health
}

// spooled is one message in the spool.
type spooled struct {
	Created  time.Time `json:"created"`
	Job      string    `json:"job"`
	Kind     string    `json:"kind"`
	ChatID   string    `json:"chat_id,omitempty"` // empty for the configured chat
	ThreadID int64     `json:"thread_id,omitempty"`
	Silent   bool      `json:"silent,omitempty"`
	// Quiet hours, as time of day, in which the message goes silently: when it is
	// sent, not when it was made, counts.
	QuietFrom time.Duration `json:"quiet_from,omitempty"`
	QuietTo   time.Duration `json:"quiet_to,omitempty"`
	HTML      string        `json:"html"` // sent in HTML parse mode
	Text      string        `json:"text"` // the plain-text twin, for when Telegram cannot parse the HTML

	// Document, when set, follows the message: the whole output of the run. Sent says
	// the message went already, and the document is what is left to send.
	Document *spooledDoc `json:"document,omitempty"`
	Sent     bool        `json:"sent,omitempty"`

	// An incident's post (incident.go): Op says whether the message is new, a reply
	// or an edit; Post names the post it sends or edits, whose message_id the book
	// keeps; ReplyTo names the post a reply answers; Buttons go under it.
	Op      op         `json:"op,omitempty"`
	Post    string     `json:"post,omitempty"`
	ReplyTo string     `json:"reply_to,omitempty"`
	Buttons [][]Button `json:"buttons,omitempty"`
}

type spooledDoc struct {
	Name    string `json:"name"`
	Content []byte `json:"content"`
}

// entry is a spooled message on disk, open and locked while it is handled.
type entry struct {
	path string
	file *os.File
	msg  spooled
}

// put writes msg to the spool, whole or not at all (a file written, synced and
// renamed into place), and returns it locked. The caller syncs the folder (syncDir)
// once for all it puts, before it sends any: until then a crash of the host may lose
// them, a kill of the process not.
func (s *Spool) put(msg spooled) (*entry, error) {
	data, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	name := entryName(msg)
	tmp, err := os.CreateTemp(s.Dir, ".new-*")
	if errors.Is(err, fs.ErrNotExist) {
		// The first message, or someone removed the folder: it is made when needed.
		if err = os.MkdirAll(s.Dir, 0o700); err == nil {
			tmp, err = os.CreateTemp(s.Dir, ".new-*")
		}
	}
	if err != nil {
		return nil, err
	}
	// Locked before it has its name, so no other process can take it to send.
	if err := syscall.Flock(int(tmp.Fd()), syscall.LOCK_EX); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	path := filepath.Join(s.Dir, name)
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	return &entry{path: path, file: tmp, msg: msg}, nil
}

// syncDir makes a rename or removal in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// done removes e from the spool: it was delivered, or is dropped. A file that cannot
// be removed would be sent again and again: the error says so.
func (e *entry) done() error {
	defer e.file.Close()
	if err := os.Remove(e.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool: %w; stopping, so that nothing is sent twice", err)
	}
	return nil
}

// release unlocks e and leaves it in the spool, for a later flush.
func (e *entry) release() { e.file.Close() }

// save writes e's message over its file, in place, so that the lock on it holds. A
// crash while it writes leaves a file that cannot be read, which is dropped: this is
// only done once the message is sent, so only its document would be lost. An entry
// that is in no spool (there is none, or it cannot be written) has no file to save.
func (e *entry) save() error {
	if e.file == nil {
		return nil
	}
	data, err := json.Marshal(e.msg)
	if err != nil {
		return err
	}
	if err := e.file.Truncate(0); err != nil {
		return err
	}
	if _, err := e.file.WriteAt(data, 0); err != nil {
		return err
	}
	return e.file.Sync()
}

// maxEntry is the most a spooled file holds: a message, and a document of
// supervisor.MaxAttach bytes of output, which cleaning may make three times as long
// and JSON's base64 a third longer again, with room to spare. A bigger file is none
// of supervise's, and is not read.
const maxEntry = 16 << 20

// take opens and locks the spooled file at path, or returns nil when another process
// holds it (unless wait: then it waits for it) or it is gone. A file that can never be
// sent (not a regular file, not a message) is a *statefile.Bad, to be set aside.
func take(path string, wait bool) (*entry, error) {
	// Never blocks, whatever is at path (a FIFO, a symbolic link to one), and the type
	// is the descriptor's own: what was listed as a regular file may be one no more.
	f, st, err := statefile.Open(path, os.O_RDWR, 0, maxEntry)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // delivered meanwhile
	}
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_EX | syscall.LOCK_NB
	if wait {
		how = syscall.LOCK_EX // another process sends it: its outcome is what matters
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, nil // another process is sending it
	}
	// The file may have been delivered and removed between the open and the lock.
	var now syscall.Stat_t
	if syscall.Lstat(path, &now) != nil || now.Ino != st.Ino || now.Dev != st.Dev {
		f.Close()
		return nil, nil
	}
	e := &entry{path: path, file: f}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := statefile.Decode(path, data, &e.msg); err != nil {
		f.Close()
		return nil, err
	}
	if e.msg.Created.IsZero() || e.msg.Text == "" && e.msg.HTML == "" {
		f.Close()
		return nil, &statefile.Bad{Path: path, Why: `not a message: it has no "created" or no "text"`}
	}
	return e, nil
}

// setAside moves a spooled entry that can never be sent out of the spool, with its
// bytes, as statefile.SetAside does, and says so: it is told once, as no flush finds
// it again, and it stands before no message.
func (s *Spool) setAside(bad *statefile.Bad) {
	aside, err := statefile.SetAside(bad.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Another process set it aside first, and said so.
	case err != nil:
		s.tell("supervise: spool: %v; it cannot be set aside (%v): skipped\n", bad, err)
	default:
		s.tell("supervise: spool: %v; set aside as %s\n", bad, filepath.Base(aside))
	}
}

// outcome is what a flush did with one of the caller's own messages.
type outcome int

const (
	kept      outcome = iota // left in the spool, for a later flush
	delivered                // sent, by this flush or by another process
	logKept                  // the message was sent; its document waits in the spool
	dropped                  // given up on, with a line on Stderr
)

// flush sends what the spool holds, oldest first, with send. It drops what is older
// than MaxAge, and the oldest when the spool is over MaxBytes, each with a line on
// Stderr. A destination that fails for good (wrong token, unknown chat) is skipped for
// the rest of the flush, its messages kept; a failure that may pass (Telegram down)
// ends the flush, keeping the rest. It returns the first error of either kind, and
// those of the caller's own messages (the paths in mine). A message Telegram refuses
// whatever is done with it is dropped, its words on Stderr; when that is one of the
// caller's own, the error says so.
//
// It also returns the outcome of each of the caller's own messages, by path; one that
// another process is sending is waited for, so that its outcome is known.
func (s *Spool) flush(ctx context.Context, send func(context.Context, *entry) error, mine []string) (map[string]outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	outcomes := make(map[string]outcome, len(mine))
	for _, path := range mine {
		outcomes[path] = delivered // unless it is still there
	}
	names, junk, err := s.list()
	for _, name := range names {
		if _, ok := outcomes[filepath.Join(s.Dir, name)]; ok {
			outcomes[filepath.Join(s.Dir, name)] = kept
		}
	}
	if err != nil || len(names) == 0 && len(junk) == 0 {
		return outcomes, err
	}
	// A message is only sent when it can then be removed: else every flush would send
	// it again. The caller's own messages, just renamed into the folder, show that it
	// can be changed (a rename there takes the right a removal takes); else a file is
	// made and removed to see.
	if len(mine) == 0 {
		if err := probe(s.Dir); err != nil {
			return outcomes, fmt.Errorf("spool: %w; nothing is sent until it can be written", err)
		}
	}
	for _, b := range junk {
		s.setAside(b) // once the folder is known to be writable
	}
	// note records what became of path, when it is one of the caller's.
	note := func(path string, o outcome) {
		if _, ok := outcomes[path]; ok {
			outcomes[path] = o
		}
	}
	s.trim(names, note)
	latestEdit := map[string]string{} // post to the name of its latest edit
	for _, name := range names {
		if m, post := markOf(name); m == editMark {
			latestEdit[post] = name
		}
	}
	held := map[string]bool{} // posts whose send another process holds: theirs to send first
	var first error
	broken := map[string]bool{} // destinations that failed for good
	for _, name := range names {
		if ctx.Err() != nil {
			return outcomes, errors.Join(first, ctx.Err())
		}
		path := filepath.Join(s.Dir, name)
		_, own := outcomes[path]
		e, err := take(path, own)
		var junk *statefile.Bad
		switch {
		case errors.As(err, &junk):
			s.setAside(junk)
			note(path, dropped)
			continue
		case err != nil:
			s.tell("supervise: spool: %v; left for a later try\n", err)
			continue
		}
		if e == nil {
			if own && outcomes[path] == kept {
				note(path, delivered) // waited for, and gone: the other process sent it
			}
			if m, post := markOf(name); m == postMark {
				held[post] = true
			}
			continue
		}
		if age := time.Since(e.msg.Created); age > orDefault(s.MaxAge, DefaultSpoolMaxAge) {
			s.tell("supervise: spool: dropped the %s message about %s from %s: undelivered for %s\n",
				e.msg.Kind, e.msg.Job, e.msg.Created.Format(timeLayout), age.Round(time.Minute))
			note(path, dropped)
			if err := e.done(); err != nil {
				return outcomes, errors.Join(first, err)
			}
			s.health.dropped()
			continue
		}
		if broken[s.key(e.msg.ChatID)] {
			e.release()
			continue
		}
		m, post := markOf(name)
		if (m == editMark || m == replyMark) && held[post] {
			// Its post is being sent by another process: the message_id it needs
			// is not known yet. It waits for a later flush.
			e.release()
			continue
		}
		if m == editMark && latestEdit[post] != name {
			// A later edit of the same post shows what is latest: this one is done.
			note(path, delivered)
			if err := e.done(); err != nil {
				return outcomes, errors.Join(first, err)
			}
			continue
		}
		err = send(ctx, e)
		var bad unsendable
		switch {
		case err == nil:
			note(path, delivered)
			s.health.delivered(s.key(e.msg.ChatID))
			if err := e.done(); err != nil {
				return outcomes, errors.Join(first, err)
			}
			continue
		case errors.As(err, &bad):
			s.tell("supervise: spool: dropped the %s message about %s from %s: Telegram refuses it (%v); it said:\n%s\n",
				e.msg.Kind, e.msg.Job, e.msg.Created.Format(timeLayout), err, e.msg.Text)
			note(path, dropped)
			s.health.dropped()
			if err := e.done(); err != nil {
				return outcomes, errors.Join(first, err)
			}
			if own {
				first = errors.Join(first, err)
			}
			continue // told on stderr; the flush goes on
		}
		if e.msg.Sent {
			note(path, logKept)
		}
		if errors.Is(err, ErrPermanent) || isFlood(err) {
			// This chat is wrong, or was written to too fast: the others may go on.
			broken[s.key(e.msg.ChatID)] = true
			s.health.failed(s.key(e.msg.ChatID), err, errors.Is(err, ErrPermanent))
			e.release()
		} else {
			s.health.failed(s.key(e.msg.ChatID), err, false)
			e.release()
			return outcomes, errors.Join(first, err)
		}
		switch {
		case first == nil:
			first = err
		case own:
			first = errors.Join(first, err) // the caller is told why its own waits
		}
	}
	return outcomes, first
}

// The marks that set the post apart in the name of a post's send, edit or reply.
const (
	postMark  = "-post-"
	editMark  = "-edit-"
	replyMark = "-reply-"
)

// mark is what the name of m's file says of its post: a mark and the post, or "".
func mark(m spooled) string {
	switch {
	case m.Op == opEdit:
		return editMark + m.Post
	case m.Op == opReply && m.ReplyTo != "":
		return replyMark + m.ReplyTo
	case m.Post != "":
		return postMark + m.Post
	}
	return ""
}

// markOf reads mark back from a spooled file's name: the mark and the post, or "".
func markOf(name string) (mark, post string) {
	name = strings.TrimSuffix(name, ".json")
	for _, m := range []string{postMark, editMark, replyMark} {
		if _, post, ok := strings.Cut(name, m); ok {
			return m, post
		}
	}
	return "", ""
}

// probe makes a file in dir and removes it.
func probe(dir string) error {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// key is how a flush tells chats apart: by where messages for chat id go.
func (s *Spool) key(id string) string {
	if s.Chat != nil {
		return s.Chat(id)
	}
	return id
}

// isFlood reports whether err is Telegram's 429, which is about one chat.
func isFlood(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Code == 429
}

// list returns the names of the spooled messages, oldest first, and the entries
// named as messages that are not regular files, to be set aside. Their type is the
// directory's word, for no cost per file; take checks it again on the descriptor.
func (s *Spool) list() (names []string, bad []*statefile.Bad, err error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") {
			if !e.Type().IsRegular() {
				bad = append(bad, statefile.NotRegular(filepath.Join(s.Dir, n), e.Type()))
				continue
			}
			names = append(names, n)
			continue
		}
		// What a crash left before it was renamed into place: a whole message is put
		// in its place; what is not is removed after an hour.
		if strings.HasPrefix(n, ".new-") && e.Type().IsRegular() {
			if name, ok := s.finish(filepath.Join(s.Dir, n)); ok {
				names = append(names, name)
				continue
			}
		}
		if fi, err := e.Info(); err == nil && strings.HasPrefix(n, ".") && time.Since(fi.ModTime()) > time.Hour {
			os.Remove(filepath.Join(s.Dir, n))
		}
	}
	slices.Sort(names)
	return names, bad, nil
}

// entryName is the name of msg's file in the spool. Names sort by age: a flush sends
// the oldest first. The name of a post's send, edit or reply says the post (markOf),
// so that a flush sends only the latest edit of each, and no edit or reply before the
// post's send.
func entryName(msg spooled) string {
	var id [6]byte
	rand.Read(id[:])
	return fmt.Sprintf("%020d-%s%s.json", msg.Created.UnixNano(), hex.EncodeToString(id[:]), mark(msg))
}

// finish puts in its place a message whose writer died (a kill -9) after writing it
// and before renaming it, and returns its name. It does nothing to a file a live
// writer holds (it is locked until it is renamed), or to one that is no whole message.
func (s *Spool) finish(path string) (string, bool) {
	e, err := take(path, false)
	if err != nil || e == nil {
		return "", false
	}
	defer e.release()
	name := entryName(e.msg)
	if os.Rename(path, filepath.Join(s.Dir, name)) != nil {
		return "", false
	}
	syncDir(s.Dir)
	return name, true
}

// trim drops the oldest messages while the spool holds more than MaxBytes, and notes
// each as dropped. A message being sent by another process is left alone.
func (s *Spool) trim(names []string, note func(path string, o outcome)) {
	var total int64
	sizes := make([]int64, len(names))
	for i, n := range names {
		// One too big is no message: take sets it aside, unread, and it counts for none.
		if fi, err := os.Lstat(filepath.Join(s.Dir, n)); err == nil && fi.Size() <= maxEntry {
			sizes[i] = fi.Size()
			total += fi.Size()
		}
	}
	limit := s.MaxBytes
	if limit <= 0 {
		limit = DefaultSpoolMaxBytes
	}
	for i := 0; total > limit && i < len(names); i++ {
		e, err := take(filepath.Join(s.Dir, names[i]), false)
		var bad *statefile.Bad
		if errors.As(err, &bad) {
			// No message: set aside, rather than a message dropped in its place.
			s.setAside(bad)
			total -= sizes[i]
			continue
		}
		if e == nil || err != nil {
			continue
		}
		s.tell("supervise: spool: dropped the %s message about %s from %s: the spool is over %d bytes\n",
			e.msg.Kind, e.msg.Job, e.msg.Created.Format(timeLayout), limit)
		note(e.path, dropped)
		if e.done() != nil {
			return
		}
		s.health.dropped()
		total -= sizes[i]
	}
}

func (s *Spool) tell(format string, args ...any) {
	if s.Stderr != nil {
		fmt.Fprintf(s.Stderr, format, args...)
	}
}
