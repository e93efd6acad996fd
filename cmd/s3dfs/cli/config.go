package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/s3dfs/s3dfs/blobstore/posix"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
	"github.com/s3dfs/s3dfs/storeid"
)

// storeConfig is what selects and opens the stores: the persistent flags
// of every command that touches them (fs, and later serve, check, bench).
// A flag set on the command line beats its environment variable, which
// beats the flag's default.
type storeConfig struct {
	root       string
	blobstore  choice
	blobDir    string
	s3         s3Config
	durability choice
	cacheMode  choice
	space      string

	// cacheBytes, if set, replaces the default cache budgets: a command
	// that does a few operations and exits needs no 300 MiB of caches
	// (whose counters alone cost tens of MiB and milliseconds to set up).
	cacheBytes int64
}

type s3Config struct {
	endpoint     string
	bucket       string
	accessKey    string
	secretKey    string
	region       string
	tls          bool
	pathStyle    bool
	createBucket bool
	partSize     byteSize
	// The deadlines of every S3 request (s3.Options).
	dialTimeout, responseTimeout, idleTimeout time.Duration
}

// storeFlags are the names of the store flags. Each can also be set by an
// environment variable named by envVar.
var storeFlags = []string{
	"root", "blobstore", "blob-dir",
	"s3-endpoint", "s3-bucket", "s3-access-key", "s3-secret-key", "s3-region",
	"s3-tls", "s3-path-style", "s3-create-bucket", "s3-part-size",
	"s3-dial-timeout", "s3-response-timeout", "s3-idle-timeout",
	"durability", "cache-mode", "space",
}

