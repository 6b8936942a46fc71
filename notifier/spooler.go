package notifier

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// spooler sends to Telegram through a Spool: each message is on disk before it is
// sent, and is sent after whatever older messages wait there; what cannot be sent
// stays for a later flush, by this process or the next supervise to start.
type spooler struct {
	tg       *Telegram
	defaults []supervisor.Destination // in place of the default chat, for events without chats of their own
	spool    *Spool                   // nil for none
	book     *store                   // the posts, whose message ids edits and replies need
	w        io.Writer

	// The paces of chats, so a backlog goes at Telegram's pace rather than into its
	// 429s: private chats, and groups and channels.
	privatePace, groupPace time.Duration

	mu       sync.Mutex
	migrated map[string]string    // group chats upgraded to supergroups: old id to new
	last     map[string]time.Time // when each chat was last written to, for the pace
}

func (s *spooler) redact(ev supervisor.Event) supervisor.Event { return s.tg.redactEvent(ev) }
func (s *spooler) edits() bool                                 { return true }

// wait waits until chat may be written to again, so a backlog of spooled messages
// goes at Telegram's pace rather than into its 429s.
func (s *spooler) wait(ctx context.Context, chat string) error {
	s.mu.Lock()
	next := s.last[chat].Add(s.paceOf(chat))
	s.mu.Unlock()
	if d := time.Until(next); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.sent(chat)
	return nil
}

// sent records that chat was written to now. It is recorded again once Telegram has
// answered, as Telegram counts from when it takes a message.
func (s *spooler) sent(chat string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = map[string]time.Time{}
	}
	s.last[chat] = time.Now()
}

// send spools each message of ds, for its chat, and flushes the spool. When a
// message could not be sent, it says so on w, with the message, and that the message
// waits in the spool. Without a spool, or when the spool cannot be written, the
// messages go all the same, by the same way, and what cannot be sent is lost: w gets
// it, with why.
func (s *spooler) send(ctx context.Context, ds []delivery) error {
	now := time.Now()
	mine := map[string]delivery{}
	var order []string
	var unspooled []unspooledMsg
	for i, d := range ds {
		d = s.tg.redactDelivery(d)
		// A nanosecond apart, so that they sort in their order: a post before its edit.
		m := spooledOf(d, now.Add(time.Duration(i)))
		// The default chat is left empty: it is the one configured when the message
		// goes, so a backlog kept because the chat was wrong goes to the right one
		// once the configuration is fixed.
		m.ChatID, m.ThreadID, m.Silent = d.to.ChatID, d.to.ThreadID, d.to.Silent
		m.QuietFrom, m.QuietTo = d.to.Quiet.From, d.to.Quiet.To
		if s.spool != nil && unspooled == nil {
			e, err := s.spool.put(m)
			if err == nil {
				e.release() // the flush sends it in its turn, after the older ones
				mine[e.path] = d
				order = append(order, e.path)
				continue
			}
			// The disk fails: what is not spooled yet goes without the spool, as it
			// would without one, to the same chats.
			fmt.Fprintf(s.w, "supervise: spool: %v; sending without it\n", err)
		}
		unspooled = append(unspooled, unspooledMsg{d, &entry{msg: m}})
	}
	if len(mine) > 0 {
		syncDir(s.spool.Dir) // once for all of them, before any is sent
	}
	// The older messages and these get one timeout in all, not one each: a backlog
	// must not hold up a run.
	ctx, cancel := context.WithTimeout(ctx, orDefault(s.tg.MaxWait, defaultMaxWait))
	defer cancel()
	var err error
	if len(mine) > 0 {
		err = s.flushMine(ctx, mine, order)
	}
	if len(unspooled) > 0 {
		err = errors.Join(err, s.sendUnspooled(ctx, unspooled))
	}
	return err
}

// unspooledMsg is a message that is in no spool, with what it tells.
type unspooledMsg struct {
	d delivery
	e *entry
}

// sendUnspooled sends messages that are in no spool, by the way a flush sends
// spooled ones, and, should one not go, writes the message to w, with why: nothing
// else keeps it.
func (s *spooler) sendUnspooled(ctx context.Context, ms []unspooledMsg) error {
	var all error
	told := map[string]bool{}
	for _, m := range ms {
		err := s.sendEntry(ctx, m.e)
		switch {
		case err == nil:
		case m.e.msg.Sent:
			kind, job := m.d.about()
			fmt.Fprintf(s.w, "supervise: the %s message about %s was delivered; its log was not (%v)\n", kind, job, err)
		default:
			all = errors.Join(all, err)
			// err comes from the Telegram client, which has already redacted the token.
			if text := m.d.text(); !told[text] {
				told[text] = true
				writeNotice(s.w, fmt.Sprintf("supervise: notification not delivered to Telegram (%v):", err), text)
			}
		}
	}
	return all
}

