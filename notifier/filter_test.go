package notifier_test

import (
	"fmt"
	"testing"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

// The filter step: a job's on, its chats' on, and the rule that makes one incident of
// a job's quick deaths.
func TestWanted(t *testing.T) {
	t.Parallel()
	failure, timeout, success := supervisor.KindFailure, supervisor.KindTimeout, supervisor.KindSuccess
	deflt := supervisor.Notify{On: supervisor.DefaultNotifyOn}
	own := supervisor.Notify{On: []supervisor.Kind{failure}, Telegram: []supervisor.Destination{
		{ChatID: "-1001234567890"}, {ChatID: "@ops_log", On: []supervisor.Kind{success}}}}
	for _, tt := range []struct {
		name string
		ev   supervisor.Event
		want bool
	}{
		{"failure", supervisor.Event{Kind: failure, Notify: deflt}, true},
		{"success, not in on", supervisor.Event{Kind: success, Notify: deflt}, false},
		{"nothing in on", supervisor.Event{Kind: failure}, false},
		{"problem, whatever on says", supervisor.Event{Kind: supervisor.KindProblem}, true},
		{"message, whatever on says", supervisor.Event{Kind: supervisor.KindMessage}, true},
		{"first death of a restarting job", supervisor.Event{Kind: failure, Notify: deflt, Restarting: true, Streak: 1}, true},
		{"second quick death", supervisor.Event{Kind: failure, Notify: deflt, Restarting: true, Streak: 2}, false},
		{"second quick timeout", supervisor.Event{Kind: timeout, Notify: deflt, Restarting: true, Streak: 2}, false},
		{"death that begins a loop", supervisor.Event{Kind: failure, Notify: deflt, Restarting: true, Streak: 1, Looping: true}, false},
		{"death while looping", supervisor.Event{Kind: failure, Notify: deflt, Restarting: true, Streak: 7, Looping: true}, false},
		{"streak without restart: the job ended", supervisor.Event{Kind: failure, Notify: deflt, Streak: 3}, true},
		{"success in a streak", supervisor.Event{Kind: success, Notify: supervisor.Notify{On: []supervisor.Kind{success}}, Restarting: true, Streak: 3}, true},
		{"restart loop", supervisor.Event{Kind: supervisor.KindRestartLoop, Notify: deflt, Restarting: true, Streak: 4, Looping: true}, true},
		{"own chats: the job's on", supervisor.Event{Kind: failure, Notify: own}, true},
		{"own chats: a chat's own on", supervisor.Event{Kind: success, Notify: own}, true},
		{"own chats: nobody's", supervisor.Event{Kind: timeout, Notify: own}, false},
	} {
		if got := notifier.Wanted(tt.ev); got != tt.want {
			t.Errorf("%s: Wanted = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// The routing step: a job's own chats that want the event; else the default
// destinations that do; else the default chat.
func TestRoute(t *testing.T) {
	t.Parallel()
	failure, success := supervisor.KindFailure, supervisor.KindSuccess
	own := supervisor.Notify{On: []supervisor.Kind{failure}, Telegram: []supervisor.Destination{
		{ChatID: "-1001234567890", ThreadID: 7}, {ChatID: "@ops_log", On: []supervisor.Kind{success}}}}
	defaults := []supervisor.Destination{{ChatID: "-100555", On: []supervisor.Kind{failure}}, {ChatID: "-100666"}}
	for _, tt := range []struct {
		name     string
		ev       supervisor.Event
		defaults []supervisor.Destination
		want     string
	}{
		{"own chat of the job's on", supervisor.Event{Kind: failure, Notify: own}, defaults, "[-1001234567890]"},
		{"own chat of its own on", supervisor.Event{Kind: success, Notify: own}, defaults, "[@ops_log]"},
		{"own chats: a problem goes to all", supervisor.Event{Kind: supervisor.KindProblem, Notify: own}, nil, "[-1001234567890 @ops_log]"},
		{"default chat", supervisor.Event{Kind: failure}, nil, "[]"},
		{"default destinations that want it", supervisor.Event{Kind: success}, defaults, "[-100666]"},
		{"every default destination", supervisor.Event{Kind: failure}, defaults, "[-100555 -100666]"},
		{"a message to every default destination", supervisor.Event{Kind: supervisor.KindMessage}, defaults, "[-100555 -100666]"},
	} {
		var chats []string
		for _, d := range notifier.Route(tt.ev, tt.defaults) {
			chats = append(chats, d.ChatID)
		}
		if got := fmt.Sprint(chats); got != tt.want && !(tt.want == "[]" && len(chats) == 1 && chats[0] == "") {
			t.Errorf("%s: to %s, want %s", tt.name, got, tt.want)
		}
	}
}
