package notifier_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
	"github.com/supervise/supervise/supervisor"
)

type flusher = *notifier.Pipeline

// spooling returns the notifier the environment gives for srv, with a spool in dir;
// see notifierFor.
func spooling(t *testing.T, srv *telegramtest.Server, token, dir string, stderr *syncBuffer, env ...string) flusher {
	t.Helper()
	return notifierFor(t, srv, token, dir, stderr, env...)
}

// keptForUnknownChat spools a failure for chat 777, which srv does not know, in a new
// spool folder, and returns the notifier, what Notify said, the folder and the
// notifier's stderr.
func keptForUnknownChat(t *testing.T, srv *telegramtest.Server) (wrong flusher, dir string, stderr *syncBuffer, err error) {
	t.Helper()
	dir, stderr = t.TempDir(), &syncBuffer{}
	wrong = spooling(t, srv, tgToken, dir, stderr, notifier.EnvChatID, "777")
	return wrong, dir, stderr, wrong.Notify(context.Background(), failed("kept"))
}

// notifierFor returns the notifier the environment gives for srv (see pipelineFor)
// with the bot token token and a spool in dir (none when empty), at a pace of a
// millisecond.
func notifierFor(t *testing.T, srv *telegramtest.Server, token, dir string, stderr *syncBuffer, env ...string) *notifier.Pipeline {
	t.Helper()
	opts := notifier.Options{Stderr: stderr, SpoolDir: dir, PrivatePace: time.Millisecond, GroupPace: time.Millisecond}
	return pipelineFor(t, srv, opts, append([]string{notifier.EnvToken, token}, env...)...)
}

