//go:build race

package main

// Bounds on up's peak resident memory in the fault tests, where up is this test
// binary: built with -race, it takes three to five times what it otherwise does.
const (
	maxStormHWM = 512 << 20 // 168 MB measured
	maxAbuseHWM = 256 << 20 // 72 MB measured; 370 MB with net/http's megabyte of headers
)
