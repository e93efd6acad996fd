package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Errors of the users file.
var (
	// ErrNoUser: the user does not exist.
	ErrNoUser = errors.New("auth: no such user")
	// ErrUserExists: a user with that name exists already.
	ErrUserExists = errors.New("auth: user exists")
	// ErrInvalidUser: a user name that cannot be used (see ValidateName).
	ErrInvalidUser = errors.New("auth: invalid user name")
	// ErrInvalidPassword: an empty or overlong password.
	ErrInvalidPassword = errors.New("auth: invalid password")
	// ErrInvalidGroup: a group name that cannot be used (the rules of
	// ValidateName).
	ErrInvalidGroup = errors.New("auth: invalid group name")
	// ErrCorrupt: the users file is not what this package writes.
	ErrCorrupt = errors.New("auth: corrupt users file")
)

// FormatVersion is the version of the users file this package writes.
const FormatVersion = 1

// MaxNameLen bounds a user name, which appears in URLs and space names.
const MaxNameLen = 64

// ValidateName reports whether name can name a user: 1 to MaxNameLen
// bytes of ASCII letters, digits, '.', '_', '-' and '@', not starting with
// '.' or '-'. User names appear in URL paths (/dav/files/NAME/), so the set
// is kept to characters that never need escaping and never mean anything
// to a path.
func ValidateName(name string) error {
	if name == "" || len(name) > MaxNameLen || name[0] == '.' || name[0] == '-' {
		return fmt.Errorf("%w: %q (1 to %d characters, not starting with '.' or '-')", ErrInvalidUser, name, MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' || c == '@') {
			return fmt.Errorf("%w: %q (letters, digits, '.', '_', '-' and '@' only)", ErrInvalidUser, name)
		}
	}
	return nil
}

// Users is the content of a users file.
type Users struct {
	Version int              `json:"version"`
	Users   map[string]*User `json:"users"`
}

// User is one user's credentials.
type User struct {
	// Password is a bcrypt hash; empty for a user who can log in with app
	// tokens only.
	Password string  `json:"password,omitempty"`
	Tokens   []Token `json:"tokens,omitempty"`
	// Groups the user belongs to, sorted, without duplicates: grants to
	// "group:NAME" apply to their members.
	Groups []string `json:"groups,omitempty"`
}

// Token is a stored app token: its hash, never the token.
type Token struct {
	// ID is the first 8 hex digits of the hash: enough to tell tokens
	// apart in listings and to revoke one.
	ID      string    `json:"id"`
	SHA256  string    `json:"sha256"`
	Created time.Time `json:"created"`
}

// Names returns the user names, sorted.
func (u *Users) Names() []string {
	out := make([]string, 0, len(u.Users))
	for n := range u.Users {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Add creates a user with a password hashed at the given bcrypt cost (0:
// bcrypt.DefaultCost).
func (u *Users) Add(name, password string, cost int) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if _, ok := u.Users[name]; ok {
		return fmt.Errorf("%w: %s", ErrUserExists, name)
	}
	hash, err := hashPassword(password, cost)
	if err != nil {
		return err
	}
	if u.Users == nil {
		u.Users = map[string]*User{}
	}
	u.Users[name] = &User{Password: hash}
	return nil
}

// SetPassword replaces a user's password.
func (u *Users) SetPassword(name, password string, cost int) error {
	usr, ok := u.Users[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoUser, name)
	}
	hash, err := hashPassword(password, cost)
	if err != nil {
		return err
	}
	usr.Password = hash
	return nil
}

// SetGroups replaces the groups a user belongs to (none for an empty
// list). Group names follow the rules of user names (ValidateName).
func (u *Users) SetGroups(name string, groups []string) error {
	usr, ok := u.Users[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoUser, name)
	}
	gs, err := normalizeGroups(groups)
	if err != nil {
		return err
	}
	usr.Groups = gs
	return nil
}

// Groups returns the groups of a user (nil for an unknown user).
func (u *Users) Groups(name string) []string {
	if usr, ok := u.Users[name]; ok {
		return slices.Clone(usr.Groups)
	}
	return nil
}