// pipelineFor returns a running pipeline with opts, configured by the environment
// for srv: the bot token tgToken, the chat tgChat and a timeout of a second. env,
// name and value in turn, changes or adds variables.
func pipelineFor(t *testing.T, srv *telegramtest.Server, opts notifier.Options, env ...string) *notifier.Pipeline {
	t.Helper()
	vars := map[string]string{
		notifier.EnvToken:   tgToken,
		notifier.EnvChatID:  tgChatID,
		notifier.EnvAPIURL:  srv.URL(),
		notifier.EnvTimeout: "1s",
	}
	if len(env)%2 != 0 {
		t.Fatalf("pipelineFor: env %q is not names and values in turn", env)
	}
	for i := 0; i < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	p, err := notifier.New(nil, envOf(vars), opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func spooled(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func failed(job string) supervisor.Event {
	ev := backupFailed
	ev.Job = job
	return ev
}

// With Telegram down, a message is kept in the spool and said to be; the next
// notifier to flush delivers it, once.
func TestSpoolKeepsWhatCannotBeSent(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "spool")
	var stderr syncBuffer
	start := time.Now()
	down := spooling(t, srv, tgToken, dir, &stderr, notifier.EnvAPIURL, refusedURL)
	err := down.Notify(context.Background(), failed("first"))
	if err == nil || len(spooled(t, dir)) != 1 {
		t.Fatalf("Notify = %v, spool %v; want an error and the message kept", err, spooled(t, dir))
	}
	t.Logf("gave up after %v", time.Since(start))
	if s := stderr.String(); !strings.Contains(s, "it is kept in "+dir) || !strings.Contains(s, "first failed") {
		t.Errorf("stderr should say the message is kept, and carry it:\n%s", s)
	}

	// Telegram is back, for the next process.
	if err := spooling(t, srv, tgToken, dir, &stderr).Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "first failed") || len(spooled(t, dir)) != 0 {
		t.Errorf("delivered %d messages, spool %v; want the one message once, and an empty spool", len(msgs), spooled(t, dir))
	}
}

// Messages left in the spool go out before a new one, oldest first.
func TestSpoolSendsOldestFirst(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	// A wrong token keeps everything in the spool, as a broken config would.
	broken := spooling(t, srv, "1:wrong-token", dir, &stderr)
	for _, job := range []string{"one", "two", "three"} {
		if err := broken.Notify(context.Background(), failed(job)); !errors.Is(err, notifier.ErrPermanent) {
			t.Fatalf("Notify = %v, want the 401 as permanent", err)
		}
	}
	if got := len(spooled(t, dir)); got != 3 {
		t.Fatalf("%d messages spooled, want 3", got)
	}
	fixed := spooling(t, srv, tgToken, dir, &stderr)
	if err := fixed.Notify(context.Background(), failed("four")); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, m := range srv.Messages() {
		order = append(order, strings.Fields(m.Text)[1])
	}
	if strings.Join(order, " ") != "one two three four" || len(spooled(t, dir)) != 0 {
		t.Errorf("delivered %v, spool %v; want one two three four and an empty spool", order, spooled(t, dir))
	}
	if strings.Contains(stderr.String(), tgToken) {
		t.Error("the token is in stderr")
	}
}

// Two processes flushing one spool deliver each message once.
func TestSpoolSharedByTwo(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	broken := spooling(t, srv, "1:wrong-token", dir, &stderr)
	for i := range 20 {
		broken.Notify(context.Background(), failed("job"+string(rune('a'+i))))
	}
	a, b := spooling(t, srv, tgToken, dir, &stderr), spooling(t, srv, tgToken, dir, &stderr)
	var wg sync.WaitGroup
	for _, n := range []flusher{a, b} {
		wg.Go(func() { n.Flush(context.Background()) })
	}
	wg.Wait()
	seen := map[string]int{}
	for _, m := range srv.Messages() {
		seen[strings.Fields(m.Text)[1]]++
	}
	if len(seen) != 20 || len(srv.Messages()) != 20 {
		t.Errorf("%d messages for %d jobs, want 20 for 20: %v", len(srv.Messages()), len(seen), seen)
	}
}

// The answers that ask for the message to be sent otherwise: to the supergroup a
// group became, or as plain text when Telegram cannot parse the HTML.
func TestSpoolSendsOtherwise(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat, -100777)
	defer srv.Close()
	var stderr syncBuffer
	n := spooling(t, srv, tgToken, t.TempDir(), &stderr)
	srv.Fail(telegramtest.Fault{Status: 400, Body: `{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-100777}}`})
	if err := n.Notify(context.Background(), failed("moved")); err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), failed("after")); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 2 || msgs[0].ChatID != -100777 || msgs[1].ChatID != -100777 {
		t.Errorf("messages %+v, want both in the supergroup", msgs)
	}
	if s := stderr.String(); !strings.Contains(s, "set SUPERVISE_TELEGRAM_CHAT_ID (or its chat_id) to -100777") {
		t.Errorf("stderr should tell to update the chat id:\n%s", s)
	}

	srv.Fail(telegramtest.Fault{Status: 400, Description: "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"})
	if err := n.Notify(context.Background(), failed("plain")); err != nil {
		t.Fatal(err)
	}
	last := srv.Messages()[2]
	if last.ParseMode != "" || !strings.HasPrefix(last.Text, "❌ plain failed") {
		t.Errorf("resent as %q in parse mode %q, want the plain text", last.Text, last.ParseMode)
	}
}

// A message older than the spool's age limit is dropped, and said to be.
func TestSpoolDropsOld(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	broken := spooling(t, srv, "1:wrong-token", dir, &stderr)
	broken.Notify(context.Background(), failed("ancient"))
	name := spooled(t, dir)[0]
	// Age it: the time of creation is in the file.
	data, _ := os.ReadFile(filepath.Join(dir, name))
	year := time.Now().Add(-8 * 24 * time.Hour).Format("2006-01-02")
	aged := strings.Replace(string(data), time.Now().Format("2006-01-02"), year, 1)
	os.WriteFile(filepath.Join(dir, name), []byte(aged), 0o600)
	fixed := spooling(t, srv, tgToken, dir, &stderr)
	fixed.Flush(context.Background())
	if len(srv.Messages()) != 0 || len(spooled(t, dir)) != 0 || !strings.Contains(stderr.String(), "dropped the failure message about ancient") {
		t.Errorf("messages %d, spool %v, stderr:\n%s\nwant the old message dropped and said so", len(srv.Messages()), spooled(t, dir), stderr.String())
	}
}

