package s3test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestBucketName(t *testing.T) {
	seen := map[string]bool{}
	for _, name := range []string{
		"TestX", "TestConformance/ListManyPages", "Test_Under__score#01", "", "---",
		strings.Repeat("VeryLongTestName", 10),
	} {
		for range 2 {
			b := BucketName(name)
			if err := s3utils.CheckValidBucketNameStrict(b); err != nil {
				t.Errorf("BucketName(%q) = %q: %v", name, b, err)
			}
			if strings.Contains(b, "--") {
				t.Errorf("BucketName(%q) = %q has a double hyphen", name, b)
			}
			if seen[b] {
				t.Errorf("BucketName(%q) = %q twice", name, b)
			}
			seen[b] = true
		}
	}
}

func TestNewGivesFreshBuckets(t *testing.T) {
	a, b := New(t), New(t)
	if a.Bucket == b.Bucket {
		t.Fatalf("two New calls gave bucket %s twice", a.Bucket)
	}
	client, err := a.Client()
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{a, b} {
		ok, err := client.BucketExists(t.Context(), cfg.Bucket)
		if err != nil || !ok {
			t.Fatalf("bucket %s: exists %v, %v", cfg.Bucket, ok, err)
		}
		for o := range client.ListObjectsIter(t.Context(), cfg.Bucket, minio.ListObjectsOptions{Recursive: true}) {
			t.Errorf("fresh bucket %s holds %q (err %v)", cfg.Bucket, o.Key, o.Err)
		}
	}
}

func TestStartAndStop(t *testing.T) {
	s, err := StartServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Endpoint: s.Endpoint, AccessKey: s.AccessKey, SecretKey: s.SecretKey, Region: s.Region}
	client, err := cfg.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := client.MakeBucket(ctx, "bucket", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(s.Dir, "bucket")); err != nil || !fi.IsDir() {
		t.Errorf("the bucket is not a directory below Dir: %v", err)
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	select {
	case <-s.exited:
	default:
		t.Error("Stop returned with the process still running")
	}
	if c, err := net.Dial("tcp", s.Endpoint); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", s.Endpoint)
	}
	if _, err := os.Stat(s.LogPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("log file %s survives Stop: %v", s.LogPath, err)
	}
}

func TestStartFailureShowsOutput(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "versitygw")
	script := "#!/bin/sh\necho 'fake versitygw: cannot bind, giving up' >&2\nexit 3\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("S3DFS_VERSITYGW", fake)
	_, err := StartServer(t.TempDir())
	if err == nil {
		t.Fatal("StartServer with a binary that exits succeeded")
	}
	if !errors.Is(err, errExited) || !strings.Contains(err.Error(), "cannot bind, giving up") {
		t.Errorf("error %q does not show that the server exited, nor its output", err)
	}
}

func TestMissingBinary(t *testing.T) {
	t.Setenv("S3DFS_VERSITYGW", filepath.Join(t.TempDir(), "nothing-here"))
	_, err := FindVersityGW()
	if err == nil || !strings.Contains(err.Error(), "scripts/install-versitygw.sh") {
		t.Errorf("FindVersityGW = %v, want an error that says how to install", err)
	}
}
