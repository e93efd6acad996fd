//go:build race

package decomposedfs_test

// raceEnabled says the race detector is on: it slows the driver down
// several times, so the longest randomized tests run fewer cases.
const raceEnabled = true