// syncBuffer is stderr that two flushing goroutines may write to at once.
type syncBuffer = testkit.Buffer

// A message Telegram refuses as it is, and as plain text too, is dropped with its
// words on stderr, rather than holding up every later message.
func TestSpoolDropsWhatTelegramRefuses(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	n := spooling(t, srv, tgToken, dir, &stderr)
	srv.Fail(telegramtest.Fault{Status: 400, Description: "Bad Request: message is too long"},
		telegramtest.Fault{Status: 400, Description: "Bad Request: message is too long"})
	if err := n.Notify(context.Background(), failed("poison")); err == nil {
		t.Fatal("Notify = nil, want the refusal")
	}
	if err := n.Notify(context.Background(), failed("after")); err != nil {
		t.Fatalf("a later message: %v", err)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "after failed") || len(spooled(t, dir)) != 0 {
		t.Errorf("messages %d, spool %v; want the later one sent and nothing kept", len(msgs), spooled(t, dir))
	}
	if s := stderr.String(); !strings.Contains(s, "dropped the failure message about poison") || !strings.Contains(s, "poison failed") {
		t.Errorf("stderr should say what was dropped, with its words:\n%s", s)
	}
}

// A document that cannot be sent yet waits in the spool alone: the next flush sends
// it without sending its message twice.
func TestSpoolDocumentAfterItsMessage(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	// In front of the fake, a proxy that fails every sendDocument, as an outage that
	// begins between a message and its document would.
	target, _ := url.Parse(srv.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/sendDocument") {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()

	dir := t.TempDir()
	var stderr syncBuffer
	n := spooling(t, srv, tgToken, dir, &stderr, notifier.EnvAPIURL, front.URL)
	ev := failed("chatty")
	ev.Output, ev.OutputLines, ev.Notify.Attach = []byte(strings.Repeat("a line of output\n", 5000)), 5000, supervisor.AttachAuto
	// The message was delivered: that is what Notify reports, and that the log waits.
	if err := n.Notify(context.Background(), ev); err != nil || !strings.Contains(stderr.String(), "its log is kept in") {
		t.Fatalf("Notify = %v, stderr %q; want nil and the log said to wait", err, stderr.String())
	}
	if len(srv.Messages()) != 1 || len(srv.Documents()) != 0 || len(spooled(t, dir)) != 1 {
		t.Fatalf("%d messages, %d documents, spool %v; want the message sent and its document kept",
			len(srv.Messages()), len(srv.Documents()), spooled(t, dir))
	}
	if err := spooling(t, srv, tgToken, dir, &stderr).Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(srv.Messages()) != 1 || len(srv.Documents()) != 1 || len(spooled(t, dir)) != 0 {
		t.Errorf("%d messages, %d documents, spool %v; want the document alone sent", len(srv.Messages()), len(srv.Documents()), spooled(t, dir))
	}
	if got := string(srv.Documents()[0].Content); got != string(ev.Output) {
		t.Errorf("the document holds %d bytes, want the %d of the output", len(got), len(ev.Output))
	}
}

// A backlog goes at the chat's pace, not into Telegram's 429s.
func TestSpoolBacklogIsPaced(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	broken := spooling(t, srv, "1:wrong-token", dir, &stderr)
	for _, job := range []string{"a", "b", "c", "d"} {
		broken.Notify(context.Background(), failed(job))
	}
	// The pacing takes 600ms: a timeout well past it, so that a slow machine is not
	// taken for a backlog that cannot be sent.
	fixed := spooling(t, srv, tgToken, dir, &stderr, notifier.EnvTimeout, "10s")
	notifier.SetPace(fixed, 200*time.Millisecond)
	srv.Limit(150 * time.Millisecond)
	if err := fixed.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(srv.Messages()) != 4 || srv.Throttled() != 0 {
		t.Errorf("%d messages, %d answered 429; want 4 and none", len(srv.Messages()), srv.Throttled())
	}
}

// A backlog and the new message get one timeout in all: a run is never held up by a
// backlog that goes slowly, and what is left waits, the new message with it.
func TestSpoolBacklogIsBounded(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	broken := spooling(t, srv, "1:wrong-token", dir, &stderr)
	for i := range 10 {
		broken.Notify(context.Background(), failed(fmt.Sprintf("old%d", i)))
	}
	n := spooling(t, srv, tgToken, dir, &stderr) // timeout 1s
	notifier.SetPace(n, 300*time.Millisecond)
	start := time.Now()
	err := n.Notify(context.Background(), failed("new"))
	if took := time.Since(start); err == nil || took > 3*time.Second {
		t.Errorf("Notify = %v after %v, want it to give up after about a second", err, took)
	}
	if got := len(srv.Messages()) + len(spooled(t, dir)); got != 11 {
		t.Errorf("%d sent and %d kept, want all 11 one way or the other", len(srv.Messages()), len(spooled(t, dir)))
	}
}

// A 400 that is not about the message (a deactivated group) keeps the messages, as a
// wrong chat does: nothing is dropped because the configuration is wrong.
func TestSpoolKeepsOnUnknownRefusal(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	n := spooling(t, srv, tgToken, dir, &stderr)
	srv.Fail(telegramtest.Fault{Status: 400, Description: "Bad Request: group chat was deactivated"})
	if err := n.Notify(context.Background(), failed("kept")); !errors.Is(err, notifier.ErrPermanent) {
		t.Fatalf("Notify = %v, want the 400 as permanent", err)
	}
	if got := spooled(t, dir); len(got) != 1 {
		t.Errorf("spool %v, want the message kept", got)
	}
}

// The token is taken out of every part of a message a job can write to, the ping
// message and STATUS included, in the chat, on stderr and in the spool.
func TestSpoolRedactsEveryField(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	ev := failed("leaky")
	// The ping message puts the token where cutting it to 1 KB would leave its end.
	ev.Kind, ev.Status, ev.Note = supervisor.KindHeartbeat, "using "+tgToken, "note "+tgToken
	ev.Message = "token=" + tgToken + strings.Repeat("x", 1024-len(tgToken)/2)
	spooling(t, srv, tgToken, dir, &stderr, notifier.EnvAPIURL, refusedURL).Notify(context.Background(), ev)
	files := spooled(t, dir)
	if len(files) != 1 {
		t.Fatalf("spool %v", files)
	}
	data, _ := os.ReadFile(filepath.Join(dir, files[0]))
	tokenEnd := tgToken[len(tgToken)-10:]
	if strings.Contains(string(data), tokenEnd) || strings.Contains(stderr.String(), tokenEnd) || !strings.Contains(string(data), "redacted") {
		t.Errorf("the token is in the spool or on stderr:\n%s\n%s", data, stderr.String())
	}
}

// A digest takes the token out of every event it folds: each is a line of its own.
func TestDigestRedactsEveryEvent(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	var stderr syncBuffer
	p := notifierFor(t, srv, tgToken, "", &stderr)
	notifier.SetPace(p, 200*time.Millisecond)
	problem := func(job string) supervisor.Event {
		return supervisor.Event{Kind: supervisor.KindProblem, Job: job, Host: "h", Note: "token " + tgToken}
	}
	p.Emit(problem("first"))
	// The first goes at once; wait for it, so the next two come within one pace.
	testkit.Eventually(t, "the first message sent", func() bool { return len(srv.Messages()) == 1 })
	p.Emit(problem("second"))
	p.Emit(problem("third " + tgToken))
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v\n%s", err, stderr.String())
	}
	msgs := srv.Messages()
	if len(msgs) != 2 || !strings.HasPrefix(msgs[1].Text, "<b>🚨 2 alerts: 2 problems</b>") {
		t.Fatalf("messages %+v, want the first and a digest of the other two", msgs)
	}
	tokenEnd := tgToken[len(tgToken)-10:]
	if got := msgs[1].Text; strings.Contains(got, tokenEnd) || strings.Count(got, "&lt;redacted&gt;") != 3 {
		t.Errorf("digest %q, want the token redacted from every event", got)
	}
}

