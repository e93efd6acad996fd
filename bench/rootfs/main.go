// Command rootfs measures `s3dfs serve` with its metadata root on
// different volumes and everything else equal: one S3 server (versitygw,
// internal/s3test, on local disk) for all, one s3dfs binary, the requests
// of one client taking turns between the servers so that the noise of a
// shared machine falls on all of them:
//
//	go run ./bench/rootfs -root local=/tmp -root weed-mount=/mnt/weed/bench -out bench/results
//
// Each -root NAME=DIR gets a fresh root below DIR. The workloads: a folder
// of 1 000 files (4 KiB each, uploaded with PUT), PROPFIND depth 1 of it
// hot (a process that listed it before) and cold (the first request of a
// fresh process), and 4 KiB PUTs of new files, one at a time. The report
// goes to <out>/<date>-rootfs.md (and stdout). scripts/bench-weed-root.sh
// runs it with a weed mount beside the local disk.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/s3dfs/s3dfs/internal/s3test"
)

type rootFlag []string

func (r *rootFlag) String() string     { return strings.Join(*r, ",") }
func (r *rootFlag) Set(v string) error { *r = append(*r, v); return nil }

type server struct {
	name, dir, root string
	url             string
	cmd             *exec.Cmd
	hot, cold, put  []time.Duration
}

const (
	user   = "bench"
	pass   = "bench-pw"
	files  = 1000
	hotN   = 50
	coldN  = 7
	putN   = 300
	propfd = `<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getetag/></d:prop></d:propfind>`
)

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}, Timeout: 5 * time.Minute}

func main() {
	var roots rootFlag
	out := flag.String("out", "", "directory to write <date>-rootfs.md into (default: stdout only)")
	flag.Var(&roots, "root", "NAME=DIR: a volume to put a root on (repeatable)")
	flag.Parse()
	if len(roots) == 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench/rootfs -root NAME=DIR [-root NAME=DIR ...] [-out DIR]")
		os.Exit(2)
	}
	if err := run(roots, *out); err != nil {
		fmt.Fprintln(os.Stderr, "rootfs:", err)
		os.Exit(1)
	}
}

func run(roots []string, out string) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "s3dfs-bench-rootfs-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "s3dfs")
	if b, err := exec.Command("go", "build", "-o", bin, "./cmd/s3dfs").CombinedOutput(); err != nil {
		return fmt.Errorf("build s3dfs: %v: %s", err, b)
	}
	s3dir := filepath.Join(work, "s3")
	os.Mkdir(s3dir, 0o755)
	s3, err := s3test.StartServer(s3dir)
	if err != nil {
		return err
	}
	defer s3.Stop()
	var srvs []*server
	defer func() {
		for _, s := range srvs {
			s.stop()
			os.RemoveAll(s.root)
		}
	}()
	for i, r := range roots {
		name, dir, ok := strings.Cut(r, "=")
		if !ok {
			return fmt.Errorf("-root %q: want NAME=DIR", r)
		}
		base, err := os.MkdirTemp(dir, "s3dfs-bench-rootfs-*")
		if err != nil {
			return err
		}
		s := &server{name: name, dir: dir, root: base}
		s3args := []string{"--s3-endpoint", s3.Endpoint, "--s3-access-key", s3.AccessKey, "--s3-secret-key", s3.SecretKey,
			"--s3-bucket", fmt.Sprintf("rootfs-%d", i)}
		if b, err := exec.Command(bin, append([]string{"init", "--root", base, "--s3-create-bucket"}, s3args...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("init on %s: %v: %s", name, err, b)
		}
		add := exec.Command(bin, "user", "add", "--root", base, user)
		add.Stdin = strings.NewReader(pass + "\n")
		if b, err := add.CombinedOutput(); err != nil {
			return fmt.Errorf("user add on %s: %v: %s", name, err, b)
		}
		// --volume-checks warn: on a weed mount the servers would refuse
		// writes (its rename is not atomic for readers); measured anyway.
		s.cmd = exec.Command(bin, append([]string{"serve", "--root", base, "--addr", "127.0.0.1:0", "--log-level", "error", "--volume-checks", "warn"}, s3args...)...)
		srvs = append(srvs, s)
		if err := s.start(ctx, bin); err != nil {
			return err
		}
		if err := s.populate(); err != nil {
			return err
		}
	}
	// Interleaved: every repetition asks every server once.
	for i := range max(hotN, putN) {
		for _, s := range srvs {
			if i < hotN {
				d, err := s.propfind()
				if err != nil {
					return err
				}
				s.hot = append(s.hot, d)
			}
			if i < putN {
				d, err := s.request("PUT", fmt.Sprintf("new/p%04d", i), bytes.Repeat([]byte{'p'}, 4096), http.StatusCreated)
				if err != nil {
					return err
				}
				s.put = append(s.put, d)
			}
		}
	}
	for range coldN {
		for _, s := range srvs {
			s.stop()
			dropCaches()
			if err := s.start(ctx, bin); err != nil {
				return err
			}
			d, err := s.propfind()
			if err != nil {
				return err
			}
			s.cold = append(s.cold, d)
		}
	}
	return report(srvs, out)
}

