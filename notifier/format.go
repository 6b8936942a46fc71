// Package notifier turns supervisor events into messages and delivers them: to a
// Telegram chat through the Bot API, or to standard error when no bot is configured.
package notifier

import "github.com/supervise/supervise/supervisor"

// HTML renders ev as a Telegram message in HTML parse mode, at most 4096 characters.
func HTML(ev supervisor.Event) string {
	panic("not yet written")
}

// Text renders ev in the same words as HTML, as plain text for a terminal or a log.
func Text(ev supervisor.Event) string {
	panic("not yet written")
}
