module github.com/supervise/supervise

go 1.26

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/creack/pty v1.1.24
	github.com/oklog/run v1.2.0
	github.com/robfig/cron/v3 v3.0.1
)
