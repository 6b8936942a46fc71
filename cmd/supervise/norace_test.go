//go:build !race

package main

// maxStormHWM bounds up's peak resident memory in the storm of TestFaultStorm, about
// four times what it takes (31 MB).
const maxStormHWM = 128 << 20