// envVar is the environment variable of a flag: --s3-endpoint is
// S3DFS_S3_ENDPOINT.
func envVar(flag string) string {
	return "S3DFS_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// envHelp explains the environment variables once, for a command's Long.
const envHelp = `Every store flag can also be set by an environment variable: S3DFS_ and the
flag's name in upper case with "_" for "-" (--s3-endpoint: S3DFS_S3_ENDPOINT).
A flag on the command line beats its variable.`

// addFlags registers the store flags (as persistent flags of a command).
func (c *storeConfig) addFlags(fs *pflag.FlagSet) {
	s3d := s3.DefaultOptions()
	c.blobstore = newChoice("", "posix", "s3")
	c.durability = newChoice("none", "none", "fsync")
	c.cacheMode = newChoice("strict", "strict", "relaxed")
	c.s3.partSize = byteSize(s3d.PartSize)

	fs.StringVar(&c.root, "root", "", "metadata `DIR` on the shared POSIX volume (required)")
	fs.Var(&c.blobstore, "blobstore", "content store (default s3 if an S3 endpoint is set, else posix)")
	fs.StringVar(&c.blobDir, "blob-dir", "", "posix content `DIR` (default <root>/blobs)")
	fs.StringVar(&c.s3.endpoint, "s3-endpoint", "", "S3 server `HOST:PORT` (an http:// or https:// prefix sets --s3-tls)")
	fs.StringVar(&c.s3.bucket, "s3-bucket", "s3dfs", "S3 `BUCKET`")
	fs.StringVar(&c.s3.accessKey, "s3-access-key", "", "S3 access `KEY`")
	fs.StringVar(&c.s3.secretKey, "s3-secret-key", "", "S3 secret `KEY` (better set in the environment)")
	fs.StringVar(&c.s3.region, "s3-region", s3d.Region, "S3 `REGION` for request signing")
	fs.BoolVar(&c.s3.tls, "s3-tls", false, "use https for S3")
	fs.BoolVar(&c.s3.pathStyle, "s3-path-style", s3d.PathStyle, "path-style bucket addressing (false: virtual-host)")
	fs.Var(&c.s3.partSize, "s3-part-size", "multipart part `SIZE`, in bytes or with KiB/MiB/GiB")
	fs.DurationVar(&c.s3.dialTimeout, "s3-dial-timeout", s3d.DialTimeout, "longest wait for a connection to S3")
	fs.DurationVar(&c.s3.responseTimeout, "s3-response-timeout", s3d.ResponseTimeout,
		"longest wait for the first byte of S3's answer (copies and multipart completions get more, by their size)")
	fs.DurationVar(&c.s3.idleTimeout, "s3-idle-timeout", s3d.IdleTimeout, "longest time S3 may move no byte of a request or answer body")
	fs.Var(&c.durability, "durability", "fsync: flush every write (metadata and posix blobs) before returning")
	fs.Var(&c.cacheMode, "cache-mode", "relaxed: serve cached metadata up to 1s old without stat(2)")
	fs.StringVar(&c.space, "space", "default", "the space: an id, or a name (see 's3dfs fs --help')")
}

// addCreateFlag registers --s3-create-bucket, for the commands that may
// create a store (init, serve --init): only they may create a bucket.
func (c *storeConfig) addCreateFlag(fs *pflag.FlagSet) {
	fs.BoolVar(&c.s3.createBucket, "s3-create-bucket", true, "when creating a store: create its S3 bucket if missing")
}

// applyEnv sets every store flag that the command line left alone from its
// environment variable, if that is set and not empty.
func applyEnv(fs *pflag.FlagSet) error {
	for _, name := range storeFlags {
		f := fs.Lookup(name)
		if f == nil || f.Changed {
			continue
		}
		env := envVar(name)
		v := os.Getenv(env)
		if v == "" {
			continue
		}
		if err := f.Value.Set(v); err != nil {
			return usageErrorf("%s: %v", env, err)
		}
	}
	return nil
}

// storage is an open FS with the stores under it.
type storage struct {
	fs   *decomposedfs.FS
	meta *mpk.Backend
}

// Close closes the FS and the metadata backend. The blob stores hold no
// resources that need closing.
func (s *storage) Close() error {
	return errors.Join(s.fs.Close(), s.meta.Close())
}

// settings are the validated store options, ready for the constructors.
type settings struct {
	meta    mpk.Options
	desc    storeid.BlobStore // the blob store, as the identity names it
	useS3   bool
	posixAt string
	posix   posix.Options
	s3      s3.Options
	fs      decomposedfs.Options
}

// resolve applies the environment and validates the configuration. Its
// errors are usage errors: nothing has been opened yet.
func (c *storeConfig) resolve(flags *pflag.FlagSet) (settings, error) {
	var st settings
	if err := applyEnv(flags); err != nil {
		return st, err
	}
	if c.root == "" {
		return st, usageErrorf("--root is required (or set %s)", envVar("root"))
	}
	dur, err := mpk.ParseDurability(c.durability.value)
	if err != nil {
		return st, usageError(err)
	}
	mode, err := cache.ParseMode(c.cacheMode.value)
	if err != nil {
		return st, usageError(err)
	}
	st.meta = mpk.DefaultOptions(c.root)
	st.meta.Durability = dur
	st.meta.CacheMode = mode
	st.fs = decomposedfs.DefaultOptions()
	st.fs.Lookup.Mode = mode
	if c.cacheBytes > 0 {
		st.meta.CacheBytes = c.cacheBytes
		st.fs.Lookup.CacheBytes = c.cacheBytes / 4
	}

	switch c.blobstore.value {
	case "s3":
		st.useS3 = true
	case "":
		st.useS3 = c.s3.endpoint != ""
	}
	if !st.useS3 {
		st.posixAt = c.blobDir
		if st.posixAt == "" {
			st.posixAt = filepath.Join(c.root, "blobs")
		}
		st.posix = posix.DefaultOptions()
		st.posix.Fsync = dur == mpk.DurabilityFsync
		st.desc = storeid.PosixDir(c.root, st.posixAt)
		return st, nil
	}
	st.s3, err = c.s3Options(flags)
	st.desc = storeid.BlobStore{Kind: storeid.KindS3, Endpoint: st.s3.Endpoint, Bucket: st.s3.Bucket, Prefix: st.s3.Prefix}
	return st, err
}

func (c *storeConfig) s3Options(flags *pflag.FlagSet) (s3.Options, error) {
	o := s3.DefaultOptions()
	o.Endpoint, o.Bucket, o.Region = c.s3.endpoint, c.s3.bucket, c.s3.region
	o.AccessKey, o.SecretKey = c.s3.accessKey, c.s3.secretKey
	o.UseTLS, o.PathStyle, o.CreateBucket = c.s3.tls, c.s3.pathStyle, c.s3.createBucket
	o.PartSize = int64(c.s3.partSize)
	o.DialTimeout, o.ResponseTimeout, o.IdleTimeout = c.s3.dialTimeout, c.s3.responseTimeout, c.s3.idleTimeout

	// People paste URLs; the scheme says whether to use TLS.
	for scheme, tls := range map[string]bool{"http://": false, "https://": true} {
		if rest, ok := strings.CutPrefix(o.Endpoint, scheme); ok {
			if f := flags.Lookup("s3-tls"); (f.Changed || os.Getenv(envVar("s3-tls")) != "") && o.UseTLS != tls {
				return o, usageErrorf("--s3-endpoint %s contradicts --s3-tls=%t", o.Endpoint, o.UseTLS)
			}
			o.Endpoint, o.UseTLS = strings.TrimSuffix(rest, "/"), tls
		}
	}
	switch {
	case o.Endpoint == "":
		return o, usageErrorf("the s3 blob store needs --s3-endpoint (or S3DFS_S3_ENDPOINT)")
	case o.AccessKey == "" || o.SecretKey == "":
		return o, usageErrorf("the s3 blob store needs --s3-access-key and --s3-secret-key (or S3DFS_S3_ACCESS_KEY and S3DFS_S3_SECRET_KEY)")
	case o.PartSize < s3.MinPartSize || o.PartSize > s3.MaxPartSize:
		return o, usageErrorf("--s3-part-size %s is outside 5MiB..5GiB", &c.s3.partSize)
	}
	if err := o.Validate(); err != nil {
		return o, usageError(err)
	}
	return o, nil
}

// open opens the stores and the FS over them.
func (c *storeConfig) open(ctx context.Context, flags *pflag.FlagSet, log *slog.Logger) (*storage, error) {
	st, err := c.resolve(flags)
	if err != nil {
		return nil, err
	}
	meta, blobs, err := openStores(ctx, st, log, mustExist)
	if err != nil {
		return nil, err
	}
	st.fs.Logger = log
	fs, err := decomposedfs.New(meta, blobs, st.fs)
	if err != nil {
		meta.Close()
		return nil, err
	}
	return &storage{fs: fs, meta: meta}, nil
}

// spaceID resolves the --space value. An id must name an existing space.
// A name is, in this order: the project space that the fs commands made
// with that name (its id derives from the name), the personal space of the
// user of that name, or the one space that carries that name. If both of
// the first two exist, the name is ambiguous and an id is needed. Reads
// never create a space; with create (the writes mkdir and put), a name
// that resolves to nothing becomes a new project space of that name.
func (c *storeConfig) spaceID(ctx context.Context, s *storage, create bool) (string, error) {
	spec := c.space
	if spec == "" {
		return "", usageErrorf("--space must not be empty")
	}
	if id := strings.ToLower(spec); metadata.ValidateID(id) == nil {
		if _, err := s.fs.GetSpace(ctx, id); err != nil {
			return "", opError("space", id, err)
		}
		return id, nil
	}
	exists := func(id string) (bool, error) {
		_, err := s.fs.GetSpace(ctx, id)
		if errors.Is(err, decomposedfs.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	named, personal := decomposedfs.NamedSpaceID(spec), decomposedfs.PersonalSpaceID(spec)
	hasNamed, err := exists(named)
	if err != nil {
		return "", opError("space", showPath(spec), err)
	}
	hasPersonal, err := exists(personal)
	if err != nil {
		return "", opError("space", showPath(spec), err)
	}
	switch {
	case hasNamed && hasPersonal:
		return "", &exitError{code: ExitFailure, err: fmt.Errorf("space %s is ambiguous: the project space %s (id %s) and the personal space of user %s (id %s); use an id", showPath(spec), showPath(spec), named, showPath(spec), personal)}
	case hasNamed:
		return named, nil
	case hasPersonal:
		return personal, nil
	}
	spaces, err := s.fs.ListSpaces(ctx, decomposedfs.SpaceFilter{Name: spec})
	if err != nil {
		return "", opError("space", showPath(spec), err)
	}
	switch {
	case len(spaces) == 1:
		return spaces[0].ID, nil
	case len(spaces) > 1:
		return "", &exitError{code: ExitFailure, err: fmt.Errorf("space %s: %d spaces have that name; use an id", showPath(spec), len(spaces))}
	case !create:
		return "", &exitError{code: ExitFailure, err: fmt.Errorf("space %s: not found (fs mkdir and fs put create a project space of that name; 's3dfs fs spaces' lists the spaces)", showPath(spec))}
	}
	si, err := s.fs.EnsureSpace(ctx, decomposedfs.SpaceSpec{
		ID:   named,
		Type: metadata.SpaceProject,
		Name: spec,
	})
	if err != nil {
		return "", opError("space", spec, err)
	}
	return si.ID, nil
}
