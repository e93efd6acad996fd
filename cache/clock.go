package cache

import (
	"sync/atomic"
	"time"
)

var lastTime atomic.Int64

// NextTime returns the current wall-clock time in nanoseconds, but never a
// value this process returned before: if the clock has not moved on (coarse
// clocks, or two calls within its resolution) or went back, it returns the
// previous value plus one.
//
// Writers stamp every changed file with NextTime (and at least the file's
// previous mtime plus one), which is what makes a same-size rewrite within
// one clock tick visible to stat(2) and so to the cache.
func NextTime() int64 {
	now := time.Now().UnixNano()
	for {
		last := lastTime.Load()
		next := max(now, last+1)
		if lastTime.CompareAndSwap(last, next) {
			return next
		}
	}
}

// NextAfter returns NextTime, or prev+1 if that is larger: a new mtime for a
// file whose current mtime is prev.
func NextAfter(prev int64) int64 {
	return max(NextTime(), prev+1)
}

var start = time.Now()

// monotonic returns nanoseconds on the monotonic clock since process start.
func monotonic() int64 { return int64(time.Since(start)) }
