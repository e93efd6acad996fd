package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a server process started by the harness, in its own process
// group, with its output in a log file.
type proc struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	err    error // Wait's result, after exited is closed
}

// startProc starts a command with stdout and stderr appended to logPath.
// If urlPrefix is not empty, it waits until a stdout line starts with it
// and returns the rest of that line (the URL the server announces).
func startProc(ctx context.Context, name, logPath, urlPrefix string, env []string, bin string, args ...string) (*proc, string, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, "", err
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stderr = logf
	// Its own process group, so that stop reaches what it forks; killed with
	// the harness if the harness dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stdout io.ReadCloser
	if urlPrefix != "" {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			return nil, "", err
		}
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	urlc := make(chan string, 1)
	var copyDone sync.WaitGroup
	if stdout != nil {
		copyDone.Add(1)
		go func() {
			defer copyDone.Done()
			sc := bufio.NewScanner(stdout)
			found := false
			for sc.Scan() {
				line := sc.Text()
				if !found && strings.HasPrefix(line, urlPrefix) {
					found = true
					urlc <- strings.TrimSpace(strings.TrimPrefix(line, urlPrefix))
				}
			}
			io.Copy(io.Discard, stdout)
		}()
	}
	go func() {
		copyDone.Wait() // Wait closes the pipe: read it to the end first
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if urlPrefix == "" {
		return p, "", nil
	}
	select {
	case u := <-urlc:
		return p, u, nil
	case <-p.exited:
		return nil, "", fmt.Errorf("%s exited at start (%v):\n%s", name, p.err, tail(logPath, 20))
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, "", fmt.Errorf("%s announced no URL in 30 s:\n%s", name, tail(logPath, 20))
	case <-ctx.Done():
		p.stop()
		return nil, "", ctx.Err()
	}
}

// stop sends SIGTERM to the process group, SIGKILL after ten seconds, and
// waits for the process. It is safe to call more than once.
func (p *proc) stop() {
	if p == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-p.exited
	}
}

// waitHTTP polls url until the server answers anything at all, or the
// process exits.
func waitHTTP(ctx context.Context, p *proc, url string) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodOptions, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no answer on %s in 30 s (%v):\n%s", p.name, url, err, tail(p.log, 20))
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited at start (%v):\n%s", p.name, p.err, tail(p.log, 20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for servers that cannot pick their own and report it.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(l.Addr().(*net.TCPAddr).Port)), nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// goBuild builds a package of the module into dst.
func goBuild(ctx context.Context, modRoot, dst, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dst, pkg)
	cmd.Dir = modRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return nil
}

// environWithout is os.Environ without the named variables.
func environWithout(names ...string) []string {
	var env []string
outer:
	for _, kv := range os.Environ() {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue outer
			}
		}
		env = append(env, kv)
	}
	return env
}

var errStatus = errors.New("unexpected status")
