package s3test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// VersityGWVersion is the versitygw release that scripts/install-versitygw.sh
// installs and that the tests are known to pass against.
const VersityGWVersion = "v1.8.0"

// InstallHint tells a human how to get the server binary.
const InstallHint = "install it with scripts/install-versitygw.sh " +
	"(or set S3DFS_VERSITYGW to its path, or S3DFS_S3_ENDPOINT to use an existing S3 server)"

// readyTimeout bounds how long StartServer waits for /healthz.
const readyTimeout = 20 * time.Second

// Server is a versitygw process serving the S3 API on a loopback port, with
// the buckets as directories below one local directory.
type Server struct {
	Endpoint  string // host:port, plain HTTP
	AccessKey string
	SecretKey string
	Region    string
	Dir       string // the posix backend root: one subdirectory per bucket
	LogPath   string // the process's stdout and stderr

	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been reaped
	err    error         // Wait's result; read only after exited is closed
}

// StartServer starts versitygw with dir as the root of its posix backend and
// waits until it answers its health check. The binary is found as described
// in [FindVersityGW]; dir must exist and its file system must support user
// extended attributes. The caller must call Stop.
func StartServer(dir string) (*Server, error) {
	bin, err := FindVersityGW()
	if err != nil {
		return nil, err
	}
	// Another process may grab the free port we picked before versitygw
	// binds it; versitygw then exits at once, and another port will do.
	for attempt := 1; ; attempt++ {
		s, err := startOnce(bin, dir)
		if err == nil || !errors.Is(err, errExited) || attempt == 3 {
			return s, err
		}
	}
}

var errExited = errors.New("exited before becoming healthy")

func startOnce(bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	log, err := os.CreateTemp("", "s3dfs-versitygw-*.log")
	if err != nil {
		return nil, fmt.Errorf("s3test: create log file: %w", err)
	}
	defer log.Close() // the child holds its own descriptor

	s := &Server{
		Endpoint:  net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		AccessKey: "s3dfs-" + randomHex(6),
		SecretKey: randomHex(20),
		Region:    "us-east-1",
		Dir:       dir,
		LogPath:   log.Name(),
		exited:    make(chan struct{}),
	}
	s.cmd = exec.Command(bin,
		"--port", s.Endpoint,
		"--access", s.AccessKey,
		"--secret", s.SecretKey,
		"--region", s.Region,
		"--health", "/healthz",
		"--quiet",
		"posix", dir)
	s.cmd.Stdout = log
	s.cmd.Stderr = log
	// Its own process group, so that Stop reaches any children too; and a
	// parent-death signal, so that a crashed test binary does not leave a
	// server behind.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		os.Remove(s.LogPath)
		return nil, fmt.Errorf("s3test: start %s: %w", bin, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(); err != nil {
		tail := s.LogTail(20)
		s.Stop()
		return nil, fmt.Errorf("s3test: versitygw on %s: %w\n--- versitygw output (tail) ---\n%s", s.Endpoint, err, tail)
	}
	return s, nil
}

func (s *Server) waitReady() error {
	url := "http://" + s.Endpoint + "/healthz"
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy after %v (last: %v)", readyTimeout, describe(resp, err))
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%w: %v", errExited, s.err)
		case <-tick.C:
		}
	}
}

func describe(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

// Stop terminates the server's process group (SIGTERM, then SIGKILL after
// five seconds) and removes the log file. It leaves Dir alone. Stop is safe
// to call more than once.
func (s *Server) Stop() error {
	select {
	case <-s.exited:
	default:
		pgid := -s.cmd.Process.Pid
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		_ = syscall.Kill(pgid, syscall.SIGCONT) // if Pause stopped it
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(pgid, syscall.SIGKILL)
			<-s.exited
		}
	}
	if err := os.Remove(s.LogPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("s3test: %w", err)
	}
	return nil
}

// Pause stops the server with SIGSTOP: the kernel still accepts its
// connections and buffers what clients send, but nothing answers, as with
// a hung server. Resume lets it go on.
func (s *Server) Pause() error { return s.signal(syscall.SIGSTOP) }

// Resume continues a server stopped by Pause (SIGCONT).
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) error {
	select {
	case <-s.exited:
		return fmt.Errorf("s3test: versitygw on %s has exited", s.Endpoint)
	default:
	}
	if err := syscall.Kill(-s.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("s3test: %v to versitygw: %w", sig, err)
	}
	return nil
}

// LogTail returns the last n lines of the server's output.
func (s *Server) LogTail(n int) string {
	data, err := os.ReadFile(s.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	data = bytes.TrimRight(data, "\n")
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// FindVersityGW returns the path of the versitygw binary: $S3DFS_VERSITYGW if
// set, else the first versitygw on $PATH, else the one that
// scripts/install-versitygw.sh puts in ${XDG_CACHE_HOME:-~/.cache}/s3dfs/bin.
func FindVersityGW() (string, error) {
	if p := os.Getenv("S3DFS_VERSITYGW"); p != "" {
		if err := isExecutable(p); err != nil {
			return "", fmt.Errorf("s3test: S3DFS_VERSITYGW=%s: %w; %s", p, err, InstallHint)
		}
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var tried []string
	if cache := os.Getenv("XDG_CACHE_HOME"); cache != "" {
		tried = append(tried, filepath.Join(cache, "s3dfs", "bin", "versitygw"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		tried = append(tried, filepath.Join(home, ".cache", "s3dfs", "bin", "versitygw"))
	}
	for _, p := range tried {
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("s3test: versitygw not found on $PATH nor in %v; %s", tried, InstallHint)
}

func isExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("s3test: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
