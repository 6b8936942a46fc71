package notifier_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
	"github.com/supervise/supervise/supervisor"
)

// With default destinations in the config file and no default chat, the events of
// jobs without chats of their own go to each destination that wants them, in its
// topic and as silently as it asks; a digest is cut to the events each one wants.
// The same with a spool and without one.
func TestDefaultDestinations(t *testing.T) {
	srv := telegramtest.NewServer(tgToken, -100555, -100666, -100777)
	defer srv.Close()
	t.Cleanup(notifier.SetPace(time.Millisecond))
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
	own.To = []supervisor.Destination{{ChatID: "-100777"}}
	digest := supervisor.Event{Kind: supervisor.KindDigest, Job: "3 events", Host: "db1",
		Digest: []supervisor.Event{failed("first"), succeeded("second"), failed("third")}}
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
		{"digest", digest, []got{{-100555, 7, false, "2 events on db1"}, {-100666, 0, true, "3 events on db1"}}},
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
	srv := telegramtest.NewServer(tgToken, -100555)
	defer srv.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	wrong := spooling(t, srv, tgToken, dir, &stderr, notifier.EnvChatID, "777")
	if err := wrong.Notify(context.Background(), failed("kept")); err == nil {
		t.Fatal("Notify to an unknown chat succeeded")
	}
	cfg := loadConfig(t, fmt.Sprintf("[telegram]\ntoken = %q\napi_url = %q\n[[notify.telegram]]\nchat_id = -100555\n", tgToken, srv.URL()))
	n, err := notifier.FromConfig(cfg, envOf(nil), &stderr, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.(flusher).Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].ChatID != -100555 || !strings.Contains(msgs[0].Text, "kept failed") {
		t.Errorf("messages %+v, want the kept one in the default destination", msgs)
	}
}
