package cli_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/cmd/s3dfs/cli"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/storeid"
)

// blobObjects is bucketObjects without the store's marker.
func blobObjects(t *testing.T, cfg s3test.Config) []blobstore.Info {
	t.Helper()
	var out []blobstore.Info
	for _, o := range bucketObjects(t, cfg) {
		if o.Key != storeid.MarkerKey {
			out = append(out, o)
		}
	}
	return out
}

// bucketObjects lists the bucket of cfg behind the CLI's back.
func bucketObjects(t *testing.T, cfg s3test.Config) []blobstore.Info {
	t.Helper()
	opts := s3.DefaultOptions()
	opts.Endpoint, opts.Bucket, opts.Region, opts.UseTLS = cfg.Endpoint, cfg.Bucket, cfg.Region, cfg.UseTLS
	opts.AccessKey, opts.SecretKey = cfg.AccessKey, cfg.SecretKey
	store, err := s3.New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var objs []blobstore.Info
	err = store.List(t.Context(), "", func(i blobstore.Info) error {
		full, err := store.Stat(t.Context(), i.Key) // List leaves out the metadata
		if err != nil {
			return err
		}
		objs = append(objs, full)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func TestS3(t *testing.T) {
	cfg := s3test.New(t) // before cleanStoreEnv: it may read an external server from the environment
	cleanStoreEnv(t)
	s3flags := []string{"--s3-endpoint", cfg.Endpoint, "--s3-bucket", cfg.Bucket,
		"--s3-region", cfg.Region, "--s3-tls=" + strconv.FormatBool(cfg.UseTLS)}
	// Keys from the environment, the way they should be passed.
	t.Setenv("S3DFS_S3_ACCESS_KEY", cfg.AccessKey)
	t.Setenv("S3DFS_S3_SECRET_KEY", cfg.SecretKey)
	root := newStore(t, s3flags...)
	flags := append([]string{"fs", "--root", root}, s3flags...)

	content := strings.Repeat("blob in a bucket\n", 500)
	sid := runFlow(t, flags, content)

	objs := blobObjects(t, cfg)
	if len(objs) != 1 {
		t.Fatalf("bucket holds %d blobs, want 1: %+v", len(objs), objs)
	}
	o := objs[0]
	if !strings.HasPrefix(o.Key, sid+"/") || o.Size != int64(len(content)) || o.Metadata["space"] != sid || o.Metadata["node"] == "" {
		t.Errorf("object %+v, want %d bytes below %s/ pointing back at its space and node", o, len(content), sid)
	}
	if _, err := os.Stat(filepath.Join(root, "blobs")); !os.IsNotExist(err) {
		t.Errorf("a posix blob directory was created next to the metadata: %v", err)
	}

	// A body of unknown size larger than a part goes up in parts.
	big := strings.Repeat("0123456789abcdef", 6<<20/16)
	cmd := append(append([]string{}, flags...), "--s3-part-size", "5MiB")
	cliRunOK(t, big, append(cmd, "put", "-", "/big")...)
	if out := cliOK(t, append(cmd, "get", "/big")...); out != big {
		t.Errorf("get /big returned %d bytes, want %d", len(out), len(big))
	}
	if out := cliOK(t, append(cmd, "get", "--range", "6291455-", "/big")...); out != "f" {
		t.Errorf("last byte of /big = %q", out)
	}
	if objs := blobObjects(t, cfg); len(objs) != 2 {
		t.Errorf("bucket holds %d blobs after the big put, want 2", len(objs))
	}
}

// The S3 store is the default once an endpoint is configured, here all by
// environment variables.
func TestS3FromEnvironment(t *testing.T) {
	cfg := s3test.New(t)
	cleanStoreEnv(t)
	t.Setenv("S3DFS_S3_ENDPOINT", cfg.Endpoint)
	t.Setenv("S3DFS_S3_BUCKET", cfg.Bucket)
	t.Setenv("S3DFS_S3_ACCESS_KEY", cfg.AccessKey)
	t.Setenv("S3DFS_S3_SECRET_KEY", cfg.SecretKey)
	t.Setenv("S3DFS_S3_REGION", cfg.Region)
	if cfg.UseTLS {
		t.Setenv("S3DFS_S3_TLS", "1")
	}
	t.Setenv("S3DFS_ROOT", newStore(t))
	cliRunOK(t, "via env", "fs", "put", "-", "/e")
	if out := cliOK(t, "fs", "get", "/e"); out != "via env" {
		t.Errorf("get /e = %q", out)
	}
	if objs := blobObjects(t, cfg); len(objs) != 1 || objs[0].Size != int64(len("via env")) {
		t.Errorf("bucket: %+v", objs)
	}

	// Wrong credentials fail the operation (1), not the command line.
	t.Setenv("S3DFS_S3_SECRET_KEY", "wrong"+cfg.SecretKey)
	cliFails(t, cli.ExitFailure, "access denied", "fs", "ls")
}