// Messages kept because the chat was wrong go to the right chat once it is configured.
func TestSpoolFollowsFixedChat(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	_, dir, stderr, err := keptForUnknownChat(t, srv)
	if !errors.Is(err, notifier.ErrPermanent) {
		t.Fatalf("Notify = %v, want chat not found", err)
	}
	if err := spooling(t, srv, tgToken, dir, stderr).Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].ChatID != tgChat || len(spooled(t, dir)) != 0 {
		t.Errorf("messages %+v, spool %v; want the kept message in the configured chat", msgs, spooled(t, dir))
	}
}

// A job's own chats each get its message: in a forum topic, silently, or silently in
// quiet hours; a topic that is gone sends to the chat itself.
func TestSpoolDestinations(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat, -100555, -100666)
	defer srv.Close()
	var stderr syncBuffer
	n := spooling(t, srv, tgToken, t.TempDir(), &stderr)
	now := time.Now()
	since := func(d time.Duration) time.Duration { // the time of day, d from now
		t := now.Add(d)
		return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	}
	ev := failed("routed")
	ev.Notify.On = supervisor.Kinds
	ev.Notify.Telegram = []supervisor.Destination{
		{ChatID: "-100555", ThreadID: 7},
		{ChatID: "-100666", Silent: true},
		{ChatID: tgChatID, Quiet: supervisor.Quiet{From: since(-time.Hour), To: since(time.Hour)}},
	}
	if err := n.Notify(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 3 {
		t.Fatalf("%d messages, want one per chat", len(msgs))
	}
	byChat := map[int64]telegramtest.Message{}
	for _, m := range msgs {
		byChat[m.ChatID] = m
	}
	if m := byChat[-100555]; m.ThreadID != 7 || m.DisableNotification {
		t.Errorf("topic chat got %+v, want topic 7 with sound", m)
	}
	if m := byChat[-100666]; !m.DisableNotification {
		t.Errorf("silent chat got %+v", m)
	}
	if m := byChat[tgChat]; !m.DisableNotification {
		t.Errorf("chat in its quiet hours got %+v, want it silent", m)
	}

	srv.Fail(telegramtest.Fault{Status: 400, Description: "Bad Request: message thread not found"})
	ev.Notify.Telegram = ev.Notify.Telegram[:1]
	if err := n.Notify(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if last := srv.Messages()[3]; last.ChatID != -100555 || last.ThreadID != 0 || !strings.Contains(stderr.String(), "topic 7 of chat -100555 not found") {
		t.Errorf("after a missing topic got %+v, stderr %q; want the chat itself and a word on stderr", last, stderr.String())
	}
}

// One chat's 429 holds back that chat only: the job's other chats get the message.
func TestSpoolFloodIsPerChat(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, -100555, -100666)
	defer srv.Close()
	var stderr syncBuffer
	n := spooling(t, srv, tgToken, t.TempDir(), &stderr)
	srv.Fail(telegramtest.Fault{Status: 429, RetryAfter: 30})
	ev := failed("both")
	ev.Notify.On = supervisor.Kinds
	ev.Notify.Telegram = []supervisor.Destination{{ChatID: "-100555"}, {ChatID: "-100666"}}
	err := n.Notify(context.Background(), ev)
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want the chat that was not flooded served", len(msgs))
	}
	flooded := "-100555"
	if msgs[0].ChatID == -100555 {
		flooded = "-100666"
	}
	if err == nil || !strings.Contains(err.Error(), "chat "+flooded+": ") || !strings.Contains(err.Error(), "429") {
		t.Errorf("Notify = %v, want the flooded chat's 429, naming the chat", err)
	}
}

