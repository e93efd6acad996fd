package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// workerProc is the parent's handle on a worker process.
type workerProc struct {
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	enc     *json.Encoder
	dec     *json.Decoder
	logPath string
	log     *os.File
	exited  chan struct{}
}

// startWorker starts a worker process for backend name; its stderr goes
// to logPath.
func startWorker(cfg Config, name, logPath string) (*workerProc, error) {
	argv := cfg.WorkerCommand
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("bench: find the worker executable: %w", err)
		}
		argv = []string{exe}
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("bench: worker log: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), WorkerEnv+"=1")
	cmd.Stderr = logf
	// A worker must not outlive a parent that crashed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("bench: start worker %s: %w", strings.Join(argv, " "), err)
	}
	p := &workerProc{name: name, cmd: cmd, stdin: stdin, enc: json.NewEncoder(stdin),
		dec: json.NewDecoder(bufio.NewReaderSize(stdout, 1<<16)), logPath: logPath, log: logf, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// call sends a request and waits for its response. A cancelled context
// kills the worker, which is then of no further use.
func (p *workerProc) call(ctx context.Context, req request) (response, error) {
	stop := context.AfterFunc(ctx, func() { _ = p.cmd.Process.Kill() })
	defer stop()
	if err := p.enc.Encode(req); err != nil {
		return response{}, p.died(ctx, err)
	}
	var resp response
	if err := p.dec.Decode(&resp); err != nil {
		return response{}, p.died(ctx, err)
	}
	if resp.Err != "" {
		return resp, fmt.Errorf("%s: %s", p.name, resp.Err)
	}
	return resp, nil
}

func (p *workerProc) died(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	select {
	case <-p.exited:
	case <-time.After(2 * time.Second):
	}
	return fmt.Errorf("%s: worker process failed (%v); its log %s ends with:\n%s", p.name, err, p.logPath, tail(p.logPath, 2048))
}

// stop asks the worker to close its store and waits for it to exit,
// killing it if it takes too long.
func (p *workerProc) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case <-p.exited:
	default:
		_, _ = p.call(ctx, request{Op: "close"})
		p.stdin.Close()
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.log.Close()
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}

// all sends the same request to every worker at once and returns their
// responses in the workers' order.
func all(ctx context.Context, ws []*workerProc, req request) ([]response, error) {
	out := make([]response, len(ws))
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() { out[i], errs[i] = w.call(ctx, req) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
