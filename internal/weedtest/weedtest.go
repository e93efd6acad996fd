package weedtest

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/s3dfs/s3dfs/internal/s3test"
)

// Server is the SeaweedFS of a test: its S3 gateway with a fresh bucket,
// and its filer for mounts.
type Server struct {
	S3    s3test.Config
	Filer string // host:httpport.grpcport
}

// pkg is the per-test-binary state, as in s3test.
var pkg struct {
	mu       sync.Mutex
	managed  bool
	mini     *Mini
	dir      string
	startErr error
	ext      *extConfig // the environment, read once
}

// Main runs the tests of a package that uses Shared or NewMount and
// returns the exit code; it stops the weed mini that Shared started.
func Main(m *testing.M) int { return Wrap(m.Run) }

// Wrap is Main for a TestMain that has more to wrap around the tests (such
// as s3test.Main):
//
//	os.Exit(weedtest.Wrap(func() int { return s3test.Main(m) }))
func Wrap(run func() int) int {
	pkg.mu.Lock()
	pkg.managed = true
	pkg.mu.Unlock()
	code := run()
	pkg.mu.Lock()
	defer pkg.mu.Unlock()
	if pkg.mini != nil {
		if err := pkg.mini.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	if pkg.dir != "" {
		os.RemoveAll(pkg.dir)
	}
	return code
}

// shared returns the S3 settings (without bucket) and the filer of the
// shared server, starting it on first use.
func shared() (s3test.Config, string, error) {
	// The environment is read once: tests blank the S3DFS_S3_* variables
	// (the store flags' environment) once they have their server.
	pkg.mu.Lock()
	if pkg.ext == nil {
		c, filer, err := external()
		pkg.ext = &extConfig{c, filer, err}
	}
	ext := *pkg.ext
	pkg.mu.Unlock()
	if ext.filer != "" || ext.err != nil {
		return ext.cfg, ext.filer, ext.err
	}
	return startShared()
}

type extConfig struct {
	cfg   s3test.Config
	filer string
	err   error
}

// external reads S3DFS_WEED_FILER and the S3DFS_S3_* variables of its S3
// gateway; filer is empty when none is set.
func external() (s3test.Config, string, error) {
	if filer := os.Getenv("S3DFS_WEED_FILER"); filer != "" {
		c := s3test.Config{
			Endpoint:  os.Getenv("S3DFS_S3_ENDPOINT"),
			AccessKey: os.Getenv("S3DFS_S3_ACCESS_KEY"),
			SecretKey: os.Getenv("S3DFS_S3_SECRET_KEY"),
			Region:    os.Getenv("S3DFS_S3_REGION"),
		}
		if c.Endpoint == "" || c.AccessKey == "" || c.SecretKey == "" {
			return c, "", fmt.Errorf("weedtest: S3DFS_WEED_FILER is set, but not S3DFS_S3_ENDPOINT and its keys")
		}
		if c.Region == "" {
			c.Region = "us-east-1"
		}
		return c, filer, nil
	}
	return s3test.Config{}, "", nil
}

// startShared starts the binary's weed mini on first use.
func startShared() (s3test.Config, string, error) {
	pkg.mu.Lock()
	defer pkg.mu.Unlock()
	if !pkg.managed {
		return s3test.Config{}, "", fmt.Errorf("weedtest: no server: call weedtest.Main from TestMain, or set S3DFS_WEED_FILER")
	}
	if pkg.startErr != nil {
		return s3test.Config{}, "", pkg.startErr
	}
	if pkg.mini == nil {
		dir, err := os.MkdirTemp("", "s3dfs-weedtest-*")
		if err != nil {
			pkg.startErr = err
			return s3test.Config{}, "", err
		}
		m, err := StartMini(dir)
		if err != nil {
			os.RemoveAll(dir)
			pkg.startErr = err
			return s3test.Config{}, "", err
		}
		pkg.mini, pkg.dir = m, dir
	}
	m := pkg.mini
	return s3test.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Region: m.Region}, m.Filer, nil
}

// Shared returns the test's SeaweedFS, with a bucket of its own. It fails
// the test (never skips it) when no server can be had.
func Shared(t testing.TB) Server {
	t.Helper()
	cfg, filer, err := shared()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Bucket = s3test.BucketName(t.Name())
	client, err := cfg.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
		t.Fatalf("weedtest: create bucket %s on %s: %v", cfg.Bucket, cfg.Endpoint, err)
	}
	return Server{S3: cfg, Filer: filer}
}

// NewMount mounts filerPath of the shared server's filer for the test and
// returns the mount point; it is unmounted when the test ends. Every call
// is a mount of its own, as another host's would be.
func NewMount(t testing.TB, filerPath string) string {
	t.Helper()
	_, filer, err := shared()
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	dir, cache := filepath.Join(base, "mnt"), filepath.Join(base, "cache")
	for _, d := range []string{dir, cache} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m, err := StartMount(filer, path.Clean("/"+filerPath), dir, cache)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Error(err)
		}
	})
	return dir
}
