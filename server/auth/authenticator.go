package auth

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Options configure an Authenticator.
type Options struct {
	// CacheTTL is how long a successful check is remembered. Changing the
	// users file drops the cache at once, whatever the TTL.
	CacheTTL time.Duration
	// CacheEntries bounds the cache; when full, it is emptied.
	CacheEntries int
	// ReloadEvery is how often, at most, the users file is stat'ed to see
	// whether it changed.
	ReloadEvery time.Duration
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{CacheTTL: time.Minute, CacheEntries: 10000, ReloadEvery: time.Second}
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
	}
	return nil
}

// Authenticator checks the credentials of HTTP requests against a users
// file. It is safe for concurrent use.
type Authenticator struct {
	file *File
	opts Options

	mu sync.Mutex // guards the fields below
	// users is the last loaded content; tokens indexes its token hashes.
	users   *Users
	tokens  map[string]string // token sha256 -> user
	stamp   fileStamp
	loadErr error     // why the file at stamp could not be loaded
	checked time.Time // when stamp was last compared with the file
	cache   map[[32]byte]cached

	dummyOnce sync.Once
	dummy     []byte // a bcrypt hash to compare against for unknown users
}

type cached struct {
	user    string
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
	a := &Authenticator{file: NewFile(path), opts: opts}
	if err := a.reload(true); err != nil {
		return nil, err
	}
	return a, nil
}

// Authenticate checks the Authorization header of r. ok is false for
// missing, malformed or wrong credentials; err is set only when the check
// itself failed (an unreadable users file).
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
		key = sha256.Sum256([]byte("basic\x00" + name + "\x00" + pw))
	case strings.EqualFold(scheme, "Bearer") && cred != "":
		key = sha256.Sum256([]byte("bearer\x00" + cred))
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
	if name != "" {
		if !a.checkBasic(name, pw) {
			return "", false, nil
		}
		user = name
	} else {
		a.mu.Lock()
		user, ok = a.tokens[tokenHash(cred)]
		a.mu.Unlock()
		if !ok {
			return "", false, nil
		}
	}
	a.store(key, user)
	return user, true, nil
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
// user's tokens.
func (a *Authenticator) checkBasic(name, pw string) bool {
	a.mu.Lock()
	usr := a.users.Users[name]
	owner, isToken := a.tokens[tokenHash(pw)]
	a.mu.Unlock()
	if usr != nil && isToken && owner == name {
		return true
	}
	hash := []byte(a.dummyHash())
	if usr != nil && usr.Password != "" {
		hash = []byte(usr.Password)
	}
	match := bcrypt.CompareHashAndPassword(hash, []byte(pw)) == nil
	return usr != nil && usr.Password != "" && match
}

func (a *Authenticator) dummyHash() []byte {
	a.dummyOnce.Do(func() {
		a.dummy, _ = bcrypt.GenerateFromPassword([]byte("s3dfs timing equaliser"), bcrypt.DefaultCost)
	})
	return a.dummy
}

func (a *Authenticator) lookupCache(key [32]byte) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.cache[key]
	if !ok || !a.opts.Now().Before(c.expires) {
		return "", false
	}
	return c.user, true
}

func (a *Authenticator) store(key [32]byte, user string) {
	if a.opts.CacheTTL == 0 || a.opts.CacheEntries == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= a.opts.CacheEntries {
		clear(a.cache)
	}
	a.cache[key] = cached{user: user, expires: a.opts.Now().Add(a.opts.CacheTTL)}
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
	a.stamp, a.loadErr = st, err
	a.cache = map[[32]byte]cached{}
	if err != nil {
		a.users, a.tokens = &Users{}, nil
		return err
	}
	tokens := map[string]string{}
	for name, u := range users.Users {
		for _, t := range u.Tokens {
			tokens[t.SHA256] = name
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
