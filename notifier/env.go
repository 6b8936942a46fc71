package notifier

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
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

// fileKeys maps each variable to the key of [telegram] in the config file that gives
// the same setting.
var fileKeys = map[string]string{EnvToken: "token", EnvTokenFile: "token_file", EnvChatID: "chat_id", EnvAPIURL: "api_url", EnvTimeout: "timeout"}

// Lookup returns the Telegram setting that the variable env names, and where it is
// given, for messages about it. The environment (getenv: os.Getenv in production)
// wins over the global config file cfg (nil for none), key by key. The token is one
// setting, given as itself or as a file: either variable set hides both token and
// token_file of the file. from is the variable's name, or the file, line and key
// ("/etc/supervise/config.toml:3: telegram.chat_id"); both are empty when the
// setting is not given.
func Lookup(cfg *supervisor.Config, getenv func(string) string, env string) (value, from string) {
	if v := strings.TrimSpace(getenv(env)); v != "" {
		return v, env
	}
	if cfg == nil {
		return "", ""
	}
	if (env == EnvToken || env == EnvTokenFile) && strings.TrimSpace(getenv(EnvToken)+getenv(EnvTokenFile)) != "" {
		return "", ""
	}
	key := fileKeys[env]
	if v, ok := cfg.Telegram[key]; ok {
		return v, cfg.Where("telegram." + key)
	}
	return "", ""
}

// senderOf returns the end of the pipeline that the environment and the global
// config file cfg (nil for none) configure, each setting looked up with Lookup, and
// the default destinations that take the place of a default chat. With no token it is
// the console, on opts.Stderr. With a token it sends to Telegram through a Spool in
// opts.SpoolDir (none when empty), and when a message cannot be delivered it writes
// the error and the message to stderr, so the alert is not lost. With a spool or
// without, or when the spool cannot be written, a message is sent the same way,
// answers that ask for it to go otherwise included.
//
// An event with no chats of its own goes to the default chat
// (SUPERVISE_TELEGRAM_CHAT_ID, or chat_id in the file), or, when none is set, to each
// of the file's default destinations that wants it; a token calls for one of the two.
// No error shows the token.
func senderOf(cfg *supervisor.Config, getenv func(string) string, opts Options) (sender, []supervisor.Destination, error) {
	stderr := opts.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	token, err := tokenOf(cfg, getenv)
	if err != nil {
		return nil, nil, err
	}
	apiURL, err := apiURLOf(cfg, getenv, token)
	if err != nil {
		return nil, nil, err
	}
	chatID, chatFrom := Lookup(cfg, getenv, EnvChatID)
	var defaults []supervisor.Destination
	if chatID == "" && cfg != nil {
		defaults = cfg.Destinations
	}
	if token == "" {
		// Most likely the token was forgotten; a silent fall back to the console
		// would leave the user waiting for a Telegram message that never comes.
		if chatID == "" && len(defaults) > 0 {
			chatFrom = cfg.Where("notify.telegram")
		}
		if chatFrom != "" {
			return nil, nil, fmt.Errorf("notifier: %s is set but there is no bot token: set %s or %s (or token_file under [telegram] in the config file)",
				chatFrom, EnvToken, EnvTokenFile)
		}
		if cfg != nil && len(cfg.Alertmanagers) > 0 {
			return silent{}, nil, nil // the alerts go to Alertmanager, and nothing else anywhere
		}
		return console{w: stderr, header: consoleHeader}, nil, nil
	}
	if chatID == "" && len(defaults) == 0 {
		_, tokenFrom := Lookup(cfg, getenv, EnvToken)
		if tokenFrom == "" {
			_, tokenFrom = Lookup(cfg, getenv, EnvTokenFile)
		}
		file := "the config file"
		if cfg != nil {
			file = cfg.File
		}
		return nil, nil, fmt.Errorf("notifier: a bot token is set (%s) but no chat to notify: set %s, or chat_id under [telegram] in %s, "+
			"to the chat, or give %s [[notify.telegram]] tables; `supervise telegram chats` lists the chats that wrote to the bot", tokenFrom, EnvChatID, file, file)
	}
	if chatID != "" {
		if err := supervisor.CheckChatID(chatID); err != nil {
			return nil, nil, fmt.Errorf("notifier: %s: %w", chatFrom, err)
		}
	}
	tg := NewTelegram(token, chatID)
	tg.APIURL = apiURL
	if tg.MaxWait, err = timeoutOf(cfg, getenv); err != nil {
		return nil, nil, err
	}
	s := &spooler{tg: tg, defaults: defaults, w: stderr,
		privatePace: orDefault(opts.PrivatePace, time.Second), groupPace: orDefault(opts.GroupPace, 3*time.Second)}
	if opts.SpoolDir != "" {
		s.spool = &Spool{Dir: opts.SpoolDir, Stderr: stderr, Chat: s.chat}
	}
	return s, defaults, nil
}

// timeoutOf is the notifier's timeout, SUPERVISE_TELEGRAM_TIMEOUT or [telegram]
// timeout; zero for the default.
func timeoutOf(cfg *supervisor.Config, getenv func(string) string) (time.Duration, error) {
	raw, from := Lookup(cfg, getenv, EnvTimeout)
	if raw == "" {
		return 0, nil
	}
	d, err := supervisor.ParseDuration(raw)
	if err != nil {
		return 0, fmt.Errorf("notifier: %s: %w", from, err)
	}
	return d, nil
}

// Check reports what is wrong with the notifier that the environment and the global
// config file cfg (nil for none) configure, as New would, without making it: its
// Telegram settings and its Alertmanagers' secrets.
func Check(cfg *supervisor.Config, getenv func(string) string) error {
	_, _, err := senderOf(cfg, getenv, Options{})
	if err != nil {
		return err
	}
	_, err = alerterOf(cfg, "", io.Discard, 0)
	return err
}

// tokenOf returns the bot token, or "" when none is configured.
func tokenOf(cfg *supervisor.Config, getenv func(string) string) (string, error) {
	token, from := Lookup(cfg, getenv, EnvToken)
	file, fileFrom := Lookup(cfg, getenv, EnvTokenFile)
	if token != "" && file != "" {
		return "", fmt.Errorf("notifier: %s and %s are both set: use one", from, fileFrom)
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			// The *PathError names the file; it never holds the file's contents.
			return "", fmt.Errorf("notifier: %s: %w", fileFrom, err)
		}
		token = strings.TrimSpace(string(data))
		if token == "" {
			return "", fmt.Errorf("notifier: %s: %s is empty", fileFrom, file)
		}
		from = fileFrom
	}
	if token != "" {
		if err := checkToken(token); err != nil {
			return "", fmt.Errorf("notifier: %s: %w", from, err)
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

// apiURLOf returns the Bot API's base URL, DefaultAPIURL unless the environment or
// the config file names another, such as a local Bot API server.
func apiURLOf(cfg *supervisor.Config, getenv func(string) string, token string) (string, error) {
	raw, from := Lookup(cfg, getenv, EnvAPIURL)
	if raw == "" {
		return DefaultAPIURL, nil
	}
	if token != "" && strings.Contains(raw, token) {
		return "", fmt.Errorf("notifier: %s: give the base URL only, without /bot<token>", from)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("notifier: %s: %q is not an http or https URL such as %s", from, raw, DefaultAPIURL)
	}
	return strings.TrimSuffix(raw, "/"), nil
}