// A document follows its message into the forum topic; for a topic that is gone, it
// goes to the chat itself, as its message.
func TestSpoolDocumentTopicGone(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, -100555)
	defer srv.Close()
	var stderr syncBuffer
	n := spooling(t, srv, tgToken, t.TempDir(), &stderr)
	ev := failed("chatty")
	ev.Output, ev.OutputLines, ev.Notify.Attach = []byte(strings.Repeat("line\n", 5000)), 5000, supervisor.AttachAuto
	ev.Notify.On = supervisor.Kinds
	ev.Notify.Telegram = []supervisor.Destination{{ChatID: "-100555", ThreadID: 7}}
	if err := n.Notify(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if docs := srv.Documents(); len(docs) != 1 || docs[0].ChatID != -100555 || docs[0].ThreadID != 7 {
		t.Fatalf("documents %+v, want the log in topic 7", docs)
	}
	// The message goes to the topic; then the topic is deleted before the document.
	srv.Fail(telegramtest.Fault{Status: 200, Body: `{"ok":true,"result":{}}`},
		telegramtest.Fault{Status: 400, Description: "Bad Request: message thread not found"})
	if err := n.Notify(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if docs := srv.Documents(); len(docs) != 2 || docs[1].ChatID != -100555 || docs[1].ThreadID != 0 {
		t.Errorf("documents %+v, want the second log in the chat itself", docs)
	}
}

// Without a spool, or with one that cannot be written, a message goes as it does
// through the spool: to the job's own chat and topic, to the chat itself when the
// topic is gone, as plain text when Telegram cannot parse it, to the supergroup a
// group became.
func TestSendsWithoutSpoolAsWithIt(t *testing.T) {
	t.Parallel()
	notADir := filepath.Join(t.TempDir(), "not-a-folder")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, dir string }{
		{"spool", t.TempDir()},
		{"no spool", ""},
		{"unwritable spool", filepath.Join(notADir, "spool")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := telegramtest.NewServer(tgToken, tgChat, -100555, -100777)
			defer srv.Close()
			var stderr syncBuffer
			n := notifierFor(t, srv, tgToken, tt.dir, &stderr)
			notify := func(ev supervisor.Event) telegramtest.Message {
				t.Helper()
				if err := n.Notify(context.Background(), ev); err != nil {
					t.Fatalf("Notify: %v\n%s", err, stderr.String())
				}
				msgs := srv.Messages()
				if len(msgs) == 0 {
					t.Fatalf("nothing delivered:\n%s", stderr.String())
				}
				return msgs[len(msgs)-1]
			}
			topic := failed("routed")
			topic.Notify.On = supervisor.Kinds
			topic.Notify.Telegram = []supervisor.Destination{{ChatID: "-100555", ThreadID: 3}}
			if m := notify(topic); m.ChatID != -100555 || m.ThreadID != 3 {
				t.Errorf("got %+v, want the job's chat and topic", m)
			}

			srv.Fail(telegramtest.Fault{Status: 400, Description: "Bad Request: message thread not found"})
			if m := notify(topic); m.ChatID != -100555 || m.ThreadID != 0 || !strings.Contains(stderr.String(), "topic 3 of chat -100555 not found") {
				t.Errorf("with the topic gone got %+v, stderr %q; want the chat itself and a word on stderr", m, stderr.String())
			}

			srv.Fail(telegramtest.Fault{Status: 400, Description: "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"})
			if m := notify(failed("plain")); m.ChatID != tgChat || m.ParseMode != "" || !strings.HasPrefix(m.Text, "❌ plain failed") {
				t.Errorf("resent as %+v, want the plain text", m)
			}

			srv.Fail(telegramtest.Fault{Status: 400, Body: `{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-100777}}`})
			if m := notify(failed("moved")); m.ChatID != -100777 {
				t.Errorf("got %+v, want it in the supergroup", m)
			}
			if m := notify(failed("after")); m.ChatID != -100777 {
				t.Errorf("the next message got %+v, want it in the supergroup too", m)
			}
			if got := len(srv.Messages()); got != 5 {
				t.Errorf("%d messages, want 5", got)
			}
			if unwritable := strings.Contains(stderr.String(), "sending without it"); unwritable != strings.HasPrefix(tt.name, "unwritable") {
				t.Errorf("stderr %q: should say it sends without the spool only when the spool cannot be written", stderr.String())
			}
		})
	}
}