// flushMine flushes the spool, in which mine are the spooled messages of this send
// (the paths in order), and says on w what became of them.
func (s *spooler) flushMine(ctx context.Context, mine map[string]delivery, order []string) error {
	outcomes, err := s.spool.flush(ctx, s.sendEntry, order)
	var waiting []delivery
	lost := false
	for _, path := range order {
		d := mine[path]
		switch outcomes[path] {
		case kept:
			waiting = append(waiting, d)
		case logKept:
			kind, job := d.about()
			fmt.Fprintf(s.w, "supervise: the %s message about %s was delivered; its log is kept in %s for a later try (%v)\n", kind, job, s.spool.Dir, err)
		case dropped:
			lost = true // said so on stderr, with its words; err says so too
		}
	}
	switch {
	case len(waiting) == 0 && lost:
		return cmp.Or(err, errors.New("dropped from the spool"))
	case len(waiting) == 0:
		return nil
	}
	err = cmp.Or(err, errors.New("not sent yet"))
	told := map[string]bool{}
	for _, d := range waiting {
		if text := d.text(); !told[text] {
			told[text] = true
			writeNotice(s.w, fmt.Sprintf("supervise: notification not delivered to Telegram (%v); it is kept in %s, and the next supervise to start sends it:", err, s.spool.Dir), text)
		}
	}
	return fmt.Errorf("%w (kept in the spool)", err)
}

// spooledOf is the spool entry of the redacted delivery d, made at now, for the chat
// that send then sets.
func spooledOf(d delivery, now time.Time) spooled {
	html, whole := d.html()
	kind, job := d.about()
	m := spooled{Created: now, Job: job, Kind: kind, HTML: html, Text: d.text(),
		Op: d.op, Post: d.post, ReplyTo: d.replyTo, Buttons: d.buttons}
	ev := d.ev // zero for a digest, which quotes no output
	if len(ev.Output) > 0 && (ev.Notify.Attach == supervisor.AttachAlways || ev.Notify.Attach == supervisor.AttachAuto && !whole) {
		m.Document = &spooledDoc{Name: documentName(ev), Content: []byte(clean(ev.Output))}
	}
	return m
}

// flush sends what waits in the spool, oldest first, for at most the notifier's
// timeout: what is left waits for the next flush.
func (s *spooler) flush(ctx context.Context) error {
	if s.spool == nil {
		return errNoSpool
	}
	ctx, cancel := context.WithTimeout(ctx, orDefault(s.tg.MaxWait, defaultMaxWait))
	defer cancel()
	_, err := s.spool.flush(ctx, s.sendEntry, nil)
	return err
}

// sendEntry sends one spooled message and then its document, if it has one. Once the
// message is sent, the entry says so, so a document that cannot be sent yet is all a
// later flush sends. A document Telegram refuses for good is dropped, with a line on
// stderr: the message it follows was sent.
func (s *spooler) sendEntry(ctx context.Context, e *entry) error {
	m := &e.msg
	if err := s.wait(ctx, s.chat(m.ChatID)); err != nil {
		return err
	}
	if !m.Sent {
		err := s.sendMessage(ctx, m)
		s.sent(s.chat(m.ChatID))
		if err != nil {
			// Which chat refused says where to look: a job's chat_id or the environment.
			return fmt.Errorf("chat %s: %w", s.chat(m.ChatID), err)
		}
		if m.Document == nil {
			return nil
		}
		m.Sent = true
		if err := e.save(); err != nil {
			return fmt.Errorf("spool: %s: %w", e.path, err)
		}
		if err := s.wait(ctx, s.chat(m.ChatID)); err != nil {
			return err
		}
	}
	doc := Document{Name: m.Document.Name, Content: m.Document.Content, Silent: true}
	err := s.toTopicOrChat(m, func(thread int64) error {
		doc.ThreadID = thread
		return s.tg.SendDocument(ctx, s.chat(m.ChatID), doc)
	})
	s.sent(s.chat(m.ChatID))
	if refused(err) {
		fmt.Fprintf(s.w, "supervise: spool: the output of %s was not attached: %v\n", m.Job, err)
		return nil // the document itself is refused; its message went
	}
	return err
}

// documentName names the document of ev's output for the chat: job and start time.
func documentName(ev supervisor.Event) string {
	if ev.Start.IsZero() {
		return ev.Job + ".log"
	}
	return ev.Job + "-" + ev.Start.Format("20060102-150405") + ".log"
}

