package supervisor_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/supervise/supervise/supervisor"
)

const secretToken = "123456:AAH-global-secret_do_not_print"

// writeConfig writes text to config.toml in a folder of its own, with mode perm.
func writeConfig(t *testing.T, text string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return path
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, `
[telegram]
token_file = "bot-token"
api_url = "http://127.0.0.1:8081"
timeout = "30s"

[[notify.telegram]]
chat_id = -1001234567890
thread_id = 7
on = ["failure"]

[[notify.telegram]]
chat_id = "@ops_log"
silent = true
`, 0o644)
	cfg, err := supervisor.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	wantTelegram := map[string]string{
		"token_file": filepath.Join(filepath.Dir(path), "bot-token"), // relative to the file
		"api_url":    "http://127.0.0.1:8081",
		"timeout":    "30s",
	}
	if !reflect.DeepEqual(cfg.Telegram, wantTelegram) {
		t.Errorf("Telegram = %v, want %v", cfg.Telegram, wantTelegram)
	}
	wantTo := []supervisor.Destination{
		{ChatID: "-1001234567890", ThreadID: 7, On: []supervisor.Kind{supervisor.KindFailure}},
		{ChatID: "@ops_log", Silent: true},
	}
	if !reflect.DeepEqual(cfg.Destinations, wantTo) {
		t.Errorf("Destinations = %+v, want %+v", cfg.Destinations, wantTo)
	}
	if got, want := cfg.Where("telegram.timeout"), path+":5: telegram.timeout"; got != want {
		t.Errorf("Where = %q, want %q", got, want)
	}

	// A chat_id, as a number or a string, and an empty file.
	for text, want := range map[string]string{"[telegram]\nchat_id = 42\n": "42", "[telegram]\nchat_id = \"@ops_log\"\n": "@ops_log", "": ""} {
		cfg, err := supervisor.LoadConfig(writeConfig(t, text, 0o644))
		if err != nil || cfg.Telegram["chat_id"] != want {
			t.Errorf("%q: %v, %v; want chat %q", text, cfg, err, want)
		}
	}
}

// Every problem is reported, each with the file, its line and the key.
func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, text string
		want       []string // :LINE: key: what, after the file's path
	}{
		{"unknown keys", "colour = 1\n[telegram]\nchat = 42\n[notify]\non = [\"failure\"]\n", []string{
			":1: colour: unknown key", ":3: telegram.chat: unknown key", ":5: notify.on: unknown key"}},
		{"types", "[telegram]\ntoken_file = 5\napi_url = true\ntimeout = 30\nchat_id = 4.2\n", []string{
			":2: telegram.token_file: must be a string, not an integer", ":3: telegram.api_url: must be a string, not a boolean",
			`:4: telegram.timeout: 30 has no unit`, ":5: telegram.chat_id: must be a chat number or an @channel name, not a float"}},
		{"bad values", "[telegram]\nchat_id = \"my group\"\ntimeout = \"soon\"\napi_url = \"\"\n", []string{
			`:2: telegram.chat_id: "my group" is neither a chat number nor an @channel name`,
			`:3: telegram.timeout: "soon" is not a duration`, ":4: telegram.api_url: is empty"}},
		{"not a table", "telegram = \"on\"\n", []string{":1: telegram: must be a table, like [telegram]"}},
		{"destinations", "[[notify.telegram]]\nchat_id = \"x\"\ntopic = 3\n", []string{
			`:1: notify.telegram: table 1: chat_id: "x" is neither a chat number nor an @channel name`,
			":1: notify.telegram: table 1: topic: unknown key"}},
		{"token twice", "[telegram]\ntoken_file = \"/run/secrets/bot\"\ntoken = \"" + secretToken + "\"\n", []string{
			":2: telegram.token_file: and token are both set: use one"}},
		{"chat twice", "[telegram]\nchat_id = 42\n[[notify.telegram]]\nchat_id = 43\n", []string{
			":2: telegram.chat_id: and [[notify.telegram]] both say where messages go"}},
		{"commands", "[telegram]\ncommands = \"yes\"\nallow = [\"@ops\"]\n", []string{
			":2: telegram.commands: must be true or false, not a string",
			":3: telegram.allow: element 1 must be a chat number (`supervise telegram chats` lists them), not a string"}},
		{"commands for anyone", "[telegram]\ncommands = true\n", []string{
			":2: telegram.commands: needs allow, the list of chat ids whose commands are done"}},
		{"syntax", "[telegram]\nchat_id = = 4\n", []string{":2: expected value"}},
		{"syntax on the token's line", "[telegram]\ntoken = " + secretToken + "\n", []string{":2: not valid TOML"}},
		{"syntax after the token's line", "[telegram]\ntoken = \"" + secretToken, []string{":2: not valid TOML"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.text, 0o600)
			cfg, err := supervisor.LoadConfig(path)
			if err == nil {
				t.Fatalf("LoadConfig = %+v, want errors", cfg)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("%d errors, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, want := range tt.want {
				if i < len(lines) && !strings.HasPrefix(lines[i], path+want) {
					t.Errorf("error %d = %q, want it to start with %q", i+1, lines[i], path+want)
				}
			}
			if strings.Contains(err.Error(), "AAH-global") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

// A token written in the file is refused while others may read it, as ssh refuses a
// private key; the error names the file and says what to do, without the token.
func TestLoadConfigTokenNeedsPrivateFile(t *testing.T) {
	t.Parallel()
	text := "[telegram]\nchat_id = 42\ntoken = \"" + secretToken + "\"\n"
	for _, perm := range []os.FileMode{0o644, 0o640, 0o604} {
		path := writeConfig(t, text, perm)
		_, err := supervisor.LoadConfig(path)
		want := path + ":3: telegram.token: group or others may read this file"
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "chmod 600 "+path) || strings.Contains(err.Error(), "AAH-global") {
			t.Errorf("mode %s: %v; want %q, chmod 600 and no token", perm, err, want)
		}
	}
	cfg, err := supervisor.LoadConfig(writeConfig(t, text, 0o600))
	if err != nil || cfg.Telegram["token"] != secretToken {
		t.Errorf("mode 0600: %v, want the token", err)
	}
	// A file others may read is fine when it names a token file instead.
	if _, err := supervisor.LoadConfig(writeConfig(t, "[telegram]\ntoken_file = \"/run/secrets/bot\"\n", 0o644)); err != nil {
		t.Errorf("token_file in a 0644 file: %v", err)
	}
}

func TestLoadConfigMissing(t *testing.T) {
	t.Parallel()
	if _, err := supervisor.LoadConfig(filepath.Join(t.TempDir(), "config.toml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadConfig of a missing file = %v, want fs.ErrNotExist", err)
	}
}

// As root, a config file others may write is refused, as a job file is: it can send
// the token anywhere with api_url.
func TestLoadConfigRefusedAsRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the check applies only when supervise runs as root")
	}
	path := writeConfig(t, "[telegram]\nchat_id = 42\n", 0o600)
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := supervisor.LoadConfig(path); err == nil || !strings.Contains(err.Error(), "refused: group or others may write it") {
		t.Errorf("LoadConfig of a file anyone may write: %v", err)
	}
}

