package notifier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// The environment variables that configure Telegram.
const (
	EnvToken     = "SUPERVISE_TELEGRAM_TOKEN"
	EnvTokenFile = "SUPERVISE_TELEGRAM_TOKEN_FILE"
	EnvChatID    = "SUPERVISE_TELEGRAM_CHAT_ID"
	EnvAPIURL    = "SUPERVISE_TELEGRAM_API_URL"
	EnvTimeout   = "SUPERVISE_TELEGRAM_TIMEOUT" // how long a message is tried before it waits in the spool
)

// FromEnv returns the notifier the environment configures, looking variables up with
// getenv (os.Getenv in production). With no token it is a Console on stderr. With a
// token it sends to Telegram through a Spool in spoolDir (none when empty), and when a
// message cannot be delivered it writes the error and the message to stderr, so the
// alert is not lost, and returns the error. A notifier with a spool also has a method
// Flush(context.Context) error, which sends what earlier processes left there.
//
// The token comes from SUPERVISE_TELEGRAM_TOKEN or from the file that
// SUPERVISE_TELEGRAM_TOKEN_FILE names (for secrets mounted as files), never both;
// SUPERVISE_TELEGRAM_CHAT_ID is then required. No error shows the token.
func FromEnv(getenv func(string) string, stderr io.Writer, spoolDir string) (supervisor.Notifier, error) {
	token, err := tokenFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	apiURL, err := apiURLFromEnv(getenv, token)
	if err != nil {
		return nil, err
	}
	chatID := strings.TrimSpace(getenv(EnvChatID))
	if token == "" {
		if chatID != "" {
			// Most likely the token was forgotten; a silent fall back to the console
			// would leave the user waiting for a Telegram message that never comes.
			return nil, fmt.Errorf("notifier: %s is set but there is no bot token: set %s or %s",
				EnvChatID, EnvToken, EnvTokenFile)
		}
		return Console{W: stderr}, nil
	}
	if chatID == "" {
		return nil, fmt.Errorf("notifier: a bot token is set but %s is not: set it to the chat to notify "+
			"(`supervise telegram chats` lists the chats that wrote to the bot)", EnvChatID)
	}
	if err := checkChatID(chatID); err != nil {
		return nil, err
	}
	tg := NewTelegram(token, chatID)
	tg.APIURL = apiURL
	if raw := strings.TrimSpace(getenv(EnvTimeout)); raw != "" {
		if tg.MaxWait, err = supervisor.ParseDuration(raw); err != nil {
			return nil, fmt.Errorf("notifier: %s: %w", EnvTimeout, err)
		}
	}
	if spoolDir != "" {
		s := &spooler{tg: tg, spool: &Spool{Dir: spoolDir, Stderr: stderr}, w: stderr}
		s.spool.Chat = s.chat
		return s, nil
	}
	return &fallback{tg: tg, w: stderr}, nil
}

// tokenFromEnv returns the bot token, or "" when none is configured.
func tokenFromEnv(getenv func(string) string) (string, error) {
	token, file := strings.TrimSpace(getenv(EnvToken)), getenv(EnvTokenFile)
	if token != "" && file != "" {
		return "", fmt.Errorf("notifier: %s and %s are both set: use one", EnvToken, EnvTokenFile)
	}
	name := EnvToken
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			// The *PathError names the file; it never holds the file's contents.
			return "", fmt.Errorf("notifier: %s: %w", EnvTokenFile, err)
		}
		token = strings.TrimSpace(string(data))
		if token == "" {
			return "", fmt.Errorf("notifier: %s: %s is empty", EnvTokenFile, file)
		}
		name = EnvTokenFile
	}
	if token != "" {
		if err := checkToken(token); err != nil {
			return "", fmt.Errorf("notifier: %s: %w", name, err)
		}
	}
	return token, nil
}

// checkToken catches a token pasted wrong before it becomes a 401 or, worse, a path
// that sends requests somewhere else. Bot tokens are "123456:ABC-def_…". The error
// does not quote the token.
func checkToken(token string) error {
	id, secret, ok := strings.Cut(token, ":")
	valid := ok && id != "" && secret != ""
	for _, c := range id {
		valid = valid && c >= '0' && c <= '9'
	}
	for _, c := range secret {
		valid = valid && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_')
	}
	if valid {
		return nil
	}
	if strings.HasPrefix(token, "bot") {
		return errors.New(`the token must not start with "bot": give it as @BotFather shows it`)
	}
	return errors.New("not a bot token: want the form 123456:ABC-def_ghi, as @BotFather shows it")
}

// checkChatID accepts what sendMessage takes as chat_id: a number (negative for
// groups and channels) or a channel's @username.
func checkChatID(chatID string) error {
	if _, err := strconv.ParseInt(chatID, 10, 64); err == nil {
		return nil
	}
	if name, ok := strings.CutPrefix(chatID, "@"); ok && name != "" && !strings.ContainsAny(name, " \t/") {
		return nil
	}
	return fmt.Errorf("notifier: %s: %q is neither a chat number nor an @channel name", EnvChatID, chatID)
}

// apiURLFromEnv returns the Bot API's base URL, DefaultAPIURL unless the environment
// names another, such as a local Bot API server.
func apiURLFromEnv(getenv func(string) string, token string) (string, error) {
	raw := strings.TrimSpace(getenv(EnvAPIURL))
	if raw == "" {
		return DefaultAPIURL, nil
	}
	if token != "" && strings.Contains(raw, token) {
		return "", fmt.Errorf("notifier: %s: give the base URL only, without /bot<token>", EnvAPIURL)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("notifier: %s: %q is not an http or https URL such as %s", EnvAPIURL, raw, DefaultAPIURL)
	}
	return strings.TrimSuffix(raw, "/"), nil
}

// fallback sends to Telegram and, when that fails, writes the message to w instead.
type fallback struct {
	tg *Telegram
	w  io.Writer
}

// Pace is how often the chat may be written to; see spooler.Pace.
func (f *fallback) Pace() time.Duration { return pace(f.tg.ChatID) }

// Notify sends ev to Telegram; if it cannot, it writes the reason and the message to
// f.w so that the alert is not lost, and returns the reason.
func (f *fallback) Notify(ctx context.Context, ev supervisor.Event) error {
	var err error
	if len(ev.To) == 0 {
		err = f.tg.Notify(ctx, ev)
	} else {
		// The job's own chats, each as it asks.
		html := HTML(f.tg.redactEvent(ev))
		for _, d := range ev.To {
			to := Target{ChatID: d.ChatID, ThreadID: d.ThreadID, Silent: d.Silent || d.Quiet.Has(time.Now())}
			if serr := f.tg.send(ctx, to, html, "HTML"); serr != nil {
				err = errors.Join(err, fmt.Errorf("chat %s: %w", d.ChatID, serr))
			}
		}
	}
	if err != nil {
		// err comes from the Telegram client, which has already redacted the token.
		writeNotice(f.w, fmt.Sprintf("supervise: notification not delivered to Telegram (%v):", err), Text(f.tg.redactEvent(ev)))
	}
	return err
}