// sendMessage sends the message of m, handling the answers that call for sending it
// differently: to the chat itself when its topic is gone, to the supergroup a group
// became, or as plain text. An edit edits its post's message, or, when that is gone
// (deleted, or never sent), is sent as a new message; a reply answers its post's
// message, or none when it is unknown. A post's message_id is kept in the book.
func (s *spooler) sendMessage(ctx context.Context, m *spooled) error {
	chat := s.chat(m.ChatID)
	if m.Op == opEdit {
		if id := s.messageOf(m.Post); id != 0 {
			err := s.tg.EditPost(ctx, id, Post{Target: Target{ChatID: chat}, Text: m.HTML, ParseMode: "HTML", Buttons: m.Buttons})
			if refused(err) {
				err = s.tg.EditPost(ctx, id, Post{Target: Target{ChatID: chat}, Text: m.Text, Buttons: m.Buttons})
				if refused(err) {
					return unsendable{err}
				}
			}
			if !errors.Is(err, ErrMessageGone) {
				return err
			}
			fmt.Fprintf(s.w, "supervise: telegram: the message of %s in chat %s is gone: sending it again\n", m.Job, chat)
		}
	}
	quiet := supervisor.Quiet{From: m.QuietFrom, To: m.QuietTo}.Has(time.Now())
	p := Post{Target: Target{ChatID: chat, Silent: m.Silent || quiet}, Buttons: m.Buttons}
	if m.Op == opReply {
		p.ReplyTo = s.messageOf(m.ReplyTo)
	}
	var sent int64
	send := func(text, parseMode string) error {
		return s.toTopicOrChat(m, func(thread int64) error {
			p.ThreadID, p.Text, p.ParseMode = thread, text, parseMode
			id, err := s.tg.SendPost(ctx, p)
			sent = id
			return err
		})
	}
	err := send(m.HTML, "HTML")
	var apiErr *APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.MigrateToChatID != 0:
		moved := strconv.FormatInt(apiErr.MigrateToChatID, 10)
		s.mu.Lock()
		if s.migrated == nil {
			s.migrated = map[string]string{}
		}
		s.migrated[chat] = moved
		s.mu.Unlock()
		fmt.Fprintf(s.w, "supervise: telegram: chat %s was upgraded to a supergroup, %s: sending there; set %s (or its chat_id) to %s\n", chat, moved, EnvChatID, moved)
		p.ChatID = moved
		err = send(m.HTML, "HTML")
	case refused(err):
		// Telegram refuses the message itself (our HTML is checked, but should it
		// still "can't parse entities"): the words matter more than the markup.
		if err = send(m.Text, ""); refused(err) {
			return unsendable{err}
		}
	}
	if err == nil && m.Post != "" && s.book != nil {
		s.remember(m.Post, sent)
	}
	return err
}

// messageOf is the message_id of post, or 0 when it is not known.
func (s *spooler) messageOf(post string) int64 {
	var id int64
	if s.book == nil || post == "" {
		return 0
	}
	s.book.view(func(b *book) {
		if po := b.Posts[post]; po != nil {
			id = po.Message
		}
	})
	return id
}

// remember keeps id as the message_id of post.
func (s *spooler) remember(post string, id int64) {
	err := s.book.update(func(b *book) {
		if po := b.Posts[post]; po != nil {
			po.Message = id
		}
	})
	if err != nil {
		fmt.Fprintf(s.w, "supervise: %v\n", err)
	}
}

// toTopicOrChat sends with send to m's forum topic, if it has one, or, when Telegram
// answers that the topic is gone, to the chat itself rather than to nobody: m forgets
// the topic, and w says to fix its thread_id.
func (s *spooler) toTopicOrChat(m *spooled, send func(thread int64) error) error {
	err := send(m.ThreadID)
	var apiErr *APIError
	if m.ThreadID == 0 || !errors.As(err, &apiErr) || !apiErr.says("thread not found") {
		return err
	}
	fmt.Fprintf(s.w, "supervise: telegram: topic %d of chat %s not found: sending to the chat itself; fix its thread_id\n", m.ThreadID, s.chat(m.ChatID))
	m.ThreadID = 0
	return send(0)
}

// messageRefusals are the 400 answers that are about the message itself, which
// sending it otherwise may cure. Any other 400 is taken to be about where it goes (an
// unknown or deactivated chat, no right to write there): its messages are kept.
var messageRefusals = []string{"can't parse entities", "message is too long", "text must be non-empty",
	"message text is empty", "file must be non-empty", "caption is too long", "too big"}

// refused reports whether err is a 400 answer about the message itself rather than
// about where it goes.
func refused(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Code == http.StatusBadRequest && slices.ContainsFunc(messageRefusals, apiErr.says)
}

// unsendable is a message Telegram refuses whatever is done with it: kept, it would
// stand before every later message for ever.
type unsendable struct{ error }

func (u unsendable) Unwrap() error { return u.error }

// pace is how often the destination to may be written to, as Telegram asks of
// bots: about once a second in a private chat, twenty times a minute in a group or
// channel.
func (s *spooler) pace(to supervisor.Destination) time.Duration { return s.paceOf(s.chat(to.ChatID)) }

func (s *spooler) paceOf(chatID string) time.Duration {
	if strings.HasPrefix(chatID, "-") || strings.HasPrefix(chatID, "@") {
		return s.groupPace
	}
	return s.privatePace
}

// chat is where messages for id go: id (the configured chat when empty), or the
// supergroup it became.
func (s *spooler) chat(id string) string {
	if id == "" {
		id = s.tg.ChatID
	}
	if id == "" && len(s.defaults) > 0 {
		// Spooled for the default chat before default destinations took its place.
		id = s.defaults[0].ChatID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if to, ok := s.migrated[id]; ok {
		return to
	}
	return id
}
