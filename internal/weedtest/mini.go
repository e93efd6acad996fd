package weedtest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// InstallHint tells a human how to get the weed binary.
const InstallHint = "build it with scripts/install-seaweedfs.sh (about 6 minutes the first time), " +
	"or set S3DFS_WEED to its path"

// Mini is a `weed mini` process: master, volume server, filer and S3
// gateway on loopback ports, data below Dir.
type Mini struct {
	// S3 gateway.
	Endpoint  string // host:port, plain HTTP
	AccessKey string
	SecretKey string
	Region    string
	// Filer is the filer's address as `weed mount -filer` takes it:
	// host:httpport.grpcport.
	Filer   string
	Dir     string
	LogPath string

	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// Find returns the weed binary: $S3DFS_WEED, else the one that
// scripts/install-seaweedfs.sh builds into
// ${XDG_CACHE_HOME:-~/.cache}/s3dfs/bin, else weed on $PATH.
func Find() (string, error) {
	if p := os.Getenv("S3DFS_WEED"); p != "" {
		if err := isExecutable(p); err != nil {
			return "", fmt.Errorf("weedtest: S3DFS_WEED=%s: %w; %s", p, err, InstallHint)
		}
		return p, nil
	}
	var tried []string
	if cache := os.Getenv("XDG_CACHE_HOME"); cache != "" {
		tried = append(tried, filepath.Join(cache, "s3dfs", "bin", "weed"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		tried = append(tried, filepath.Join(home, ".cache", "s3dfs", "bin", "weed"))
	}
	for _, p := range tried {
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("weed"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("weedtest: weed not found in %v nor on $PATH; %s", tried, InstallHint)
}

// StartMini starts `weed mini` with its data in dir (which must exist) and
// waits until its filer and S3 gateway answer. The caller must call Stop.
func StartMini(dir string) (*Mini, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	// Another process may take a port between our pick and weed's bind;
	// weed then exits, and other ports will do.
	for attempt := 1; ; attempt++ {
		m, err := startMini(bin, dir)
		if err == nil || !errors.Is(err, errExited) || attempt == 3 {
			return m, err
		}
	}
}

var errExited = errors.New("exited before it was ready")

// readyTimeout bounds the start of weed mini (the filer alone takes a few
// seconds) and of a mount.
const readyTimeout = 60 * time.Second

func startMini(bin, dir string) (*Mini, error) {
	ports, err := freePorts(10)
	if err != nil {
		return nil, err
	}
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	log, err := os.CreateTemp("", "s3dfs-weed-mini-*.log")
	if err != nil {
		return nil, fmt.Errorf("weedtest: %w", err)
	}
	defer log.Close()
	m := &Mini{
		Endpoint:  "127.0.0.1:" + p(0),
		AccessKey: "s3dfs-" + randomHex(6),
		SecretKey: randomHex(20),
		Region:    "us-east-1",
		Filer:     "127.0.0.1:" + p(1) + "." + p(2),
		Dir:       dir,
		LogPath:   log.Name(),
		exited:    make(chan struct{}),
	}
	// One identity with every right: the tests create buckets. (With it,
	// SeaweedFS also creates a removed bucket again on the next write: a
	// quirk the tests declare.)
	conf := map[string]any{"identities": []any{map[string]any{
		"name":        "s3dfs",
		"credentials": []any{map[string]string{"accessKey": m.AccessKey, "secretKey": m.SecretKey}},
		"actions":     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}}
	confPath := filepath.Join(dir, "s3.json")
	b, _ := json.Marshal(conf)
	if err := os.WriteFile(confPath, b, 0o600); err != nil {
		return nil, fmt.Errorf("weedtest: %w", err)
	}
	m.cmd = exec.Command(bin, "mini",
		"-dir="+dir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-s3.port="+p(0), "-filer.port="+p(1), "-filer.port.grpc="+p(2),
		"-master.port="+p(3), "-master.port.grpc="+p(4),
		"-volume.port="+p(5), "-volume.port.grpc="+p(6),
		"-s3.port.grpc="+p(7), "-admin.port="+p(8), "-admin.port.grpc="+p(9),
		"-admin.port.legacy=0", "-admin.ui=false", "-webdav=false",
		"-s3.port.iceberg=0", "-s3.port.lance=0",
		"-s3.config="+confPath)
	m.cmd.Stdout, m.cmd.Stderr = log, log
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		os.Remove(m.LogPath)
		return nil, fmt.Errorf("weedtest: start %s: %w", bin, err)
	}
	go func() {
		m.err = m.cmd.Wait()
		close(m.exited)
	}()
	if err := m.waitReady(ports[1]); err != nil {
		tail := logTail(m.LogPath, 30)
		m.Stop()
		return nil, fmt.Errorf("weedtest: weed mini in %s: %w\n--- weed output (tail) ---\n%s", dir, err, tail)
	}
	return m, nil
}

// waitReady waits until the filer serves its root and the S3 gateway
// answers (403 to an unsigned request is an answer).
func (m *Mini) waitReady(filerPort int) error {
	client := &http.Client{Timeout: 2 * time.Second}
	urls := []string{"http://127.0.0.1:" + strconv.Itoa(filerPort) + "/", "http://" + m.Endpoint + "/"}
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ready := true
		var last error
		for _, u := range urls {
			resp, err := client.Get(u)
			if err != nil {
				ready, last = false, err
				break
			}
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				ready, last = false, fmt.Errorf("%s: %s", u, resp.Status)
				break
			}
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v (last: %v)", readyTimeout, last)
		}
		select {
		case <-m.exited:
			return fmt.Errorf("%w: %v", errExited, m.err)
		case <-tick.C:
		}
	}
}

// Stop terminates weed mini (SIGTERM to its process group, SIGKILL after
// ten seconds) and removes its log. It leaves Dir alone and is safe to call
// more than once.
func (m *Mini) Stop() error {
	stopGroup(m.cmd, m.exited, 10*time.Second)
	if err := os.Remove(m.LogPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("weedtest: %w", err)
	}
	return nil
}

// LogTail returns the last n lines of weed mini's output.
func (m *Mini) LogTail(n int) string { return logTail(m.LogPath, n) }

func stopGroup(cmd *exec.Cmd, exited chan struct{}, grace time.Duration) {
	select {
	case <-exited:
		return
	default:
	}
	pgid := -cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-exited
	}
}

func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
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

// freePorts picks n distinct free loopback ports, holding them all at once
// so that none is picked twice.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("weedtest: find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
