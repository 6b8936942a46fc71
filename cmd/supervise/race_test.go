//go:build race

package main

// maxStormHWM bounds up's peak resident memory in the storm of TestFaultStorm, where
// up is this test binary: built with -race, it takes about five times what it
// otherwise does (168 MB where a plain build takes 31 MB).
const maxStormHWM = 512 << 20
