package s3test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Config tells a test how to reach the S3 server and which bucket is its own.
type Config struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	Region    string
	UseTLS    bool
	Bucket    string // fresh, empty, created for this test
}

// pkg is the per-test-binary state. Main marks the binary as managed; the
// first New starts the server (so that tests needing no S3 start none) and
// Main stops it after the tests ran.
var pkg struct {
	mu       sync.Mutex
	managed  bool    // Main is running
	server   *Server // started by New, stopped by Main
	dir      string  // server's data root, removed by Main
	startErr error   // sticky: one failed start fails every test that needs S3
}

// Main runs the tests of a package that uses New, and returns the exit
// code. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }
//
// Unless S3DFS_S3_ENDPOINT names an external server, the first call to New
// starts one versitygw for the whole test binary; Main stops it at the end.
func Main(m *testing.M) int {
	pkg.mu.Lock()
	pkg.managed = true
	pkg.mu.Unlock()

	code := m.Run()

	pkg.mu.Lock()
	defer pkg.mu.Unlock()
	if pkg.server != nil {
		if err := pkg.server.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		pkg.server = nil
	}
	if pkg.dir != "" {
		if err := os.RemoveAll(pkg.dir); err != nil {
			fmt.Fprintf(os.Stderr, "s3test: remove server data: %v\n", err)
		}
	}
	return code
}

// ServerName names the S3 server the tests run against, for tests that
// know its quirks: S3DFS_S3_SERVER, or "versitygw" (the server New
// starts, and the one scripts/with-s3.sh starts).
func ServerName() string {
	if n := os.Getenv("S3DFS_S3_SERVER"); n != "" {
		return n
	}
	return "versitygw"
}

// external reads the S3DFS_S3_* environment: S3DFS_S3_ENDPOINT (host:port),
// S3DFS_S3_ACCESS_KEY, S3DFS_S3_SECRET_KEY, and optionally S3DFS_S3_REGION
// (default us-east-1) and S3DFS_S3_TLS=1.
func external() (Config, bool) {
	ep := os.Getenv("S3DFS_S3_ENDPOINT")
	if ep == "" {
		return Config{}, false
	}
	c := Config{
		Endpoint:  ep,
		AccessKey: os.Getenv("S3DFS_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("S3DFS_S3_SECRET_KEY"),
		Region:    os.Getenv("S3DFS_S3_REGION"),
		UseTLS:    os.Getenv("S3DFS_S3_TLS") == "1" || os.Getenv("S3DFS_S3_TLS") == "true",
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	return c, true
}

// server returns the connection settings of the shared server, starting it
// on first use.
func server() (Config, error) {
	if c, ok := external(); ok {
		return c, nil
	}
	pkg.mu.Lock()
	defer pkg.mu.Unlock()
	if !pkg.managed {
		return Config{}, fmt.Errorf("s3test: no server: call s3test.Main from TestMain " +
			"(func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }) or set S3DFS_S3_ENDPOINT")
	}
	if pkg.startErr != nil {
		return Config{}, pkg.startErr
	}
	if pkg.server == nil {
		dir, err := os.MkdirTemp("", "s3dfs-s3test-*")
		if err != nil {
			pkg.startErr = fmt.Errorf("s3test: %w", err)
			return Config{}, pkg.startErr
		}
		s, err := StartServer(dir)
		if err != nil {
			os.RemoveAll(dir)
			pkg.startErr = err
			return Config{}, err
		}
		pkg.server, pkg.dir = s, dir
	}
	s := pkg.server
	return Config{Endpoint: s.Endpoint, AccessKey: s.AccessKey, SecretKey: s.SecretKey, Region: s.Region}, nil
}

// New returns the settings of a real S3 server and a bucket created for
// this test alone. It fails the test (never skips it) when no server can be
// had. On an external server the bucket is emptied and removed when the test
// ends; on the managed server it is left to vanish with the server's data.
func New(t testing.TB) Config {
	t.Helper()
	cfg, err := server()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Bucket = BucketName(t.Name())

	client, err := cfg.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
		t.Fatalf("s3test: create bucket %s on %s: %v", cfg.Bucket, cfg.Endpoint, err)
	}
	if _, ok := external(); ok {
		t.Cleanup(func() { removeBucket(t, client, cfg.Bucket) })
	}
	return cfg
}

// NewDedicated starts a versitygw of the test's own, whatever the
// environment says, with a fresh bucket, and returns its settings and the
// server (which the test may Pause and Resume without disturbing other
// tests). It is stopped and its data removed when the test ends.
func NewDedicated(t testing.TB) (Config, *Server) {
	t.Helper()
	dir := t.TempDir()
	s, err := StartServer(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	cfg := Config{Endpoint: s.Endpoint, AccessKey: s.AccessKey, SecretKey: s.SecretKey, Region: s.Region, Bucket: BucketName(t.Name())}
	client, err := cfg.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
		t.Fatalf("s3test: create bucket %s on %s: %v", cfg.Bucket, cfg.Endpoint, err)
	}
	return cfg, s
}

// Client returns a plain minio-go client for cfg, for tests that need to
// look at the bucket behind a store's back.
func (cfg Config) Client() (*minio.Client, error) {
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       cfg.UseTLS,
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("s3test: client for %s: %w", cfg.Endpoint, err)
	}
	return c, nil
}

func removeBucket(t testing.TB, c *minio.Client, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	objects := make(chan minio.ObjectInfo)
	go func() {
		defer close(objects)
		for o := range c.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
			if o.Err != nil {
				t.Logf("s3test: list %s for cleanup: %v", bucket, o.Err)
				return
			}
			objects <- o
		}
	}()
	for e := range c.RemoveObjects(ctx, bucket, objects, minio.RemoveObjectsOptions{}) {
		t.Logf("s3test: cleanup %s/%s: %v", bucket, e.ObjectName, e.Err)
	}
	if err := c.RemoveBucket(ctx, bucket); err != nil {
		t.Logf("s3test: remove bucket %s: %v", bucket, err)
	}
}

// BucketName turns a test name into a valid, unique S3 bucket name: lower
// case letters, digits and single hyphens, at most 63 characters, ending in
// a random suffix.
func BucketName(testName string) string {
	var b strings.Builder
	hyphen := true // suppresses leading and repeated hyphens
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			hyphen = false
		case !hyphen:
			b.WriteByte('-')
			hyphen = true
		}
		if b.Len() >= 44 {
			break
		}
	}
	name := strings.TrimRight(b.String(), "-")
	if name == "" {
		name = "test"
	}
	return name + "-" + randomHex(4)
}
