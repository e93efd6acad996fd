package auth_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/s3dfs/s3dfs/server/auth"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"alice", "a.b-c_d@example.com", "X1"} {
		if err := auth.ValidateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", ".hidden", "-x", "a/b", "a b", "ü", "a%2f", strings.Repeat("a", 65)} {
		if err := auth.ValidateName(bad); !errors.Is(err, auth.ErrInvalidUser) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "users.json")
	f := auth.NewFile(path)
	u, err := f.Load()
	if err != nil || len(u.Users) != 0 {
		t.Fatalf("missing file: %v %v", u, err)
	}
	var tok string
	err = f.Update(func(u *auth.Users) error {
		if err := u.Add("alice", "pw", bcrypt.MinCost); err != nil {
			return err
		}
		tok, err = u.NewToken("alice", time.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode: %v %v", fi, err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), tok) || strings.Contains(string(data), `"pw"`) {
		t.Errorf("the file holds a secret:\n%s", data)
	}
	for _, tc := range []struct {
		fn   func(*auth.Users) error
		want error
	}{
		{func(u *auth.Users) error { return u.Add("alice", "x", bcrypt.MinCost) }, auth.ErrUserExists},
		{func(u *auth.Users) error { return u.Add("bad/name", "x", bcrypt.MinCost) }, auth.ErrInvalidUser},
		{func(u *auth.Users) error { return u.Add("bob", "", bcrypt.MinCost) }, auth.ErrInvalidPassword},
		{func(u *auth.Users) error { return u.Add("bob", strings.Repeat("p", 73), bcrypt.MinCost) }, auth.ErrInvalidPassword},
		{func(u *auth.Users) error { return u.Delete("nobody") }, auth.ErrNoUser},
		{func(u *auth.Users) error { _, err := u.NewToken("nobody", time.Now()); return err }, auth.ErrNoUser},
		{func(u *auth.Users) error { return u.RevokeToken("alice", "nope") }, auth.ErrNoUser},
	} {
		if err := f.Update(tc.fn); !errors.Is(err, tc.want) {
			t.Errorf("got %v, want %v", err, tc.want)
		}
	}
	// A failed update leaves the file as it was.
	if after, _ := os.ReadFile(path); string(after) != string(data) {
		t.Errorf("a failed update changed the file")
	}
	// Concurrent updates do not lose each other's changes.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.Update(func(u *auth.Users) error { return u.Add("user"+string(rune('a'+i)), "pw", bcrypt.MinCost) }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if u, _ := f.Load(); len(u.Users) != 9 {
		t.Errorf("%d users after concurrent adds: %v", len(u.Users), u.Names())
	}
	os.WriteFile(path, []byte(`{"version": 7, "users": {}}`), 0o600)
	if _, err := f.Load(); !errors.Is(err, auth.ErrCorrupt) {
		t.Errorf("future version: %v", err)
	}
	os.WriteFile(path, []byte(`{`), 0o600)
	if _, err := f.Load(); !errors.Is(err, auth.ErrCorrupt) {
		t.Errorf("torn file: %v", err)
	}
}

func basic(user, pw string) *http.Request {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	r.SetBasicAuth(user, pw)
	return r
}

