package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Options configure an Authenticator.
type Options struct {
	// CacheTTL is how long a successful check is remembered. A change of
	// the user's password or tokens in the users file ends it at once,
	// whatever the TTL.
	CacheTTL time.Duration
	// CacheEntries bounds the cache; when full, it is emptied.
	CacheEntries int
	// ReloadEvery is how often, at most, the users file is stat'ed to see
	// whether it changed.
	ReloadEvery time.Duration

	// UserFailures is how many failed checks in a row a user name may
	// have before further checks for it are refused (ThrottledError)
	// without looking at the password; it earns one more every
	// UserFailureEvery. Unknown names count like known ones. 0: no limit.
	UserFailures     int
	UserFailureEvery time.Duration
	// AddrFailures and AddrFailureEvery are the same per client address
	// (an IPv4 address, an IPv6 /64).
	AddrFailures     int
	AddrFailureEvery time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// address (a reverse proxy in front of the server); nil: the peer is
	// the client.
	TrustedProxies []netip.Prefix
	// MaxHashes bounds the password hashes (bcrypt) computed at once for
	// credentials that are not in the cache, and MaxHashWaiting the checks
	// that may wait for one; beyond, a check is refused (ThrottledError).
	// Checks of cached credentials compute no hash and never wait.
	// MaxHashes 0: no bound.
	MaxHashes      int
	MaxHashWaiting int

	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// Compare checks a password against its bcrypt hash (tests); nil
	// means bcrypt.CompareHashAndPassword.
	Compare func(hash, password []byte) error
}

// DefaultOptions returns the defaults: 10 failures per user name, then
// one every 30 s; 20 per address, then one every 6 s; half the CPUs
// (at least one) computing password hashes, 16 checks waiting.
func DefaultOptions() Options {
	return Options{
		CacheTTL: time.Minute, CacheEntries: 10000, ReloadEvery: time.Second,
		UserFailures: 10, UserFailureEvery: 30 * time.Second,
		AddrFailures: 20, AddrFailureEvery: 6 * time.Second,
		MaxHashes: max(1, runtime.GOMAXPROCS(0)/2), MaxHashWaiting: 16,
	}
}

// Validate rejects unusable options.
func (o Options) Validate() error {
	switch {
	case o.CacheTTL < 0:
		return fmt.Errorf("auth: negative CacheTTL %v", o.CacheTTL)
	case o.CacheEntries < 0:
		return fmt.Errorf("auth: negative CacheEntries %d", o.CacheEntries)
	case o.ReloadEvery < 0:
		return fmt.Errorf("auth: negative ReloadEvery %v", o.ReloadEvery)
	case o.UserFailures < 0 || o.AddrFailures < 0:
		return fmt.Errorf("auth: negative UserFailures %d or AddrFailures %d", o.UserFailures, o.AddrFailures)
	case o.UserFailures > 0 && o.UserFailureEvery <= 0, o.AddrFailures > 0 && o.AddrFailureEvery <= 0:
		return fmt.Errorf("auth: UserFailureEvery %v and AddrFailureEvery %v must be positive with their limits", o.UserFailureEvery, o.AddrFailureEvery)
	case o.MaxHashes < 0 || o.MaxHashWaiting < 0:
		return fmt.Errorf("auth: negative MaxHashes %d or MaxHashWaiting %d", o.MaxHashes, o.MaxHashWaiting)
	}
	return nil
}

// maxLimitEntries bounds each table of failure counts.
const maxLimitEntries = 100000

// Authenticator checks the credentials of HTTP requests against a users
// file. It is safe for concurrent use.
type Authenticator struct {
	file   *File
	opts   Options
	secret [32]byte // keys the cache: its keys say nothing without it
	gate   *gate    // nil: no bound on hashing

	mu sync.Mutex // guards the fields below
	// users is the last loaded content; tokens indexes its token hashes.
	users     *Users
	tokens    map[string]string // token sha256 -> user
	stamp     fileStamp
	loadErr   error     // why the file at stamp could not be loaded
	checked   time.Time // when stamp was last compared with the file
	cache     map[[32]byte]cached
	dummyCost int // the bcrypt cost of most users' hashes
	byUser    *limiter
	byAddr    *limiter

	dummyMu sync.Mutex
	dummies map[int][]byte // bcrypt hashes to compare against for unknown users, by cost
}

type cached struct {
	user    string
	proof   string // the stored hash that the credentials matched
	expires time.Time
}

// fileStamp tells whether the users file changed.
type fileStamp struct {
	exists     bool
	dev, ino   uint64
	size       int64
	mtime, ctm int64
}