// Past its size limit, the spool drops its oldest messages, each with a line on
// stderr, and sends the rest.
func TestSpoolDropsOldestPastMaxBytes(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	broken := spooling(t, srv, "1:wrong-token", dir, &stderr)
	for _, job := range []string{"one", "two", "three", "four"} {
		broken.Notify(context.Background(), failed(job))
	}
	names := spooled(t, dir)
	if len(names) != 4 {
		t.Fatalf("spool %v, want 4 messages", names)
	}
	var newest int64 // the size of the newest two, which is to be the limit
	for _, name := range names[2:] {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		newest += fi.Size()
	}
	fixed := spooling(t, srv, tgToken, dir, &stderr)
	notifier.SetSpoolMaxBytes(fixed, newest)
	if err := fixed.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sent []string
	for _, m := range srv.Messages() {
		sent = append(sent, strings.Fields(m.Text)[1])
	}
	if strings.Join(sent, " ") != "three four" || len(spooled(t, dir)) != 0 {
		t.Errorf("sent %v, spool %v; want three and four sent and nothing kept", sent, spooled(t, dir))
	}
	for _, job := range []string{"one", "two"} {
		want := fmt.Sprintf("dropped the failure message about %s from ", job)
		if s := stderr.String(); !strings.Contains(s, want) || !strings.Contains(s, fmt.Sprintf("the spool is over %d bytes", newest)) {
			t.Errorf("stderr should say %q, for the size:\n%s", want, s)
		}
	}
}

