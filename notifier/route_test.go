package notifier_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
	"github.com/supervise/supervise/supervisor"
)

// With default destinations in the config file and no default chat, the events of
// jobs without chats of their own go to each destination that wants them, in its
// topic and as silently as it asks. The same with a spool and without one.
func TestDefaultDestinations(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, -100555, -100666, -100777)
	defer srv.Close()
	cfg := loadConfig(t, fmt.Sprintf(`[telegram]
token = %q
api_url = %q
timeout = "2s"

[[notify.telegram]]    # the pager: failures only, in a topic
chat_id = -100555
thread_id = 7
on = ["failure", "timeout"]

[[notify.telegram]]    # the log: everything, without a sound
chat_id = -100666
silent = true
`, tgToken, srv.URL()))

	succeeded := func(job string) supervisor.Event {
		ev := failed(job)
		ev.Kind, ev.ExitCode, ev.Output = supervisor.KindSuccess, 0, nil
		return ev
	}
	own := failed("own")
	own.Notify.On = supervisor.Kinds
	own.Notify.Telegram = []supervisor.Destination{{ChatID: "-100777"}}
	type got struct {
		chat   int64
		thread int64
		silent bool
		says   string
	}
	for _, tt := range []struct {
		name string
		ev   supervisor.Event
		want []got
	}{
		{"failure", failed("backup"), []got{{-100555, 7, false, "backup failed"}, {-100666, 0, true, "backup failed"}}},
		{"success", succeeded("report"), []got{{-100666, 0, true, "report succeeded"}}},
		{"problem", supervisor.Event{Kind: supervisor.KindProblem, Job: "jobs.d/x.toml", Host: "db1", Note: "not loaded"},
			[]got{{-100555, 7, false, "not loaded"}, {-100666, 0, true, "not loaded"}}},
		{"a job's own chat", own, []got{{-100777, 0, false, "own failed"}}},
	} {
		for _, spool := range []string{"", t.TempDir()} {
			t.Run(fmt.Sprintf("%s, spool %t", tt.name, spool != ""), func(t *testing.T) {
				var stderr syncBuffer
				n, err := notifier.FromConfig(cfg, envOf(nil), &stderr, spool)
				if err != nil {
					t.Fatal(err)
				}
				before := len(srv.Messages())
				if err := n.Notify(context.Background(), tt.ev); err != nil {
					t.Fatalf("Notify: %v\n%s", err, stderr.String())
				}
				msgs := srv.Messages()[before:]
				if len(msgs) != len(tt.want) {
					t.Fatalf("%d messages, want %d: %+v", len(msgs), len(tt.want), msgs)
				}
				for _, want := range tt.want {
					found := false
					for _, m := range msgs {
						found = found || m.ChatID == want.chat && m.ThreadID == want.thread && m.DisableNotification == want.silent &&
							strings.Contains(m.Text, want.says)
					}
					if !found {
						t.Errorf("no message %+v among %+v", want, msgs)
					}
				}
			})
		}
	}
}

// A message kept for the default chat goes, once default destinations have taken its
// place, to the first of them.
func TestSpoolBacklogToDefaultDestinations(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, -100555)
	defer srv.Close()
	_, dir, stderr, err := keptForUnknownChat(t, srv)
	if err == nil {
		t.Fatal("Notify to an unknown chat succeeded")
	}
	cfg := loadConfig(t, fmt.Sprintf("[telegram]\ntoken = %q\napi_url = %q\n[[notify.telegram]]\nchat_id = -100555\n", tgToken, srv.URL()))
	n, err := notifier.FromConfig(cfg, envOf(nil), stderr, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].ChatID != -100555 || !strings.Contains(msgs[0].Text, "kept failed") {
		t.Errorf("messages %+v, want the kept one in the default destination", msgs)
	}
}

// Routing comes before the digests: events that come faster than a chat's pace make
// one digest per destination, of just the events it wants.
func TestDefaultDestinationsDigest(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, -100555, -100666)
	defer srv.Close()
	cfg := loadConfig(t, fmt.Sprintf(`[telegram]
token = %q
api_url = %q
timeout = "5s"

[[notify.telegram]]
chat_id = -100555
on = ["failure"]

[[notify.telegram]]
chat_id = -100666
`, tgToken, srv.URL()))
	var stderr syncBuffer
	p, err := notifier.New(cfg, envOf(nil), notifier.Options{Host: "db1", Stderr: &stderr, GroupPace: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ev := func(job string, k supervisor.Kind) supervisor.Event {
		ev := failed(job)
		ev.Kind, ev.Notify.On, ev.Start = k, supervisor.Kinds, time.Time{}
		return ev
	}
	p.Emit(ev("zero", supervisor.KindFailure))
	// The first goes at once; wait for it, so the next three come within one pace.
	testkit.Eventually(t, "the first event in both chats", func() bool { return len(srv.Messages()) == 2 })
	p.Emit(ev("first", supervisor.KindFailure))
	p.Emit(ev("second", supervisor.KindSuccess))
	p.Emit(ev("third", supervisor.KindFailure))
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v\n%s", err, stderr.String())
	}
	var got []string
	for _, m := range srv.Messages()[2:] {
		got = append(got, fmt.Sprint(m.ChatID, " ", strings.SplitN(m.Text, "\n", 2)[0]))
	}
	slices.Sort(got)
	want := []string{"-100555 <b>🚨 2 alerts on db1: 2 failed</b>", "-100666 <b>🚨 3 alerts on db1: 2 failed, 1 succeeded</b>"}
	if !slices.Equal(got, want) {
		t.Errorf("messages %q, want %q", got, want)
	}
}
