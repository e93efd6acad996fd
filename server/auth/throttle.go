package auth

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// ThrottledError is the error of a check refused without looking at the
// credentials: too many failures for the user name or from the address
// lately, or too many checks waiting for the password hash already. The
// server answers 429 with Retry-After.
type ThrottledError struct {
	// Wait is how long the client should wait before it tries again.
	Wait time.Duration
	// Why says which limit (for the log, not for the client).
	Why string
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("auth: too many login attempts (%s); retry in %v", e.Why, e.Wait)
}

// RetryAfter is the wait, for the server's Retry-After.
func (e *ThrottledError) RetryAfter() time.Duration { return e.Wait }

// limiter counts failures per key in a token bucket: a key may fail Burst
// times in a row, and earns one more failure every Every. It is not safe
// for concurrent use; the authenticator guards it.
type limiter struct {
	burst float64
	every time.Duration
	max   int // entries kept; beyond, the oldest-looking go first
	m     map[string]*bucket
}

type bucket struct {
	tokens float64   // failures left at `at`
	at     time.Time // when tokens was counted
}

func newLimiter(burst int, every time.Duration, max int) *limiter {
	return &limiter{burst: float64(burst), every: every, max: max, m: map[string]*bucket{}}
}

// level is b's token count at now.
func (l *limiter) level(b *bucket, now time.Time) float64 {
	return math.Min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.every))
}

// wait returns how long key must wait before it may fail again; 0: now.
func (l *limiter) wait(key string, now time.Time) time.Duration {
	if l == nil || l.burst <= 0 {
		return 0
	}
	b := l.m[key]
	if b == nil {
		return 0
	}
	lv := l.level(b, now)
	if lv >= 1 {
		return 0
	}
	return time.Duration((1 - lv) * float64(l.every))
}

// fail counts a failure of key.
func (l *limiter) fail(key string, now time.Time) {
	if l == nil || l.burst <= 0 {
		return
	}
	b := l.m[key]
	if b == nil {
		if len(l.m) >= l.max {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.m[key] = b
	}
	b.tokens, b.at = l.level(b, now)-1, now
}

// sweep drops the buckets that are full again (they mean nothing), and if
// that is not enough, a tenth of the others: a flood of new keys must not
// grow the map without bound. (Dropping a bucket forgives its failures;
// a flood big enough for that is itself slowed by the address limit and
// the hash gate.)
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.m {
		if l.level(b, now) >= l.burst {
			delete(l.m, k)
		}
	}
	drop := len(l.m) - l.max + l.max/10
	for k := range l.m { // map order is random
		if drop <= 0 {
			break
		}
		delete(l.m, k)
		drop--
	}
}

// gate bounds the password hashes computed at once for credentials that
// are not known good, and the checks waiting for one: bcrypt is slow on
// purpose, and a storm of wrong passwords must not take every core from
// the requests of users whose credentials are cached.
type gate struct {
	slots   chan struct{}
	mu      sync.Mutex
	waiting int // guarded by mu
	maxWait int
}

func newGate(slots, maxWait int) *gate {
	return &gate{slots: make(chan struct{}, slots), maxWait: maxWait}
}

// enter waits for a slot. It fails at once with a ThrottledError when
// maxWait checks wait already, and with ctx's error when ctx ends first.
func (g *gate) enter(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	g.mu.Lock()
	if g.waiting >= g.maxWait {
		g.mu.Unlock()
		return &ThrottledError{Wait: time.Second, Why: "too many password checks waiting"}
	}
	g.waiting++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.waiting--
		g.mu.Unlock()
	}()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) leave() { <-g.slots }

// clientAddr is the address a request's failures count against: the
// peer's IP, or, when the peer is a trusted proxy, the nearest address in
// X-Forwarded-For that is not one. IPv6 addresses count by their /64,
// which one host usually has whole.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if isTrusted(ip, trusted) {
		hops := r.Header.Values("X-Forwarded-For")
		var all []string
		for _, h := range hops {
			all = append(all, strings.Split(h, ",")...)
		}
		for i := len(all) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(all[i]))
			if err != nil {
				break
			}
			ip = a.Unmap()
			if !isTrusted(ip, trusted) {
				break
			}
		}
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