func bearer(tok string) *http.Request {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func TestAuthenticator(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	f := auth.NewFile(path)
	var tok string
	if err := f.Update(func(u *auth.Users) error {
		u.Add("alice", "pw", bcrypt.MinCost)
		u.Add("bob", "bobpw", bcrypt.MinCost)
		var err error
		tok, err = u.NewToken("alice", time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	a, err := auth.NewAuthenticator(path, auth.Options{CacheTTL: time.Minute, CacheEntries: 10, ReloadEvery: time.Second, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	check := func(r *http.Request, wantUser string, wantOK bool) {
		t.Helper()
		u, ok, err := a.Authenticate(r)
		if err != nil || ok != wantOK || u != wantUser {
			t.Errorf("%v: %q %v %v, want %q %v", r.Header.Get("Authorization"), u, ok, err, wantUser, wantOK)
		}
	}
	check(basic("alice", "pw"), "alice", true)
	check(basic("alice", "pw"), "alice", true) // cached
	check(basic("alice", "wrong"), "", false)
	check(basic("nobody", "pw"), "", false)
	check(basic("alice", tok), "alice", true)
	check(basic("bob", tok), "", false)
	check(bearer(tok), "alice", true)
	check(bearer("s3dfs_nope"), "", false)
	check(bearer(""), "", false)
	r, _ := http.NewRequest("GET", "http://x/", nil)
	check(r, "", false)

	// A changed file takes effect once the stamp is looked at again,
	// cached answers included.
	if err := f.Update(func(u *auth.Users) error { return u.Delete("alice") }); err != nil {
		t.Fatal(err)
	}
	advance(2 * time.Second)
	check(basic("alice", "pw"), "", false)
	check(bearer(tok), "", false)
	check(basic("bob", "bobpw"), "bob", true)
	if err := f.Update(func(u *auth.Users) error { return u.SetPassword("bob", "new", bcrypt.MinCost) }); err != nil {
		t.Fatal(err)
	}
	advance(2 * time.Second)
	check(basic("bob", "bobpw"), "", false)
	check(basic("bob", "new"), "bob", true)

	// An unreadable file is an error, not a refusal.
	os.WriteFile(path, []byte("{"), 0o600)
	advance(2 * time.Second)
	if _, _, err := a.Authenticate(basic("carol", "x")); err == nil {
		t.Errorf("corrupt users file: no error")
	}
}

func TestGroups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	f := auth.NewFile(path)
	if err := f.Update(func(u *auth.Users) error {
		if err := u.Add("alice", "pw", bcrypt.MinCost); err != nil {
			return err
		}
		return u.SetGroups("alice", []string{"staff", "finance", "staff"})
	}); err != nil {
		t.Fatal(err)
	}
	u, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Groups("alice"); !slices.Equal(got, []string{"finance", "staff"}) {
		t.Errorf("groups %v, want sorted and without duplicates", got)
	}
	if got := u.Groups("nobody"); got != nil {
		t.Errorf("groups of an unknown user: %v", got)
	}
	for _, bad := range [][]string{{"a/b"}, {""}, {"-x"}} {
		if err := u.SetGroups("alice", bad); !errors.Is(err, auth.ErrInvalidGroup) {
			t.Errorf("SetGroups(%q): %v", bad, err)
		}
	}
	if err := u.SetGroups("nobody", nil); !errors.Is(err, auth.ErrNoUser) {
		t.Errorf("SetGroups of an unknown user: %v", err)
	}

	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a, err := auth.NewAuthenticator(path, auth.Options{CacheTTL: time.Minute, CacheEntries: 10, ReloadEvery: time.Second, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if g, err := a.Groups("alice"); err != nil || !slices.Equal(g, []string{"finance", "staff"}) {
		t.Errorf("authenticator groups %v, %v", g, err)
	}
	// A change of membership counts once the file is looked at again,
	// although the credentials stay cached.
	if _, ok, _ := a.Authenticate(basic("alice", "pw")); !ok {
		t.Fatal("alice refused")
	}
	if err := f.Update(func(u *auth.Users) error { return u.SetGroups("alice", nil) }); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	if g, err := a.Groups("alice"); err != nil || g != nil {
		t.Errorf("groups after removal %v, %v", g, err)
	}
	// A hand-edited file with a bad group name is corrupt.
	os.WriteFile(path, []byte(`{"version":1,"users":{"bob":{"password":"x","groups":["a/b"]}}}`), 0o600)
	if _, err := f.Load(); !errors.Is(err, auth.ErrCorrupt) {
		t.Errorf("bad group in the file: %v", err)
	}
}