func TestLoadConfigAlertmanager(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, `
[[notify.alertmanager]]
url = ["http://am1:9093", "http://am2:9093"]
basic_auth = { username = "supervise", password_file = "am-password" }
generator_url = "https://grafana.example.com/d/supervise"

[[notify.alertmanager]]
url = "https://am.example.com"
bearer_token_file = "/etc/supervise/am-token"
`, 0o644)
	cfg, err := supervisor.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []supervisor.Alertmanager{
		{URLs: []string{"http://am1:9093", "http://am2:9093"}, Username: "supervise",
			PasswordFile: filepath.Join(filepath.Dir(path), "am-password"), GeneratorURL: "https://grafana.example.com/d/supervise"},
		{URLs: []string{"https://am.example.com"}, BearerTokenFile: "/etc/supervise/am-token"},
	}
	if !reflect.DeepEqual(cfg.Alertmanagers, want) {
		t.Errorf("Alertmanagers = %+v, want %+v", cfg.Alertmanagers, want)
	}
}

func TestLoadConfigAlertmanagerErrors(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, `
[[notify.alertmanager]]
url = "http://supervise:hunter2@am1:9093"

[[notify.alertmanager]]
basic_auth = { username = "supervise", password = "hunter2" }
bearer_token_file = "token"
colour = "red"

[[notify.alertmanager]]
url = "am3:9093"
`, 0o600)
	_, err := supervisor.LoadConfig(path)
	if err == nil {
		t.Fatal("LoadConfig took a bad [[notify.alertmanager]]")
	}
	for _, want := range []string{
		": notify.alertmanager: table 1: url: must not hold a user or password",
		"table 2: basic_auth.password: put the password in a file of its own",
		"table 2: basic_auth: needs both username and password_file",
		"table 2: colour: unknown key",
		"table 2: url: is missing",
		"table 2: basic_auth and bearer_token_file are both set: use one",
		"table 3: url: want an http or https URL such as http://alertmanager:9093",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v\nwant it to say %q", err, want)
		}
	}
	if !strings.HasPrefix(err.Error(), path+":") {
		t.Errorf("error = %v, want it to name the file and line", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password: %v", err)
	}
}