// normalizeGroups validates group names and returns them sorted and
// without duplicates (nil for none).
func normalizeGroups(groups []string) ([]string, error) {
	var out []string
	for _, g := range groups {
		if err := ValidateName(g); err != nil {
			return nil, fmt.Errorf("%w: group %q (letters, digits, '.', '_', '-' and '@', not starting with '.' or '-')", ErrInvalidGroup, g)
		}
		out = append(out, g)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Delete removes a user and all of the user's tokens. The user's spaces
// stay.
func (u *Users) Delete(name string) error {
	if _, ok := u.Users[name]; !ok {
		return fmt.Errorf("%w: %s", ErrNoUser, name)
	}
	delete(u.Users, name)
	return nil
}

// NewToken creates an app token for a user and returns it; only its hash
// is kept.
func (u *Users) NewToken(name string, now time.Time) (string, error) {
	usr, ok := u.Users[name]
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrNoUser, name)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	sum := tokenHash(tok)
	usr.Tokens = append(usr.Tokens, Token{ID: sum[:8], SHA256: sum, Created: now.UTC().Truncate(time.Second)})
	return tok, nil
}

// RevokeToken removes a user's token by its ID.
func (u *Users) RevokeToken(name, id string) error {
	usr, ok := u.Users[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoUser, name)
	}
	n := len(usr.Tokens)
	usr.Tokens = slices.DeleteFunc(usr.Tokens, func(t Token) bool { return t.ID == id })
	if len(usr.Tokens) == n {
		return fmt.Errorf("%w: user %s has no token %s", ErrNoUser, name, id)
	}
	return nil
}

// tokenPrefix marks s3dfs app tokens, so that secret scanners can find
// leaked ones.
const tokenPrefix = "s3dfs_"

func tokenHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// maxPasswordLen is bcrypt's limit: longer input is an error in x/crypto.
const maxPasswordLen = 72

func hashPassword(pw string, cost int) (string, error) {
	if pw == "" || len(pw) > maxPasswordLen {
		return "", fmt.Errorf("%w: 1 to %d bytes", ErrInvalidPassword, maxPasswordLen)
	}
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return string(h), nil
}

func (u *Users) validate() error {
	if u.Version != FormatVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrCorrupt, u.Version, FormatVersion)
	}
	for name, usr := range u.Users {
		if err := ValidateName(name); err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if usr == nil {
			return fmt.Errorf("%w: user %q is null", ErrCorrupt, name)
		}
		for _, t := range usr.Tokens {
			if len(t.SHA256) != 64 {
				return fmt.Errorf("%w: user %q has a malformed token hash", ErrCorrupt, name)
			}
		}
		for _, g := range usr.Groups {
			if ValidateName(g) != nil {
				return fmt.Errorf("%w: user %q has a malformed group name %q", ErrCorrupt, name, g)
			}
		}
	}
	return nil
}

// File is a users file on disk. Its methods are safe for concurrent use by
// several processes.
type File struct {
	path string
}

// NewFile returns the users file at path (which need not exist yet).
func NewFile(path string) *File { return &File{path: path} }

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// Load reads the file; a missing file is an empty set of users.
func (f *File) Load() (*Users, error) {
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Users{Version: FormatVersion, Users: map[string]*User{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("auth: read users file: %w", err)
	}
	var u Users
	if err := json.Unmarshal(data, &u); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, f.path, err)
	}
	if u.Users == nil {
		u.Users = map[string]*User{}
	}
	if err := u.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return &u, nil
}

// Update changes the file: fn gets the current users and may modify them;
// if it returns nil, the result replaces the file atomically. The whole
// read-modify-write holds an exclusive lock on "<file>.lock".
func (f *File) Update(fn func(*Users) error) error {
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	lf, err := os.OpenFile(f.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("auth: lock users file: %w", err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("auth: lock users file: %w", err)
	}
	u, err := f.Load()
	if err != nil {
		return err
	}
	if err := fn(u); err != nil {
		return err
	}
	u.Version = FormatVersion
	data, err := json.MarshalIndent(u, "", "  ")
	if err != nil {
		return fmt.Errorf("auth: encode users: %w", err)
	}
	return writeAtomic(f.path, append(data, '\n'))
}

func writeAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("auth: write users file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("auth: write users file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("auth: write users file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("auth: write users file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("auth: write users file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("auth: write users file: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync() // make the rename durable; best effort
		d.Close()
	}
	return nil
}
