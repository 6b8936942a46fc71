package supervisor

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the global config file: the Telegram settings that the environment may
// also give, and the default destinations.
//
//	[telegram]
//	token_file = "/etc/supervise/bot-token"   # or token = "123456:ABC…"
//	chat_id = -1001234567890
//	api_url = "https://api.telegram.org"
//	timeout = "1m"
//
//	[[notify.telegram]]        # as in a job file
//	chat_id = -1001234567890
//
//	[[notify.alertmanager]]    # an Alertmanager cluster: its peers' URLs
//	url = ["http://am1:9093", "http://am2:9093"]
//	basic_auth = { username = "supervise", password_file = "/etc/supervise/am-password" }
//	# or bearer_token_file = "/etc/supervise/am-token"
//	generator_url = "https://grafana.example.com/d/supervise"
type Config struct {
	File string

	// Telegram holds the keys of [telegram] that the file sets, as strings: token,
	// token_file (made absolute), chat_id, api_url and timeout. The notifier reads
	// them behind the environment's SUPERVISE_TELEGRAM_* variables, which win.
	Telegram map[string]string

	// Destinations are where the messages of jobs without chats of their own go, and
	// supervise's own: the [[notify.telegram]] tables, with the keys of a job file's.
	// They take the place of the default chat, so the file sets one or the other.
	Destinations []Destination

	// Alertmanagers are the [[notify.alertmanager]] tables: the Alertmanager clusters
	// that every incident goes to as an alert, with Telegram or without it.
	Alertmanagers []Alertmanager

	// Commands turns on Telegram commands (/status, /restart JOB, /logs JOB) under
	// up, answered in the chats of Allow only: [telegram] commands and allow.
	Commands bool
	Allow    []int64

	lines map[string]int // the line of each key set, by its dotted name
}

// Where names key, a dotted name such as "telegram.chat_id", as the file sets it, for
// a message about its value: "FILE:LINE: telegram.chat_id".
func (c *Config) Where(key string) string {
	if line := c.lines[key]; line > 0 {
		return fmt.Sprintf("%s:%d: %s", c.File, line, key)
	}
	return c.File + ": " + key
}

