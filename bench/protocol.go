package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// WorkerEnv, set to "1" in a process's environment, makes it a worker: the
// parent starts Config.WorkerCommand with it, and the program (s3dfs, or a
// test binary in TestMain) calls WorkerMain instead of doing what it
// normally does.
const WorkerEnv = "S3DFS_BENCH_WORKER"

// The parent and a worker talk in JSON lines over the worker's stdin and
// stdout: one request, then its response, strictly in turn. The worker's
// stderr is its log.
type request struct {
	// Op is "open", "populate", "prepare", "measure", "snapshot" or
	// "close".
	Op    string    `json:"op"`
	Open  *OpenSpec `json:"open,omitempty"`
	Case  *Case     `json:"case,omitempty"`
	Rep   int       `json:"rep,omitempty"`
	Size  int       `json:"size,omitempty"`
	Scope []Scope   `json:"scope,omitempty"`
	Full  bool      `json:"full,omitempty"`
}

type response struct {
	Err      string    `json:"err,omitempty"`
	Sample   *Sample   `json:"sample,omitempty"`
	Snapshot *Snapshot `json:"snapshot,omitempty"`
}

// OpenSpec is everything a worker needs to open its backend.
type OpenSpec struct {
	Backend string    `json:"backend"`
	Store   StoreSpec `json:"store"`
	Config  Config    `json:"config"`
	// Blobs is "s3" or "posix"; S3 and Bucket say where for s3, BlobDir
	// for posix.
	Blobs   string   `json:"blobs"`
	S3      S3Server `json:"s3"`
	Bucket  string   `json:"bucket,omitempty"`
	BlobDir string   `json:"blob_dir,omitempty"`
}

// WorkerMain serves the parent on stdin and stdout until it closes stdin,
// and returns the exit code.
func WorkerMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := ServeWorker(ctx, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench worker:", err)
		return 1
	}
	return 0
}

// ServeWorker answers the parent's requests read from in on out, until in
// ends or a "close" request.
func ServeWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(bufio.NewReaderSize(in, 1<<16))
	bw := bufio.NewWriterSize(out, 1<<16)
	enc := json.NewEncoder(bw)
	w := &worker{}
	defer w.close()
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read request: %w", err)
		}
		resp := w.handle(ctx, req)
		if err := enc.Encode(resp); err != nil {
			return fmt.Errorf("write response: %w", err)
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write response: %w", err)
		}
		if req.Op == "close" {
			return nil
		}
	}
}

func (w *worker) handle(ctx context.Context, req request) (resp response) {
	defer func() {
		if p := recover(); p != nil {
			resp = response{Err: fmt.Sprintf("panic: %v", p)}
		}
	}()
	var err error
	switch req.Op {
	case "open":
		if req.Open == nil {
			err = errors.New("open without a spec")
			break
		}
		err = w.open(ctx, *req.Open)
	case "populate":
		err = w.populate(ctx, req.Size)
	case "prepare":
		err = w.prepare(ctx, req.Case)
	case "measure":
		var s Sample
		if s, err = w.measureCase(ctx, req.Case, req.Rep); err == nil {
			resp.Sample = &s
		}
	case "snapshot":
		resp.Snapshot, err = w.snapshot(ctx, req.Scope, req.Full)
	case "close":
		err = w.close()
	default:
		err = fmt.Errorf("unknown request %q", req.Op)
	}
	if err != nil {
		resp.Err = err.Error()
	}
	return resp
}
