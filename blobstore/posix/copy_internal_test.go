package posix

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/s3dfs/s3dfs/blobstore"
)

func tempWith(t *testing.T, dir string, data []byte) *os.File {
	t.Helper()
	f, err := os.CreateTemp(dir, "copytest-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(); os.Remove(f.Name()) })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return f
}

func contentOf(t *testing.T, f *os.File) []byte {
	t.Helper()
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestCopyRange covers the ways bytes get from one file to another:
// copy_file_range on one file system, the read/write fallback across file
// systems (where the kernel refuses with EXDEV), and the fallback alone.
func TestCopyRange(t *testing.T) {
	data := make([]byte, 3<<20+17)
	_, _ = rand.NewChaCha8([32]byte{7}).Read(data)
	local := t.TempDir()
	dirs := map[string]string{"same file system": local}
	if other, err := os.MkdirTemp("/dev/shm", "s3dfs-copytest-*"); err == nil {
		t.Cleanup(func() { os.RemoveAll(other) })
		var a, b syscall.Stat_t
		if syscall.Stat(local, &a) == nil && syscall.Stat(other, &b) == nil && a.Dev != b.Dev {
			dirs["across file systems"] = other
		}
	}
	if len(dirs) == 1 {
		t.Log("no second file system at /dev/shm: the EXDEV fallback is covered by copyPlain alone")
	}
	ctx := t.Context()
	for name, srcDir := range dirs {
		src := tempWith(t, srcDir, data)
		dst := tempWith(t, local, []byte("head:"))
		if err := copyRange(ctx, dst, 5, src, int64(len(data))); err != nil {
			t.Fatalf("%s: copyRange: %v", name, err)
		}
		if got := contentOf(t, dst); !bytes.Equal(got, append([]byte("head:"), data...)) {
			t.Errorf("%s: copyRange wrote %d bytes, not the source after the head", name, len(got))
		}

		clone := tempWith(t, local, nil)
		if err := cloneFile(ctx, clone, src, int64(len(data))); err != nil {
			t.Fatalf("%s: cloneFile: %v", name, err)
		}
		if got := contentOf(t, clone); !bytes.Equal(got, data) {
			t.Errorf("%s: cloneFile wrote %d bytes, not the source", name, len(got))
		}
	}

	src := tempWith(t, local, data)
	dst := tempWith(t, local, []byte("xx"))
	if err := copyPlain(ctx, dst, 2, src, 1, int64(len(data)-1)); err != nil {
		t.Fatal(err)
	}
	if got := contentOf(t, dst); !bytes.Equal(got, append([]byte("xx"), data[1:]...)) {
		t.Errorf("copyPlain wrote %d bytes, not the source from offset 1", len(got))
	}

	// A source shorter than the size asked for is an error, not a short copy.
	short := tempWith(t, local, data[:100])
	if err := copyRange(ctx, tempWith(t, local, nil), 0, short, 200); err == nil {
		t.Error("copyRange of 200 bytes from a 100-byte file succeeded")
	}
	if err := copyPlain(ctx, tempWith(t, local, nil), 0, short, 0, 200); err == nil {
		t.Error("copyPlain of 200 bytes from a 100-byte file succeeded")
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := copyRange(cctx, tempWith(t, local, nil), 0, src, int64(len(data))); !errors.Is(err, context.Canceled) {
		t.Errorf("copyRange with a cancelled context: %v", err)
	}
}

func TestMetadataOfMaximalSizeFits(t *testing.T) {
	s, err := New(t.TempDir(), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	md := map[string]string{"k": strings.Repeat("<", blobstore.MaxMetadataSize-len("k")-1)}
	if err := blobstore.ValidateMetadata(md); err != nil {
		t.Fatalf("test metadata invalid: %v", err)
	}
	if _, err := s.Put(context.Background(), "a/b", strings.NewReader("x"), 1, blobstore.PutOptions{Metadata: md}); err != nil {
		t.Fatalf("valid metadata refused: %v", err)
	}
	info, err := s.Stat(context.Background(), "a/b")
	if err != nil || info.Metadata["k"] != md["k"] {
		t.Fatalf("stat: %v", err)
	}
}