// tokenKey matches a line that sets the token, whose text an error must not quote.
var tokenKey = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\btoken\s*=`) })

// LoadConfig reads and validates the global config file at path. Its decoding is as
// strict as a job file's: every problem is reported, each as "path:LINE: key: what is
// wrong". A token written in the file itself is refused while group or others may
// read the file. Whether the token and api_url are ones Telegram takes is for the
// notifier to check, which names them with Where; no error shows the token.
func LoadConfig(path string) (*Config, error) {
	data, fi, err := readChecked(path) // whoever may write it may send the token anywhere (api_url)
	if err != nil {
		return nil, err
	}
	var top map[string]toml.Primitive
	md, err := toml.Decode(string(data), &top)
	if err != nil {
		var perr toml.ParseError
		if !errors.As(err, &perr) {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		msg, n := syntaxMessage(perr), syntaxLine(data, perr)
		lines := strings.Split(string(data), "\n")
		// Lines n-1 and n: the line blamed may be the one after the mistake, when the
		// mistake's newline is what the parser stumbles on.
		for i := n - 2; i < n; i++ {
			if i >= 0 && i < len(lines) && tokenKey().MatchString(lines[i]) {
				msg = "not valid TOML, as in token = \"123456:ABC-def\" (the line holds the token, so what is wrong is not quoted)"
			}
		}
		return nil, fmt.Errorf("%s:%d: %s", path, n, msg)
	}

	cfg := &Config{File: path, Telegram: map[string]string{}, lines: map[string]int{}}
	d := &jobDecoder{file: path, md: md}
	set := func(key string, decode func(any) (string, error)) func(any) error {
		return func(v any) error {
			s, err := decode(v)
			if err == nil && s == "" {
				err = errors.New("is empty")
			}
			cfg.Telegram[key] = s
			return err
		}
	}
	tables := map[string]map[string]func(any) error{
		"telegram": {
			"token": set("token", asString),
			"token_file": set("token_file", func(v any) (string, error) {
				s, err := asString(v)
				if s != "" && !filepath.IsAbs(s) {
					s = filepath.Join(filepath.Dir(path), s) // as a job's dir is
				}
				return s, err
			}),
			"chat_id": set("chat_id", chatID),
			"api_url": set("api_url", asString),
			"timeout": set("timeout", func(v any) (string, error) {
				var timeout time.Duration
				s, _ := v.(string)
				return s, durationInto(&timeout)(v)
			}),
			"commands": boolInto(&cfg.Commands),
			"allow":    chatNumbersInto(&cfg.Allow),
		},
		"notify": {"telegram": destinationsInto(&cfg.Destinations), "alertmanager": alertmanagersInto(&cfg.Alertmanagers, path)},
	}
	for _, key := range sortedKeys(top) {
		if fields := tables[key]; fields != nil {
			d.table(key, top[key], fields)
		} else {
			d.reject(key, top[key], "unknown key")
		}
	}
	for table := range tables {
		if prim, ok := top[table]; ok {
			sub, _ := d.subkeys(prim)
			for k, p := range sub {
				cfg.lines[table+"."+k] = d.line(p)
			}
		}
	}

	report := func(key, msg string) {
		d.problems = append(d.problems, problem{line: cfg.lines[key], key: key, msg: msg})
	}
	_, token := cfg.Telegram["token"]
	if _, file := cfg.Telegram["token_file"]; token && file {
		report("telegram.token_file", "and token are both set: use one")
	}
	if _, chat := cfg.Telegram["chat_id"]; chat && len(cfg.Destinations) > 0 {
		report("telegram.chat_id", "and [[notify.telegram]] both say where messages go: keep one "+
			"(a [[notify.telegram]] with only chat_id does what chat_id does)")
	}
	if cfg.Commands && len(cfg.Allow) == 0 {
		report("telegram.commands", "needs allow, the list of chat ids whose commands are done: "+
			"anyone can find a bot and write to it")
	}
	if token {
		// As ssh refuses a private key that others may read: the token is a password.
		if perm := fi.Mode().Perm(); perm&0o044 != 0 {
			report("telegram.token", fmt.Sprintf("group or others may read this file (%s), which holds the bot token: "+
				"chmod 600 %s, or put the token in a file of its own and give token_file", perm, path))
		}
	}
	// A problem quotes its value, and the token may have been pasted into another
	// key as well (chat_id = "123456:ABC…"): it is hidden wherever it is.
	if t := cfg.Telegram["token"]; t != "" {
		for i, p := range d.problems {
			d.problems[i].key = strings.ReplaceAll(p.key, t, "<redacted>")
			d.problems[i].msg = strings.ReplaceAll(p.msg, t, "<redacted>")
		}
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// chatNumbersInto decodes a list of chat numbers, such as [telegram] allow: commands
// come from chats, which have numbers, never from a channel's @name.
func chatNumbersInto(dst *[]int64) func(any) error {
	return func(v any) error {
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("must be a list of chat numbers, such as [123456789, -1001234567890], not %s", typeName(v))
		}
		for i, e := range list {
			n, ok := e.(int64)
			if !ok {
				return fmt.Errorf("element %d must be a chat number (`supervise telegram chats` lists them), not %s", i+1, typeName(e))
			}
			*dst = append(*dst, n)
		}
		return nil
	}
}

// Alertmanager is one [[notify.alertmanager]] table: one Alertmanager cluster.
type Alertmanager struct {
	// URLs are the cluster's peers, each an http or https base URL: an alert is posted
	// to each, as Prometheus does, and is delivered when one of them takes it.
	URLs []string
	// Basic auth (basic_auth = { username, password_file }) or a bearer token
	// (bearer_token_file), the files made absolute: the notifier reads the secrets.
	Username, PasswordFile string
	BearerTokenFile        string
	// GeneratorURL, when set, is each alert's generatorURL: where to look further.
	GeneratorURL string
}

// alertmanagersInto decodes the [[notify.alertmanager]] tables of the config file at
// path: files are relative to its folder.
func alertmanagersInto(dst *[]Alertmanager, path string) func(any) error {
	return func(v any) error {
		tables, err := tablesOf(v, "[[notify.alertmanager]]")
		if err != nil {
			return err
		}
		var errs []error
		for i, t := range tables {
			am, problems := alertmanager(t, filepath.Dir(path))
			for _, err := range problems {
				errs = append(errs, fmt.Errorf("table %d: %w", i+1, err))
			}
			if len(problems) == 0 {
				*dst = append(*dst, am)
			}
		}
		return errors.Join(errs...)
	}
}

// alertmanager decodes one [[notify.alertmanager]] table; dir is the config file's.
func alertmanager(t map[string]any, dir string) (Alertmanager, []error) {
	var am Alertmanager
	var errs []error
	file := func(v any) (string, error) {
		s, err := asString(v)
		if err == nil && s == "" {
			err = errors.New("is empty")
		}
		if s != "" && !filepath.IsAbs(s) {
			s = filepath.Join(dir, s)
		}
		return s, err
	}
	for _, key := range sortedKeys(t) {
		v := t[key]
		var err error
		switch key {
		case "url":
			if list, ok := v.([]any); ok {
				am.URLs, err = asStrings(list)
			} else {
				var s string
				s, err = asString(v)
				am.URLs = []string{s}
			}
			if err == nil && len(am.URLs) == 0 {
				err = errors.New("is an empty list: give the URL of each Alertmanager of the cluster")
			}
			for _, u := range am.URLs {
				if err == nil {
					err = checkHTTPURL(u, "http://alertmanager:9093")
				}
			}
		case "generator_url":
			if am.GeneratorURL, err = asString(v); err == nil {
				err = checkHTTPURL(am.GeneratorURL, "https://grafana.example.com/d/supervise")
			}
		case "bearer_token_file":
			am.BearerTokenFile, err = file(v)
		case "basic_auth":
			auth, ok := v.(map[string]any)
			if !ok {
				err = fmt.Errorf("must be a table, such as { username = \"supervise\", password_file = \"/etc/supervise/am-password\" }, not %s", typeName(v))
				break
			}
			for _, k := range sortedKeys(auth) {
				var kerr error
				switch k {
				case "username":
					am.Username, kerr = asString(auth[k])
				case "password_file":
					am.PasswordFile, kerr = file(auth[k])
				case "password":
					kerr = errors.New("put the password in a file of its own, and give password_file")
				default:
					kerr = errors.New("unknown key")
				}
				if kerr != nil {
					errs = append(errs, fmt.Errorf("basic_auth.%s: %w", k, kerr))
				}
			}
			if am.Username == "" || am.PasswordFile == "" {
				errs = append(errs, errors.New("basic_auth: needs both username and password_file"))
			}
		case "bearer_token", "password":
			err = errors.New("put the secret in a file of its own, and give bearer_token_file or basic_auth.password_file")
		default:
			err = errors.New("unknown key")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	if _, ok := t["url"]; !ok {
		errs = append(errs, errors.New("url: is missing: give the URL of each Alertmanager of the cluster"))
	}
	if _, ok := t["basic_auth"]; ok && am.BearerTokenFile != "" {
		errs = append(errs, errors.New("basic_auth and bearer_token_file are both set: use one"))
	}
	return am, errs
}

// checkHTTPURL reports what keeps raw from being an http or https URL such as example,
// with no user or password in it: those would show wherever the URL does.
func checkHTTPURL(raw, example string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("want an http or https URL such as %s", example)
	case u.User != nil:
		return errors.New("must not hold a user or password: give basic_auth, whose password is kept in a file")
	}
	return nil
}