// NewAuthenticator returns an authenticator over the users file at path.
// The file is read on first use, and again whenever it changes.
func NewAuthenticator(path string, opts Options) (*Authenticator, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Compare == nil {
		opts.Compare = bcrypt.CompareHashAndPassword
	}
	a := &Authenticator{file: NewFile(path), opts: opts, cache: map[[32]byte]cached{},
		byUser:  newLimiter(opts.UserFailures, opts.UserFailureEvery, maxLimitEntries),
		byAddr:  newLimiter(opts.AddrFailures, opts.AddrFailureEvery, maxLimitEntries),
		dummies: map[int][]byte{bcrypt.DefaultCost: []byte(dummyHash)}}
	if _, err := rand.Read(a.secret[:]); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if opts.MaxHashes > 0 {
		a.gate = newGate(opts.MaxHashes, opts.MaxHashWaiting)
	}
	if err := a.reload(true); err != nil {
		return nil, err
	}
	return a, nil
}

// Authenticate checks the Authorization header of r. ok is false for
// missing, malformed or wrong credentials; err is set when the check
// itself failed (an unreadable users file), and is a *ThrottledError when
// the check was refused for too many failures or too much hashing.
//
// Credentials that checked out lately come from the cache, before any
// limit: a user who logged in keeps working through a storm of failures
// from others. The limits come next, before the password is looked at,
// and alike for user names that exist and those that do not; so does the
// hash: an unknown user's password is compared against a dummy hash of
// the same cost, so that neither the answer nor its time tells which
// names exist.
func (a *Authenticator) Authenticate(r *http.Request) (user string, ok bool, err error) {
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	cred = strings.TrimSpace(cred)
	var key [32]byte
	var name, pw string
	switch {
	case strings.EqualFold(scheme, "Basic"):
		var okb bool
		if name, pw, okb = r.BasicAuth(); !okb {
			return "", false, nil
		}
		key = a.credKey("basic\x00" + name + "\x00" + pw)
	case strings.EqualFold(scheme, "Bearer") && cred != "":
		key = a.credKey("bearer\x00" + cred)
	default:
		return "", false, nil
	}
	// A changed users file takes effect before any cached answer is
	// trusted: a deleted user or an old password is not served from the
	// cache.
	if err := a.reload(false); err != nil {
		return "", false, err
	}
	if u, hit := a.lookupCache(key); hit {
		return u, true, nil
	}
	now := a.opts.Now()
	addr := clientAddr(r, a.opts.TrustedProxies)
	if err := a.throttled(name, addr, now); err != nil {
		return "", false, err
	}
	var proof string
	if name != "" {
		if user, proof, ok, err = a.checkBasic(r.Context(), name, pw); err != nil {
			return "", false, err
		}
	} else {
		proof = tokenHash(cred)
		a.mu.Lock()
		user, ok = a.tokens[proof]
		a.mu.Unlock()
	}
	if !ok {
		a.failed(name, addr, now)
		return "", false, nil
	}
	a.store(key, user, proof)
	return user, true, nil
}

// credKey is the cache key of credentials: an HMAC under a secret of the
// process, so that a key is no shortcut for guessing the password.
func (a *Authenticator) credKey(cred string) [32]byte {
	m := hmac.New(sha256.New, a.secret[:])
	m.Write([]byte(cred))
	var k [32]byte
	m.Sum(k[:0])
	return k
}

// throttled refuses a check when the user name or the address failed too
// often lately.
func (a *Authenticator) throttled(name, addr string, now time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var wu time.Duration
	if name != "" {
		wu = a.byUser.wait(name, now)
	}
	wa := a.byAddr.wait(addr, now)
	switch {
	case wu == 0 && wa == 0:
		return nil
	case wu >= wa:
		return &ThrottledError{Wait: wu, Why: "failures for the user name"}
	default:
		return &ThrottledError{Wait: wa, Why: "failures from the address " + addr}
	}
}

func (a *Authenticator) failed(name, addr string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if name != "" {
		a.byUser.fail(name, now)
	}
	a.byAddr.fail(addr, now)
}

// Groups returns the groups of a user as the users file lists them now
// (nil for a user without groups, or one the file does not list). It
// re-reads a changed file like Authenticate does.
func (a *Authenticator) Groups(user string) ([]string, error) {
	if err := a.reload(false); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.users.Groups(user), nil
}

