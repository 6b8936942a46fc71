package notifier

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// DeliveryStatus is how the notifier fares, for status and the metrics.
type DeliveryStatus struct {
	LastDelivery time.Time `json:"last_delivery,omitzero"` // when a message last reached the chat
	LastError    string    `json:"last_error,omitempty"`   // why the last try failed, if it did
	LastErrorAt  time.Time `json:"last_error_at,omitzero"`
	Spooled      int       `json:"spooled"`                    // messages waiting in the spool
	Permanent    []string  `json:"permanent_errors,omitempty"` // destinations refused for good, each with why

	// Messages by how they ended: "sent", "failed" (kept to try again) and "dropped"
	// (too old, refused for good, or past the spool's size).
	Results map[string]int `json:"results"`

	// Telegram says the fields above are Telegram's: false when Alertmanager alone
	// is configured.
	Telegram bool `json:"telegram"`
	// Alertmanager is how the alerts to Alertmanager fare; nil without one.
	Alertmanager *AlertStatus `json:"alertmanager,omitempty"`
}

// AlertStatus is how posts of alerts to Alertmanager have gone.
type AlertStatus struct {
	LastPost    time.Time `json:"last_post,omitzero"` // when every cluster last took the alerts
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Firing      int       `json:"firing"`  // alerts of open incidents, posted again every minute
	Waiting     int       `json:"waiting"` // alerts put and not yet taken by every cluster
	// Posts by how they ended: "sent" (every cluster took them) and "failed" (tried
	// again, from the spool).
	Results map[string]int `json:"results"`
}

// health is how a Spool's deliveries have gone, for `supervise status` and the
// metrics: counts by result, the last delivery and error, and the chats that refuse
// messages for good until the configuration is fixed.
type health struct {
	mu           sync.Mutex
	lastDelivery time.Time
	lastError    string
	lastErrorAt  time.Time
	permanent    map[string]string // why each chat refuses, by chat
	results      map[string]int    // "sent", "failed", "dropped"
}

func (h *health) count(result string) {
	if h.results == nil {
		h.results = map[string]int{}
	}
	h.results[result]++
}

// delivered records a message that reached chat.
func (h *health) delivered(chat string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.count("sent")
	h.lastDelivery = time.Now()
	delete(h.permanent, chat)
}

// failed records a try that failed and kept the message; permanent says the chat
// refuses messages until the configuration changes.
func (h *health) failed(chat string, err error, permanent bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.count("failed")
	h.lastError, h.lastErrorAt = fmt.Sprintf("%s: %v", chatName(chat), err), time.Now()
	if permanent {
		if h.permanent == nil {
			h.permanent = map[string]string{}
		}
		h.permanent[chat] = h.lastError
	}
}

// dropped records a message given up on.
func (h *health) dropped() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.count("dropped")
}

func chatName(chat string) string {
	if chat == "" {
		return "the default chat"
	}
	return "chat " + chat
}

// status returns how deliveries have gone, with the messages waiting in the spool.
func (s *Spool) status() DeliveryStatus {
	h := &s.health
	h.mu.Lock()
	st := DeliveryStatus{LastDelivery: h.lastDelivery, LastError: h.lastError, LastErrorAt: h.lastErrorAt,
		Results: map[string]int{"sent": 0, "failed": 0, "dropped": 0}}
	for k, v := range h.results {
		st.Results[k] = v
	}
	for _, why := range h.permanent {
		st.Permanent = append(st.Permanent, why)
	}
	h.mu.Unlock()
	slices.Sort(st.Permanent)
	st.Spooled = s.waiting()
	return st
}

// waiting counts the messages in the spool; what cannot be read counts as none, and
// so does what is no regular file, which the next flush sets aside.
func (s *Spool) waiting() int {
	entries, err := os.ReadDir(s.Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	n := 0
	for _, e := range entries {
		if name := e.Name(); strings.HasSuffix(name, ".json") && !strings.HasPrefix(name, ".") && e.Type().IsRegular() {
			n++
		}
	}
	return n
}

// status says how deliveries have gone, for status and the metrics; without a spool
// nothing is counted.
func (s *spooler) status() (DeliveryStatus, bool) {
	if s.spool == nil {
		return DeliveryStatus{}, false
	}
	return s.spool.status(), true
}