// A document that Telegram refuses for good is left out, with a line on stderr: its
// message went, and nothing waits in the spool.
func TestSpoolDocumentRefused(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	n := spooling(t, srv, tgToken, dir, &stderr)
	ev := failed("chatty")
	ev.Output, ev.OutputLines, ev.Notify.Attach = []byte(strings.Repeat("line\n", 5000)), 5000, supervisor.AttachAuto
	srv.Fail(telegramtest.Fault{Status: 200, Body: `{"ok":true,"result":{}}`}, // the message
		telegramtest.Fault{Status: 400, Description: "Bad Request: file is too big"})
	if err := n.Notify(context.Background(), ev); err != nil {
		t.Fatalf("Notify = %v, want nil: the message went", err)
	}
	if got := srv.Requests(); got != 2 || len(srv.Documents()) != 0 || len(spooled(t, dir)) != 0 {
		t.Errorf("%d requests, %d documents, spool %v; want the document tried once and not kept",
			got, len(srv.Documents()), spooled(t, dir))
	}
	if s := stderr.String(); !strings.Contains(s, "the output of chatty was not attached") || !strings.Contains(s, "file is too big") {
		t.Errorf("stderr should say the log was left out, and why:\n%s", s)
	}
}

// A message of its own that another process is sending is waited for: Notify
// reports what became of it rather than passing it by.
func TestSpoolWaitsForItsOwnMessage(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	spooling(t, srv, "1:wrong-token", dir, &stderr).Notify(context.Background(), failed("old"))
	old := spooled(t, dir)
	if len(old) != 1 {
		t.Fatalf("spool %v, want one message left", old)
	}
	// In front of the fake, a proxy that holds the first request until the test has
	// taken the new message's lock, as another process that sends it would.
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	target, _ := url.Parse(srv.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived); <-release })
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	n := spooling(t, srv, tgToken, dir, &stderr, notifier.EnvAPIURL, front.URL, notifier.EnvTimeout, "10s")
	done := make(chan error, 1)
	go func() { done <- n.Notify(context.Background(), failed("new")) }()

	<-arrived // the old message is on its way; the new one is in the spool
	var mine string
	for _, name := range spooled(t, dir) {
		if name != old[0] && strings.HasSuffix(name, ".json") && !strings.HasPrefix(name, ".") {
			mine = name
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, mine), os.O_RDWR, 0)
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		close(release)
		t.Fatal(err)
	}
	close(release)
	select {
	case err := <-done:
		f.Close()
		t.Fatalf("Notify = %v while another process held its message, want it to wait", err)
	case <-time.After(500 * time.Millisecond):
	}
	f.Close() // the other process lets it go unsent: this one sends it
	if err := <-done; err != nil {
		t.Errorf("Notify = %v, want nil", err)
	}
	var sent []string
	for _, m := range srv.Messages() {
		sent = append(sent, strings.Fields(m.Text)[1])
	}
	if strings.Join(sent, " ") != "old new" || len(spooled(t, dir)) != 0 {
		t.Errorf("sent %v, spool %v; want old and new, and nothing kept", sent, spooled(t, dir))
	}
}