func (s *server) start(ctx context.Context, bin string) error {
	cmd := exec.Command(s.cmd.Path, s.cmd.Args[1:]...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	buf := make([]byte, 256)
	n, _ := io.ReadAtLeast(stdout, buf, len("s3dfs: serving http://1.2.3.4:5/\n"))
	line := string(buf[:n])
	url, ok := strings.CutPrefix(strings.TrimSpace(strings.SplitN(line, "\n", 2)[0]), "s3dfs: serving ")
	if !ok {
		return fmt.Errorf("%s: serve said %q", s.name, line)
	}
	s.url = url + "dav/files/" + user + "/"
	go io.Copy(io.Discard, stdout)
	return nil
}

func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		s.cmd.Wait()
	}
}

func (s *server) populate() error {
	for _, d := range []string{"big", "new"} {
		if _, err := s.request("MKCOL", d, nil, http.StatusCreated); err != nil {
			return err
		}
	}
	for i := range files {
		if _, err := s.request("PUT", fmt.Sprintf("big/f%04d.txt", i), bytes.Repeat([]byte{'x'}, 4096), http.StatusCreated); err != nil {
			return err
		}
	}
	return nil
}

func (s *server) propfind() (time.Duration, error) {
	start := time.Now()
	req, _ := http.NewRequest("PROPFIND", s.url+"big/", strings.NewReader(propfd))
	req.SetBasicAuth(user, pass)
	req.Header.Set("Depth", "1")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil || resp.StatusCode != http.StatusMultiStatus {
		return 0, fmt.Errorf("%s: PROPFIND: %d %v", s.name, resp.StatusCode, err)
	}
	if n := bytes.Count(body, []byte("<d:response>")); n != files+1 {
		return 0, fmt.Errorf("%s: PROPFIND listed %d responses, want %d", s.name, n, files+1)
	}
	return d, nil
}

func (s *server) request(method, path string, body []byte, want int) (time.Duration, error) {
	start := time.Now()
	req, _ := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	req.SetBasicAuth(user, pass)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return 0, fmt.Errorf("%s: %s %s: %d, want %d", s.name, method, path, resp.StatusCode, want)
	}
	return time.Since(start), nil
}

// dropCaches empties the page cache (as root), so that a cold PROPFIND is
// cold on the local disk too; elsewhere it does nothing.
func dropCaches() {
	exec.Command("sync").Run()
	os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200)
}

func q(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func fsType(dir string) string {
	b, err := exec.Command("stat", "-f", "-c", "%T", dir).Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func report(srvs []*server, out string) error {
	var b strings.Builder
	host, _ := os.Hostname()
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(&b, "# s3dfs serve with its metadata root on different volumes\n\n")
	fmt.Fprintf(&b, "Measured by `go run ./bench/rootfs %s` on %s, %s (load average %s at the end). ",
		args(srvs), host, time.Now().UTC().Format(time.RFC3339), strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Fprintf(&b, "One versitygw (local disk) holds the blobs of all; one client; requests take turns between the servers. "+
		"PROPFIND: depth 1 of a folder of %d files, %d hot samples, %d cold (a fresh process after `drop_caches`); PUT: %d new 4 KiB files, one at a time. "+
		"The servers run with `--volume-checks warn` (on a weed mount they would refuse writes: its rename is not atomic for readers).\n\n", files, hotN, coldN, putN)
	fmt.Fprintf(&b, "| root on | fs type | PROPFIND hot median / p90 | PROPFIND cold median | PUT 4 KiB median / p90 |\n|---|---|---|---|---|\n")
	for _, s := range srvs {
		fmt.Fprintf(&b, "| %s (%s) | %s | %s / %s | %s | %s / %s |\n", s.name, s.dir, fsType(s.dir),
			ms(q(s.hot, 0.5)), ms(q(s.hot, 0.9)), ms(q(s.cold, 0.5)), ms(q(s.put, 0.5)), ms(q(s.put, 0.9)))
	}
	fmt.Print(b.String())
	if out == "" {
		return nil
	}
	return os.WriteFile(filepath.Join(out, time.Now().UTC().Format("2006-01-02")+"-rootfs.md"), []byte(b.String()), 0o644)
}

func args(srvs []*server) string {
	var a []string
	for _, s := range srvs {
		a = append(a, "-root "+s.name+"="+s.dir)
	}
	return strings.Join(a, " ")
}
