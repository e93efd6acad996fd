package auth_test

import (
	"errors"
	"net/http"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/s3dfs/s3dfs/server/auth"
)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// compares counts the password hashes an authenticator checks, and the
// cost of each.
type compares struct {
	mu    sync.Mutex
	costs []int
}

func (c *compares) compare(hash, pw []byte) error {
	cost, _ := bcrypt.Cost(hash)
	c.mu.Lock()
	c.costs = append(c.costs, cost)
	c.mu.Unlock()
	return bcrypt.CompareHashAndPassword(hash, pw)
}

func (c *compares) take() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.costs
	c.costs = nil
	return out
}

// throttleEnv is an authenticator over a users file with alice (password
// "alice-pw", cost 6) and the options adjusted.
func throttleEnv(t *testing.T, adjust func(*auth.Options)) (*auth.Authenticator, *clock, *compares) {
	t.Helper()
	return throttleEnvAt(t, filepath.Join(t.TempDir(), "users.json"), adjust)
}

func throttleEnvAt(t *testing.T, path string, adjust func(*auth.Options)) (*auth.Authenticator, *clock, *compares) {
	t.Helper()
	if err := auth.NewFile(path).Update(func(u *auth.Users) error { return u.Add("alice", "alice-pw", 6) }); err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cmp := &compares{}
	o := auth.DefaultOptions()
	o.Now, o.Compare, o.ReloadEvery = clk.Now, cmp.compare, 0
	if adjust != nil {
		adjust(&o)
	}
	a, err := auth.NewAuthenticator(path, o)
	if err != nil {
		t.Fatal(err)
	}
	return a, clk, cmp
}

func basicFrom(addr, user, pass string) *http.Request {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	r.RemoteAddr = addr
	return r
}

// outcome is what a check says, in the terms a client sees.
func outcome(a *auth.Authenticator, r *http.Request) string {
	_, ok, err := a.Authenticate(r)
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		return "throttled"
	case err != nil:
		return "error: " + err.Error()
	case ok:
		return "ok"
	}
	return "wrong"
}

// TestThrottlePerUser: a user name that failed UserFailures times in a row
// is refused without a password check (even the right one) until it earns
// another try, and the earned try is one, not a new burst. Credentials
// that checked out before the spray keep working from the cache.
func TestThrottlePerUser(t *testing.T) {
	const every = time.Hour
	a, clk, cmp := throttleEnv(t, func(o *auth.Options) { o.UserFailureEvery = every })
	if got := outcome(a, basicFrom("192.0.2.1:1000", "alice", "alice-pw")); got != "ok" {
		t.Fatalf("good login: %s", got)
	}
	cmp.take()
	n := auth.DefaultOptions().UserFailures
	for i := range n {
		addr := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).String() + ":4000" // a spray from many addresses
		if got := outcome(a, basicFrom(addr, "alice", "guess")); got != "wrong" {
			t.Fatalf("failure %d: %s", i+1, got)
		}
	}
	if got := len(cmp.take()); got != n {
		t.Errorf("%d password checks for %d failures", got, n)
	}
	if got := outcome(a, basicFrom("203.0.113.9:1", "alice", "guess")); got != "throttled" {
		t.Errorf("after %d failures: %s, want throttled", n, got)
	}
	// The credentials that checked out before are served from the cache.
	if got := outcome(a, basicFrom("192.0.2.1:1000", "alice", "alice-pw")); got != "ok" {
		t.Errorf("cached login during the spray: %s", got)
	}
	if got := len(cmp.take()); got != 0 {
		t.Errorf("%d password checks while throttled or cached, want none", got)
	}
	// Once the cache forgets them, they wait like any others.
	clk.add(auth.DefaultOptions().CacheTTL + time.Second)
	if got := outcome(a, basicFrom("192.0.2.1:1000", "alice", "alice-pw")); got != "throttled" {
		t.Errorf("the right password, not cached, while throttled: %s", got)
	}
	var te *auth.ThrottledError
	if _, _, err := a.Authenticate(basicFrom("203.0.113.9:1", "alice", "x")); !errors.As(err, &te) || te.RetryAfter() <= 0 || te.RetryAfter() > every {
		t.Errorf("throttled error %v: want a wait of at most UserFailureEvery", err)
	}
	clk.add(every)
	if got := outcome(a, basicFrom("203.0.113.9:1", "alice", "guess")); got != "wrong" {
		t.Errorf("after UserFailureEvery: %s, want one more try", got)
	}
	if got := outcome(a, basicFrom("203.0.113.9:1", "alice", "alice-pw")); got != "throttled" {
		t.Errorf("the try after that: %s, want throttled", got)
	}
	clk.add(every)
	if got := outcome(a, basicFrom("203.0.113.10:1", "alice", "alice-pw")); got != "ok" {
		t.Errorf("the right password once a try is earned: %s", got)
	}
}

