package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// writeReplace replaces a file the way s3dfs writers do: temp file, explicit
// new mtime, rename.
func writeReplace(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var prev int64
	if st, err := os.Stat(path); err == nil {
		prev = st.ModTime().UnixNano()
	}
	mt := time.Unix(0, NextAfter(prev))
	if err := os.Chtimes(tmp, time.Time{}, mt); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// loader reads a file the way s3dfs readers do: stamp first, then content.
func loader(path string) Loader[string] {
	return func() (Path, Stamp, string, int64, error) {
		p := NewPath(path)
		st, err := p.Stat()
		if err != nil {
			return p, st, "", 0, err
		}
		b, err := os.ReadFile(path)
		return p, st, string(b), int64(len(b)), err
	}
}

func newCache(t testing.TB, o Options) *Cache[string] {
	t.Helper()
	c, err := New[string](o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestStrictSeesEveryReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rec")
	c := newCache(t, DefaultOptions())
	writeReplace(t, path, []byte("v000"))
	// Same size, well within one second and one clock tick: every version
	// must be seen on the very next read.
	for i := 1; i <= 200; i++ {
		e, err := c.GetOrLoad("k", loader(path))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("v%03d", i-1); e.Value != want {
			t.Fatalf("read %q, want %q", e.Value, want)
		}
		c.Wait()
		writeReplace(t, path, []byte(fmt.Sprintf("v%03d", i)))
	}
	st := c.Stats()
	if st.Stale == 0 || st.Fills < 200 {
		t.Fatalf("stats %+v: every replace should have made the entry stale", st)
	}
}

func TestVanishedFileIsNotServed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rec")
	c := newCache(t, DefaultOptions())
	writeReplace(t, path, []byte("x"))
	if _, err := c.GetOrLoad("k", loader(path)); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	if _, ok := c.Get("k"); !ok {
		t.Fatal("warm entry missed")
	}
	os.Remove(path)
	if e, ok := c.Get("k"); ok {
		t.Fatalf("served %q for a removed file", e.Value)
	}
	if _, err := c.GetOrLoad("k", loader(path)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("load of removed file: %v", err)
	}
}

func TestRelaxedServesWithinMaxStaleOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rec")
	o := DefaultOptions()
	o.Mode, o.MaxStale = Relaxed, 300*time.Millisecond
	c := newCache(t, o)
	writeReplace(t, path, []byte("old"))
	if _, err := c.GetOrLoad("k", loader(path)); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	writeReplace(t, path, []byte("new"))
	start := time.Now()
	e, ok := c.Get("k")
	if time.Since(start) < o.MaxStale && (!ok || e.Value != "old") {
		t.Fatalf("within MaxStale relaxed mode should serve the cached value, got %v %v", e, ok)
	}
	time.Sleep(o.MaxStale + 50*time.Millisecond)
	if e, ok := c.Get("k"); ok {
		t.Fatalf("after MaxStale a changed file must not be served, got %q", e.Value)
	}
}

// Eviction and staleness under a tiny budget and concurrent writers: no
// read ever returns a value other than the file's content at some moment
// between the read's start and end.
func TestNeverServesStaleUnderChurn(t *testing.T) {
	dir := t.TempDir()
	const files = 64
	var versions [files]atomic.Int64
	for i := range files {
		writeReplace(t, filepath.Join(dir, fmt.Sprint(i)), []byte("0"))
	}
	o := DefaultOptions()
	o.MaxBytes = 4 << 10 // far smaller than the working set: constant eviction
	c := newCache(t, o)
	var wg sync.WaitGroup
	var wmu [files]sync.Mutex
	stop := make(chan struct{})
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := r.IntN(files)
				wmu[i].Lock()
				v := versions[i].Load() + 1
				writeReplace(t, filepath.Join(dir, fmt.Sprint(i)), []byte(fmt.Sprint(v)))
				versions[i].Store(v)
				wmu[i].Unlock()
			}
		}()
	}
	r := rand.New(rand.NewPCG(9, 9))
	for n := 0; n < 20000; n++ {
		i := r.IntN(files)
		before := versions[i].Load() // completed before the read began
		e, err := c.GetOrLoad(fmt.Sprint(i), loader(filepath.Join(dir, fmt.Sprint(i))))
		if err != nil {
			t.Fatal(err)
		}
		var got int64
		fmt.Sscan(e.Value, &got)
		if got < before {
			t.Fatalf("file %d: read version %d, but version %d was complete before the read", i, got, before)
		}
	}
	close(stop)
	wg.Wait()
	st := c.Stats()
	if st.Evictions == 0 {
		t.Errorf("no evictions with a 4 KiB budget: %+v", st)
	}
	t.Logf("stats: %+v", st)
}

func TestDisabledCacheAlwaysLoads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rec")
	writeReplace(t, path, []byte("a"))
	c := newCache(t, Options{MaxBytes: 0})
	for range 3 {
		if _, err := c.GetOrLoad("k", loader(path)); err != nil {
			t.Fatal(err)
		}
	}
	if st := c.Stats(); st.Fills != 3 || st.Hits != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{{MaxBytes: -1}, {Mode: Relaxed}, {Mode: Mode(7)}} {
		if o.Validate() == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if _, err := ParseMode("bogus"); err == nil {
		t.Error("bogus mode accepted")
	}
}

func TestNextTimeIsStrictlyIncreasing(t *testing.T) {
	var wg sync.WaitGroup
	seen := make([][]int64, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10000 {
				seen[g] = append(seen[g], NextTime())
			}
		}()
	}
	wg.Wait()
	all := map[int64]bool{}
	for _, s := range seen {
		for i, v := range s {
			if i > 0 && v <= s[i-1] {
				t.Fatal("not increasing")
			}
			if all[v] {
				t.Fatal("duplicate")
			}
			all[v] = true
		}
	}
}

func BenchmarkHit(b *testing.B) {
	path := filepath.Join(b.TempDir(), "rec")
	writeReplace(b, path, []byte("x"))
	c := newCache(b, DefaultOptions())
	c.GetOrLoad("k", loader(path))
	c.Wait()
	b.Run("strict-hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := c.Get("k"); !ok {
				b.Fatal("miss")
			}
		}
	})
	b.Run("baseline-os.Stat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			os.Stat(path)
		}
	})
}