// checkBasic checks a user's password or, as an app password, one of the
// user's tokens, and returns what the credentials matched. The password
// hash waits for the gate.
func (a *Authenticator) checkBasic(ctx context.Context, name, pw string) (user, proof string, ok bool, err error) {
	th := tokenHash(pw)
	a.mu.Lock()
	usr := a.users.Users[name]
	owner, isToken := a.tokens[th]
	cost := a.dummyCost
	a.mu.Unlock()
	if usr != nil && isToken && owner == name {
		return name, th, true, nil
	}
	hash := a.dummyHash(cost)
	if usr != nil && usr.Password != "" {
		hash = []byte(usr.Password)
	}
	if a.gate != nil {
		if err := a.gate.enter(ctx); err != nil {
			return "", "", false, err
		}
		defer a.gate.leave()
	}
	match := a.opts.Compare(hash, []byte(pw)) == nil
	if usr == nil || usr.Password == "" || !match {
		return "", "", false, nil
	}
	return name, usr.Password, true, nil
}

// dummyHash is the hash for unknown users' passwords: of the cost most
// users' hashes have, so that checking it takes as long. The one of the
// default cost is a constant (no hash to compute at start-up); others are
// made on first use.
func (a *Authenticator) dummyHash(cost int) []byte {
	a.dummyMu.Lock()
	defer a.dummyMu.Unlock()
	if h, ok := a.dummies[cost]; ok {
		return h
	}
	var pw [32]byte
	rand.Read(pw[:])
	h, err := bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(pw[:])), cost)
	if err != nil {
		return a.dummies[bcrypt.DefaultCost]
	}
	a.dummies[cost] = h
	return h
}

// dummyHash is a bcrypt hash (cost 10) of 32 random bytes nobody kept.
const dummyHash = "$2a$10$2.8mh21shc19XX94xXj2suH9GuZ4FHRkiRnAhSvj9tdofqUp8QYlK"

func (a *Authenticator) lookupCache(key [32]byte) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.cache[key]
	if !ok || !a.opts.Now().Before(c.expires) || !a.proofHolds(c.user, c.proof) {
		return "", false
	}
	return c.user, true
}

// proofHolds reports whether the users file still holds the hash that a
// user's credentials matched: the password, or the token, is unchanged.
func (a *Authenticator) proofHolds(user, proof string) bool {
	usr := a.users.Users[user]
	if usr == nil {
		return false
	}
	if usr.Password == proof {
		return true
	}
	return a.tokens[proof] == user
}

func (a *Authenticator) store(key [32]byte, user, proof string) {
	if a.opts.CacheTTL == 0 || a.opts.CacheEntries == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= a.opts.CacheEntries {
		clear(a.cache)
	}
	a.cache[key] = cached{user: user, proof: proof, expires: a.opts.Now().Add(a.opts.CacheTTL)}
}

// reload re-reads the users file if its stamp changed; unless force, it
// looks at most once per ReloadEvery. A file that cannot be read fails
// every check until it can be (the previous users are not trusted on).
func (a *Authenticator) reload(force bool) error {
	now := a.opts.Now()
	a.mu.Lock()
	if !force && a.users != nil && now.Sub(a.checked) < a.opts.ReloadEvery {
		err := a.loadErr
		a.mu.Unlock()
		return err
	}
	old, oldErr := a.stamp, a.loadErr
	a.checked = now
	a.mu.Unlock()

	st, err := stampOf(a.file.path)
	if err == nil && !force && st == old {
		return oldErr
	}
	var users *Users
	if err == nil {
		users, err = a.file.Load()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// The cache stays: each entry is checked against the file it now
	// holds (proofHolds), so that adding a user does not make every
	// client pay for a hash again.
	a.stamp, a.loadErr = st, err
	if err != nil {
		a.users, a.tokens = &Users{}, nil
		return err
	}
	tokens := map[string]string{}
	costs := map[int]int{}
	for name, u := range users.Users {
		for _, t := range u.Tokens {
			tokens[t.SHA256] = name
		}
		if c, err := bcrypt.Cost([]byte(u.Password)); err == nil {
			costs[c]++
		}
	}
	a.dummyCost = bcrypt.DefaultCost
	for c, n := range costs {
		if n > costs[a.dummyCost] || n == costs[a.dummyCost] && c > a.dummyCost {
			a.dummyCost = c
		}
	}
	a.users, a.tokens = users, tokens
	return nil
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, fmt.Errorf("auth: stat users file: %w", err)
	}
	st := fileStamp{exists: true, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if s, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.dev, st.ino = uint64(s.Dev), s.Ino
		st.ctm = s.Ctim.Nano()
	}
	return st, nil
}