// TestThrottleUnknownUsersAlike: an unknown user name and a known one give
// the same answers, in the same order, for the same attempts, and each
// answer that checked a password checked a hash of the same cost: neither
// the answers nor their time tell which names exist.
func TestThrottleUnknownUsersAlike(t *testing.T) {
	a, _, cmp := throttleEnv(t, nil)
	seq := func(user string) ([]string, []int) {
		var got []string
		for i := range auth.DefaultOptions().UserFailures + 3 {
			addr := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).String() + ":4000"
			got = append(got, outcome(a, basicFrom(addr, user, "guess")))
		}
		return got, cmp.take()
	}
	known, knownCosts := seq("alice")
	unknown, unknownCosts := seq("mallory")
	if len(known) != len(unknown) {
		t.Fatal("different lengths")
	}
	for i := range known {
		if known[i] != unknown[i] {
			t.Errorf("attempt %d: %s for a known user, %s for an unknown one", i+1, known[i], unknown[i])
		}
	}
	if len(knownCosts) != len(unknownCosts) {
		t.Errorf("%d password checks for a known user, %d for an unknown one", len(knownCosts), len(unknownCosts))
	}
	for i := range min(len(knownCosts), len(unknownCosts)) {
		if knownCosts[i] != 6 || unknownCosts[i] != 6 {
			t.Errorf("check %d: cost %d for a known user, %d for an unknown one; want the users' 6", i+1, knownCosts[i], unknownCosts[i])
		}
	}
}

// TestThrottlePerAddress: an address that failed AddrFailures times, with
// any user names, is refused until it earns a try; other addresses are
// not; an IPv6 host counts by its /64; behind a trusted proxy the
// address is the client's in X-Forwarded-For.
func TestThrottlePerAddress(t *testing.T) {
	proxy := netip.MustParsePrefix("10.0.0.0/8")
	a, clk, _ := throttleEnv(t, func(o *auth.Options) {
		o.TrustedProxies = []netip.Prefix{proxy}
		o.CacheTTL = 0 // every check here looks at the limits
	})
	n := auth.DefaultOptions().AddrFailures
	spray := func(addr string, fwd string) {
		t.Helper()
		for i := range n {
			r := basicFrom(addr, "user"+string(rune('a'+i%26))+string(rune('a'+i/26)), "guess")
			if fwd != "" {
				r.Header.Set("X-Forwarded-For", fwd)
			}
			if got := outcome(a, r); got != "wrong" {
				t.Fatalf("%s (%s) failure %d: %s", addr, fwd, i+1, got)
			}
		}
	}
	spray("192.0.2.7:5555", "")
	if got := outcome(a, basicFrom("192.0.2.7:6666", "alice", "alice-pw")); got != "throttled" {
		t.Errorf("after %d failures from the address: %s, want throttled", n, got)
	}
	if got := outcome(a, basicFrom("192.0.2.8:5555", "alice", "alice-pw")); got != "ok" {
		t.Errorf("another address: %s", got)
	}
	spray("[2001:db8:1:2::1]:443", "")
	if got := outcome(a, basicFrom("[2001:db8:1:2:ffff::9]:443", "alice", "alice-pw")); got != "throttled" {
		t.Errorf("same /64: %s, want throttled", got)
	}
	if got := outcome(a, basicFrom("[2001:db8:1:3::1]:443", "alice", "alice-pw")); got != "ok" {
		t.Errorf("another /64: %s", got)
	}
	// Behind the proxy: the client named by the proxy counts, not the proxy.
	spray("10.1.1.1:80", "198.51.100.77, 10.2.2.2")
	r := basicFrom("10.1.1.1:80", "alice", "alice-pw")
	r.Header.Set("X-Forwarded-For", "198.51.100.78")
	if got := outcome(a, r); got != "ok" {
		t.Errorf("another client behind the proxy: %s", got)
	}
	r.Header.Set("X-Forwarded-For", "198.51.100.77")
	if got := outcome(a, r); got != "throttled" {
		t.Errorf("the sprayer behind the proxy: %s, want throttled", got)
	}
	// An untrusted peer cannot pick its address with the header.
	r = basicFrom("192.0.2.7:1", "alice", "alice-pw")
	r.Header.Set("X-Forwarded-For", "203.0.113.200")
	if got := outcome(a, r); got != "throttled" {
		t.Errorf("X-Forwarded-For from an untrusted peer counted: %s", got)
	}
	clk.add(auth.DefaultOptions().AddrFailureEvery)
	if got := outcome(a, basicFrom("192.0.2.7:6666", "alice", "alice-pw")); got != "ok" {
		t.Errorf("after AddrFailureEvery: %s", got)
	}
}

