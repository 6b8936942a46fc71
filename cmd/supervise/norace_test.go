//go:build !race

package main

// Bounds on up's peak resident memory in the fault tests, about four times what it
// takes.
const (
	maxStormHWM = 128 << 20 // 31 MB measured
	maxAbuseHWM = 96 << 20  // 28 MB measured; 164 MB with net/http's megabyte of headers
)