// envFlushChild, set, makes TestSpoolUnremovableSendsNothing the child that flushes
// the spool it names, as a user who cannot change it.
const envFlushChild = "NOTIFIER_TEST_FLUSH_SPOOL"

// Nothing is sent from a spool whose files cannot be removed, since every flush would
// send them again.
func TestSpoolUnremovableSendsNothing(t *testing.T) {
	// Not parallel: the child, until it execs, holds the spool locks of other tests.
	if dir := os.Getenv(envFlushChild); dir != "" {
		n, err := notifier.FromConfig(nil, os.Getenv, os.Stderr, dir)
		if err == nil {
			err = n.Flush(context.Background())
		}
		fmt.Printf("Flush: %v\n", err)
		return
	}
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	// A tree others may enter, as the child may run as another user.
	root := t.TempDir()
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(root, "spool")
	var stderr syncBuffer
	spooling(t, srv, "1:wrong-token", dir, &stderr).Notify(context.Background(), failed("kept"))
	kept := spooled(t, dir)
	if len(kept) != 1 {
		t.Fatalf("spool %v, want the one message", kept)
	}
	// The file may be opened, locked and read, as for sending; only the folder is
	// closed to changes, so that it cannot be removed.
	if err := os.Chmod(filepath.Join(dir, kept[0]), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)

	// The folder's mode binds root only as another user: the child is the test binary,
	// run as nobody when this is root, from where nobody may run it.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestSpoolUnremovableSendsNothing$")
	cmd.Env = append(os.Environ(), envFlushChild+"="+dir, notifier.EnvToken+"="+tgToken,
		notifier.EnvChatID+"="+tgChatID, notifier.EnvAPIURL+"="+srv.URL(), notifier.EnvTimeout+"=1s")
	if os.Geteuid() == 0 {
		bin := filepath.Join(root, "notifier.test")
		data, err := os.ReadFile(exe)
		if err == nil {
			err = os.WriteFile(bin, data, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
		cmd.Path, cmd.Dir = bin, root
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	if errors.Is(err, syscall.EPERM) {
		t.Skipf("cannot run the child as another user, and as root nothing is unremovable: %v", err)
	}
	if err != nil {
		t.Fatalf("the child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Flush: spool: ") || !strings.Contains(string(out), "nothing is sent until it can be written") {
		t.Errorf("the child's Flush should say nothing is sent:\n%s", out)
	}
	if got := len(srv.Messages()); got != 0 || len(spooled(t, dir)) != 1 {
		t.Errorf("%d messages sent, spool %v; want none sent and the message kept", got, spooled(t, dir))
	}
}

// When one of a Notify's messages is refused for good and another must wait, stderr
// says both: which was dropped, and which is kept.
func TestSpoolDroppedAndKept(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, -100555, -100666)
	defer srv.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	n := spooling(t, srv, tgToken, dir, &stderr)
	ev := failed("split")
	ev.Notify.On = supervisor.Kinds
	ev.Notify.Telegram = []supervisor.Destination{{ChatID: "-100555"}, {ChatID: "-100666"}}
	// Whichever goes first is refused, as HTML and as text; the other is flooded.
	srv.Fail(telegramtest.Fault{Status: 400, Description: "Bad Request: message is too long"},
		telegramtest.Fault{Status: 400, Description: "Bad Request: message is too long"},
		telegramtest.Fault{Status: 429, RetryAfter: 30})
	err := n.Notify(context.Background(), ev)
	if err == nil || !strings.Contains(err.Error(), "message is too long") || !strings.Contains(err.Error(), "429") {
		t.Errorf("Notify = %v, want both the refusal and the 429", err)
	}
	if s := stderr.String(); !strings.Contains(s, "dropped the failure message about split") || !strings.Contains(s, "it is kept in "+dir) {
		t.Errorf("stderr should say one was dropped and one is kept:\n%s", s)
	}
	if got := spooled(t, dir); len(got) != 1 {
		t.Errorf("spool %v, want the flooded chat's message kept", got)
	}
}