// TestHashGate: at most MaxHashes password hashes run at once for
// credentials not in the cache, at most MaxHashWaiting checks wait for
// one, and any more are refused at once; cached credentials never wait.
func TestHashGate(t *testing.T) {
	release := make(chan struct{})
	var running, peak atomic.Int32
	entered := make(chan struct{}, 10)
	blocking := false
	var mu sync.Mutex
	a, _, _ := throttleEnv(t, func(o *auth.Options) {
		o.MaxHashes, o.MaxHashWaiting = 1, 1
		o.Compare = func(hash, pw []byte) error {
			mu.Lock()
			block := blocking
			mu.Unlock()
			if block {
				n := running.Add(1)
				if n > peak.Load() {
					peak.Store(n)
				}
				entered <- struct{}{}
				<-release
				running.Add(-1)
			}
			return bcrypt.CompareHashAndPassword(hash, pw)
		}
	})
	if got := outcome(a, basicFrom("192.0.2.1:1", "alice", "alice-pw")); got != "ok" {
		t.Fatalf("good login: %s", got)
	}
	mu.Lock()
	blocking = true
	mu.Unlock()
	results := make(chan string, 3)
	go func() { results <- outcome(a, basicFrom("192.0.2.2:1", "alice", "first")) }()
	<-entered // the first holds the one slot
	// Of two more, one waits and the other is refused at once.
	go func() { results <- outcome(a, basicFrom("192.0.2.3:1", "bob", "second")) }()
	go func() { results <- outcome(a, basicFrom("192.0.2.4:1", "carol", "third")) }()
	if got := <-results; got != "throttled" {
		t.Errorf("with the slot taken and the waiting place too: %s, want throttled", got)
	}
	if got := outcome(a, basicFrom("192.0.2.1:1", "alice", "alice-pw")); got != "ok" {
		t.Errorf("cached login while the hashing is full: %s", got)
	}
	close(release)
	for range 2 {
		if got := <-results; got != "wrong" {
			t.Errorf("a check that got its turn: %s, want wrong", got)
		}
	}
	if peak.Load() != 1 {
		t.Errorf("%d hashes at once, want 1", peak.Load())
	}
}

// TestCacheOutlivesUnrelatedChanges: adding a user does not make the
// clients of others check their passwords again; a new password does.
func TestCacheOutlivesUnrelatedChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	a, _, cmp := throttleEnvAt(t, path, nil)
	if got := outcome(a, basicFrom("192.0.2.1:1", "alice", "alice-pw")); got != "ok" {
		t.Fatal(got)
	}
	cmp.take()
	f := auth.NewFile(path)
	if err := f.Update(func(u *auth.Users) error { return u.Add("bob", "bob-pw", 6) }); err != nil {
		t.Fatal(err)
	}
	if got := outcome(a, basicFrom("192.0.2.1:1", "alice", "alice-pw")); got != "ok" {
		t.Errorf("after adding bob: %s", got)
	}
	if n := len(cmp.take()); n != 0 {
		t.Errorf("adding bob made alice's client check its password again (%d checks)", n)
	}
	if err := f.Update(func(u *auth.Users) error { return u.SetPassword("alice", "new-pw", 6) }); err != nil {
		t.Fatal(err)
	}
	if got := outcome(a, basicFrom("192.0.2.1:1", "alice", "alice-pw")); got != "wrong" {
		t.Errorf("the old password after a change: %s", got)
	}
}
