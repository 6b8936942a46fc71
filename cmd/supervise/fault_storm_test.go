package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/control"
	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
)

// stormJobs is how many jobs of a large host fail at once in the storm.
const stormJobs = 300

// 300 jobs failing at once, with Telegram taking one message a second: the chat is told
// of every one of them within a minute, in digests, and up's memory stays bounded.
func TestFaultStorm(t *testing.T) {
	t.Parallel()
	const probeChat = tgChat + 1 // a chat of its own, to see the limit answer as Telegram does
	srv := telegramtest.NewServer(tgToken, tgChat, probeChat)
	defer srv.Close()
	srv.Limit(time.Second)
	for i, want := range []int{http.StatusOK, http.StatusTooManyRequests} {
		resp, err := http.PostForm(srv.URL()+"/bot"+tgToken+"/sendMessage", url.Values{"chat_id": {strconv.Itoa(probeChat)}, "text": {"probe"}})
		if err != nil {
			t.Fatalf("probe %d: %s", i, control.Reason(err)) // the URL holds the token
		}
		var a struct {
			ErrorCode   int    `json:"error_code"`
			Description string `json:"description"`
			Parameters  struct {
				RetryAfter int `json:"retry_after"`
			} `json:"parameters"`
		}
		json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if resp.StatusCode != want || i == 1 && (a.ErrorCode != 429 || a.Parameters.RetryAfter != 1 || a.Description != "Too Many Requests: retry after 1") {
			t.Fatalf("probe %d: %d %+v, want %d, and for the second Telegram's 429 with retry_after 1", i, resp.StatusCode, a, want)
		}
	}

	dir := t.TempDir()
	names := make([]string, stormJobs)
	for i := range names {
		names[i] = fmt.Sprintf("storm-%03d", i)
		writeFile(t, dir, names[i]+".toml", fmt.Sprintf("command = \"echo %s cannot reach its database; exit 1\"\nrestart = \"never\"\npty = false\n", names[i]))
	}
	state := t.TempDir()
	start := time.Now()
	cmd, stdout, stderr := startBotUp(t, srv, dir, "--state", state)
	defer onFailure(t, func() string { return "up's stderr:\n" + stderr.String() })

	// Every job has run: each wrote its line, which up prints behind the job's name.
	testkit.EventuallyWithin(t, time.Minute, fmt.Sprintf("%d jobs failed", stormJobs), func() bool {
		return strings.Count(stdout.String(), "cannot reach its database\n") == stormJobs
	})
	failed := time.Now()

	// Each job is in the chat, with what happened to it and its error line: in a post
	// of its own or a digest's line, as the messages read now, after their edits.
	told := func(text, name string) bool {
		return strings.Contains(text, "❌ "+name+" failed") && strings.Contains(text, name+" cannot reach its database")
	}
	var missing []string
	defer onFailure(t, func() string { return fmt.Sprintf("not in the chat: %q", missing) })
	testkit.EventuallyWithin(t, time.Minute, "every job named in the chat, as failed, with its error line", func() bool {
		var text strings.Builder
		for _, m := range srv.Messages() {
			if m.ChatID == tgChat && !m.Deleted {
				text.WriteString(m.Text + "\n")
			}
		}
		missing = slices.DeleteFunc(slices.Clone(names), func(name string) bool { return told(text.String(), name) })
		return len(missing) == 0
	})
	inChat := time.Now()
	status := procStatus(cmd.Process.Pid)
	hwm, rss := procKB(status, "VmHWM"), procKB(status, "VmRSS")

	var msgs, digests int
	for _, m := range srv.Messages() {
		if m.ChatID == tgChat {
			msgs++
			if strings.Contains(m.Text, fmt.Sprintf(" %d alerts on ", notifier.MaxDigest)) {
				digests++
			}
		}
	}
	t.Logf("%d jobs failed %v after up started; every one named in the chat %v after the last failure, in %d messages, %d of them digests of %d "+
		"(%d requests of up's, %d answered 429); up's VmHWM %d kB, VmRSS %d kB",
		stormJobs, failed.Sub(start).Round(time.Millisecond), inChat.Sub(failed).Round(time.Millisecond), msgs, digests, notifier.MaxDigest,
		srv.Requests()-2, srv.Throttled()-1, hwm, rss) // less the probes
	// A message a second while the failures come, what came since folded into it, then
	// full digests.
	if most := stormJobs/notifier.MaxDigest + int(failed.Sub(start)/time.Second) + 1; msgs > most || digests == 0 {
		t.Errorf("%d messages, %d of them digests of %d: want at most %d, and full digests", msgs, digests, notifier.MaxDigest, most)
	}
	if hwm <= 0 || hwm*1024 > maxStormHWM {
		t.Errorf("up's peak resident memory is %d kB, want it under %d MiB", hwm, maxStormHWM>>20)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit %v after SIGTERM, want 0", err)
	}
	testkit.Fault(t, testkit.FaultRow{
		Fault:   "300 jobs fail at once; Telegram takes 1 message/s",
		Outcome: "every job is named in the chat within a minute, up to 30 to a digest, each with its error line; up's memory stays bounded",
		Lost:    "nothing",
	}, tgToken, []byte(stdout.String()), []byte(stderr.String()), testkit.Tree(t, state))
}

// procKB reads a field of /proc/PID/status given in kB, or -1 when it is not there.
func procKB(status, field string) int {
	for line := range strings.SplitSeq(status, "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err == nil {
				return n
			}
		}
	}
	return -1
}
