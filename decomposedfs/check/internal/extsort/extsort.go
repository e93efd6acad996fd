// Package extsort sorts more records than fit in memory: records are
// buffered up to a memory budget, each full buffer is sorted and written to
// a temporary file (a run), and the runs are merged on the way out. Memory
// stays at the budget plus one read buffer per run being merged; runs beyond
// MaxFanIn are merged into larger ones first.
//
// A Sorter that never exceeds its budget writes no file at all, so sorting
// a few thousand records costs what slices.SortFunc costs.
package extsort

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
)

// Codec writes and reads records of type T in a run file.
type Codec[T any] interface {
	// Append appends the encoding of v to dst.
	Append(dst []byte, v T) []byte
	// Read reads one record; io.EOF (exactly) at the end of the run.
	Read(r *bufio.Reader) (T, error)
	// Size estimates the memory v takes while buffered, in bytes.
	Size(v T) int
}

// Options configure a Sorter.
type Options struct {
	// Dir holds the run files ("" for os.TempDir()).
	Dir string
	// MemoryBytes is the budget of buffered records before a run is
	// written.
	MemoryBytes int
	// MaxFanIn bounds the runs merged at once (each takes a read buffer).
	MaxFanIn int
}

// DefaultOptions: 16 MiB in memory, merges of up to 64 runs.
func DefaultOptions() Options { return Options{MemoryBytes: 16 << 20, MaxFanIn: 64} }

// Validate rejects unusable options.
func (o Options) Validate() error {
	switch {
	case o.MemoryBytes <= 0:
		return errors.New("extsort: MemoryBytes must be positive")
	case o.MaxFanIn < 2:
		return errors.New("extsort: MaxFanIn must be at least 2")
	}
	return nil
}

const readBuf = 64 << 10

// Sorter collects records and returns them sorted. Add is safe for
// concurrent use; Sorted ends the collection.
type Sorter[T any] struct {
	cmp   func(a, b T) int
	codec Codec[T]
	opts  Options

	mu    sync.Mutex // guards the fields below
	buf   []T
	used  int
	runs  []string
	spill []byte // encode buffer
	done  bool
	err   error // sticky: a failed spill
	count int64
}

// New returns a Sorter ordering records by cmp.
func New[T any](cmp func(a, b T) int, codec Codec[T], opts Options) (*Sorter[T], error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Sorter[T]{cmp: cmp, codec: codec, opts: opts}, nil
}

// Add adds a record.
func (s *Sorter[T]) Add(v T) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.done {
		return errors.New("extsort: Add after Sorted")
	}
	s.buf = append(s.buf, v)
	s.used += s.codec.Size(v)
	s.count++
	if s.used >= s.opts.MemoryBytes {
		s.err = s.spillLocked()
	}
	return s.err
}

// AddAll adds records under one acquisition of the lock.
func (s *Sorter[T]) AddAll(vs []T) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.done {
		return errors.New("extsort: Add after Sorted")
	}
	for _, v := range vs {
		s.buf = append(s.buf, v)
		s.used += s.codec.Size(v)
		s.count++
		if s.used >= s.opts.MemoryBytes {
			if s.err = s.spillLocked(); s.err != nil {
				return s.err
			}
		}
	}
	return nil
}

// Len is the number of records added so far.
func (s *Sorter[T]) Len() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Runs is the number of run files written so far (for tests and stats).
func (s *Sorter[T]) Runs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.runs)
}

