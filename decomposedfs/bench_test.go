package decomposedfs_test

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata/mpk"
	"golang.org/x/sys/unix"
)

// Benchmarks of the driver API. Each one that has a natural baseline runs it
// as a sibling sub-benchmark, so that both are measured in the same run on
// the same machine: record-file stat(2) beside hot reads, raw minio-go
// PutObject beside uploads.

func recordPath(e *env, id string) string {
	return e.root + "/spaces/" + e.sid[:2] + "/" + e.sid + "/nodes/" + id[:2] + "/" + id + ".mpk"
}

// deepFile creates /d1/.../dN/f and returns its info.
func deepFile(b *testing.B, e *env, depth int) (*decomposedfs.ResourceInfo, string) {
	p := ""
	for i := 1; i <= depth-1; i++ {
		p += fmt.Sprintf("/d%d", i)
		e.mkdir(b, p)
	}
	p += "/f"
	return e.put(b, p, []byte("content")), p
}

func warm(e *env) {
	e.mpk.WaitCache()
	e.fs.Resolver().Wait()
}

func BenchmarkGetMD(b *testing.B) {
	ctx := context.Background()
	for _, mode := range []cache.Mode{cache.Strict, cache.Relaxed} {
		e := newBenchEnv(b, mode)
		ri, p := deepFile(b, e, 10)
		rec := recordPath(e, ri.ID)
		byID := decomposedfs.Reference{SpaceID: e.sid, NodeID: ri.ID}
		for range 3 {
			e.fs.GetMD(ctx, byID)
			e.fs.GetMD(ctx, e.ref(p))
			warm(e)
		}
		b.Run("hot-by-id/"+mode.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.fs.GetMD(ctx, byID); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("hot-by-path-depth10/"+mode.String(), func(b *testing.B) {
			b.ReportAllocs()
			ref := e.ref(p)
			for b.Loop() {
				if _, err := e.fs.GetMD(ctx, ref); err != nil {
					b.Fatal(err)
				}
			}
		})
		if mode == cache.Strict {
			b.Run("baseline-os.Stat-record", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := os.Stat(rec); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("baseline-stat(2)-record", func(b *testing.B) {
				var st unix.Stat_t
				for b.Loop() {
					if err := unix.Stat(rec, &st); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
	// Cold: an FS whose caches hold nothing, as in a fresh process (the
	// kernel's page cache is warm, as it is on a busy server).
	e := newBenchEnvWith(b, mpk.Options{CacheBytes: 0}, 0)
	ri, p := deepFile(b, e, 1)
	_, p10 := deepFile(b, e, 10)
	b.Run("cold-by-id-depth1", func(b *testing.B) {
		b.ReportAllocs()
		ref := decomposedfs.Reference{SpaceID: e.sid, NodeID: ri.ID}
		for b.Loop() {
			if _, err := e.fs.GetMD(ctx, ref); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cold-by-path-depth1", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.fs.GetMD(ctx, e.ref(p)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cold-by-path-depth10", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.fs.GetMD(ctx, e.ref(p10)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkListFolder1000(b *testing.B) {
	ctx := context.Background()
	for _, cached := range []bool{true, false} {
		opts := mpk.Options{CacheBytes: 256 << 20}
		lookupBytes := int64(64 << 20)
		if !cached {
			opts.CacheBytes, lookupBytes = 0, 0
		}
		e := newBenchEnvWith(b, opts, lookupBytes)
		e.mkdir(b, "/big")
		for i := range 1000 {
			if _, err := e.fs.TouchFile(ctx, e.ref(fmt.Sprintf("/big/file-%04d", i)), timeZero); err != nil {
				b.Fatal(err)
			}
		}
		name := map[bool]string{true: "hot", false: "cold"}[cached]
		l, _ := e.fs.ListFolder(ctx, e.ref("/big"))
		if len(l.Children) != 1000 {
			b.Fatalf("%d children", len(l.Children))
		}
		warm(e)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l, err := e.fs.ListFolder(ctx, e.ref("/big"))
				if err != nil || len(l.Children) != 1000 {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCreateDirDepth5(b *testing.B) {
	ctx := context.Background()
	e := newBenchEnv(b, cache.Strict)
	e.mkdir(b, "/a")
	e.mkdir(b, "/a/b")
	e.mkdir(b, "/a/b/c")
	e.mkdir(b, "/a/b/c/d")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := e.fs.CreateDir(ctx, e.ref(fmt.Sprintf("/a/b/c/d/n%d", i))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpload(b *testing.B) {
	ctx := context.Background()
	e := newBenchEnv(b, cache.Strict)
	e.mkdir(b, "/up")
	client := e.blobs.(*s3.Store).Client()
	bucket := e.blobs.(*s3.Store).Bucket()
	for _, size := range []int{4 << 10, 16 << 20} {
		data := payload(uint64(size), size)
		label := map[int]string{4 << 10: "4KiB", 16 << 20: "16MiB"}[size]
		b.Run(label+"/s3dfs", func(b *testing.B) {
			b.SetBytes(int64(size))
			i := 0
			for b.Loop() {
				i++
				if _, err := e.fs.Upload(ctx, e.ref(fmt.Sprintf("/up/%s-%d", label, i)), bytes.NewReader(data), decomposedfs.UploadOptions{Size: int64(size)}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(label+"/blobstore-Put", func(b *testing.B) {
			b.SetBytes(int64(size))
			i := 0
			for b.Loop() {
				i++
				if _, err := e.blobs.Put(ctx, fmt.Sprintf("put/%s-%d", label, i), bytes.NewReader(data), int64(size), blobstore.PutOptions{
					Metadata: map[string]string{"space": e.sid, "node": e.sid}}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(label+"/raw-minio-PutObject", func(b *testing.B) {
			b.SetBytes(int64(size))
			i := 0
			for b.Loop() {
				i++
				_, err := client.PutObject(ctx, bucket, fmt.Sprintf("raw/%s-%d", label, i), bytes.NewReader(data), int64(size),
					minio.PutObjectOptions{PartSize: 16 << 20})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func newBenchEnv(b *testing.B, mode cache.Mode) *env {
	o := mpk.Options{CacheBytes: 256 << 20, CacheMode: mode}
	return newBenchEnvWith(b, o, 64<<20)
}

// newBenchEnvWith builds an env on S3 with the given cache settings.
func newBenchEnvWith(b *testing.B, o mpk.Options, lookupBytes int64) *env {
	e := newEnv(b, s3Blobs)
	e.needMPK(b, "the driver's benchmarks measure mpk")
	def := mpk.DefaultOptions(e.root)
	def.CacheBytes, def.CacheMode = o.CacheBytes, o.CacheMode
	meta, err := mpk.New(def)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { meta.Close() })
	fo := decomposedfs.DefaultOptions()
	fo.Lookup.CacheBytes, fo.Lookup.Mode = lookupBytes, o.CacheMode
	fs, err := decomposedfs.New(meta, e.blobs, fo)
	if err != nil {
		b.Fatal(err)
	}
	e.meta, e.mpk, e.fs = meta, meta, fs
	return e
}

var timeZero time.Time

// BenchmarkGetMDColdNode reads nodes that this process has never read, in a
// process whose caches are otherwise warm (the folders above them are
// cached): the cost of a cache miss, one record read from the kernel's page
// cache. When the nodes run out, a fresh backend (empty caches) starts over.
func BenchmarkGetMDColdNode(b *testing.B) {
	const files = 3000
	ctx := context.Background()
	e := newBenchEnv(b, cache.Strict)
	e.mkdir(b, "/cold")
	ids := make([]string, files)
	for i := range ids {
		ri, err := e.fs.TouchFile(ctx, e.ref(fmt.Sprintf("/cold/f%d", i)), timeZero)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = ri.ID
	}
	fresh := func() *decomposedfs.FS {
		meta, err := mpk.New(mpk.DefaultOptions(e.root))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { meta.Close() })
		fs, err := decomposedfs.New(meta, e.blobs, decomposedfs.DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		// Warm the folders above the nodes, as a running server has them.
		if _, err := fs.GetMD(ctx, e.ref("/cold")); err != nil {
			b.Fatal(err)
		}
		meta.WaitCache()
		fs.Resolver().Wait()
		return fs
	}
	fs := fresh()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == files {
			b.StopTimer()
			fs, i = fresh(), 0
			b.StartTimer()
		}
		if _, err := fs.GetMD(ctx, decomposedfs.Reference{SpaceID: e.sid, NodeID: ids[i]}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