func (s *Sorter[T]) spillLocked() error {
	slices.SortFunc(s.buf, s.cmp)
	name, err := s.writeRun(func(yield func(T) error) error {
		for _, v := range s.buf {
			if err := yield(v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.runs = append(s.runs, name)
	clear(s.buf)
	s.buf, s.used = s.buf[:0], 0
	if len(s.runs) >= s.opts.MaxFanIn {
		return s.compactLocked()
	}
	return nil
}

// writeRun writes the records that each yields, in order, to a new run file.
func (s *Sorter[T]) writeRun(each func(yield func(T) error) error) (string, error) {
	f, err := os.CreateTemp(s.opts.Dir, "s3dfs-sort-*.run")
	if err != nil {
		return "", fmt.Errorf("extsort: %w", err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	err = each(func(v T) error {
		s.spill = s.codec.Append(s.spill[:0], v)
		_, err := w.Write(s.spill)
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("extsort: write run: %w", err)
	}
	return f.Name(), nil
}

// compactLocked merges all runs into one, so that the final merge never
// reads more than MaxFanIn runs at once.
func (s *Sorter[T]) compactLocked() error {
	m, err := s.openMerge(s.runs, nil)
	if err != nil {
		return err
	}
	name, err := s.writeRun(func(yield func(T) error) error {
		for {
			v, ok := m.Next()
			if !ok {
				return m.Err()
			}
			if err := yield(v); err != nil {
				return err
			}
		}
	})
	m.Close()
	if err != nil {
		return err
	}
	for _, r := range s.runs {
		os.Remove(r)
	}
	s.runs = append(s.runs[:0], name)
	return nil
}

// Sorted ends the collection and returns the records in order. The caller
// closes the Iterator, which removes the run files.
func (s *Sorter[T]) Sorted() (*Iterator[T], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	if s.done {
		return nil, errors.New("extsort: Sorted called twice")
	}
	s.done = true
	slices.SortFunc(s.buf, s.cmp)
	mem := s.buf
	s.buf = nil
	return s.openMerge(s.runs, mem)
}

// Close removes any run files; a Sorter that was never drained can be
// dropped with it.
func (s *Sorter[T]) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.runs {
		os.Remove(r)
	}
	s.runs, s.buf, s.done = nil, nil, true
}

// source is one sorted input of a merge.
type source[T any] struct {
	head T
	next func() (T, error) // io.EOF at the end
}

// Iterator yields merged records.
type Iterator[T any] struct {
	cmp   func(a, b T) int
	srcs  []*source[T] // a binary min-heap by head
	files []*os.File
	runs  []string
	err   error
}

func (s *Sorter[T]) openMerge(runs []string, mem []T) (*Iterator[T], error) {
	it := &Iterator[T]{cmp: s.cmp, runs: slices.Clone(runs)}
	if len(mem) > 0 {
		i := 0
		it.srcs = append(it.srcs, &source[T]{next: func() (T, error) {
			if i == len(mem) {
				var zero T
				return zero, io.EOF
			}
			i++
			return mem[i-1], nil
		}})
	}
	for _, r := range runs {
		f, err := os.Open(r)
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("extsort: %w", err)
		}
		it.files = append(it.files, f)
		br := bufio.NewReaderSize(f, readBuf)
		it.srcs = append(it.srcs, &source[T]{next: func() (T, error) { return s.codec.Read(br) }})
	}
	live := it.srcs[:0]
	for _, src := range it.srcs {
		v, err := src.next()
		if err == io.EOF {
			continue
		}
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("extsort: read run: %w", err)
		}
		src.head = v
		live = append(live, src)
	}
	it.srcs = live
	for i := len(it.srcs)/2 - 1; i >= 0; i-- {
		it.down(i)
	}
	return it, nil
}

// Next returns the next record, or false at the end or on an error (see
// Err).
func (it *Iterator[T]) Next() (T, bool) {
	var zero T
	if it.err != nil || len(it.srcs) == 0 {
		return zero, false
	}
	top := it.srcs[0]
	v := top.head
	nv, err := top.next()
	switch {
	case err == io.EOF:
		last := len(it.srcs) - 1
		it.srcs[0] = it.srcs[last]
		it.srcs[last] = nil
		it.srcs = it.srcs[:last]
	case err != nil:
		it.err = fmt.Errorf("extsort: read run: %w", err)
		return zero, false
	default:
		top.head = nv
	}
	if len(it.srcs) > 0 {
		it.down(0)
	}
	return v, true
}

func (it *Iterator[T]) down(i int) {
	h := it.srcs
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && it.cmp(h[r].head, h[l].head) < 0 {
			m = r
		}
		if it.cmp(h[m].head, h[i].head) >= 0 {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// Err is the error that ended the iteration early, if any.
func (it *Iterator[T]) Err() error { return it.err }

// Close releases the run files.
func (it *Iterator[T]) Close() {
	for _, f := range it.files {
		f.Close()
	}
	for _, r := range it.runs {
		os.Remove(r)
	}
	it.files, it.runs, it.srcs = nil, nil, nil
}

// Fixed is a Codec for records of N bytes each.
type Fixed[T any] struct {
	N   int
	Put func(b []byte, v T) // fills b (len N)
	Get func(b []byte) T    // decodes b (len N); must not keep b
	// Mem is the memory of one buffered record (default N).
	Mem int
}

// Append implements Codec.
func (c Fixed[T]) Append(dst []byte, v T) []byte {
	n := len(dst)
	dst = slices.Grow(dst, c.N)[:n+c.N]
	c.Put(dst[n:], v)
	return dst
}

// Read implements Codec.
func (c Fixed[T]) Read(r *bufio.Reader) (T, error) {
	var zero T
	b, err := r.Peek(c.N)
	if err != nil {
		if err == io.EOF && len(b) == 0 {
			return zero, io.EOF
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return zero, err
	}
	v := c.Get(b)
	_, err = r.Discard(c.N)
	return v, err
}

// Size implements Codec.
func (c Fixed[T]) Size(T) int {
	if c.Mem > 0 {
		return c.Mem
	}
	return c.N
}
