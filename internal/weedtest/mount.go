package weedtest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Mount is a `weed mount` process: a filer path as a FUSE file system.
type Mount struct {
	Dir       string // the mount point
	FilerPath string
	LogPath   string

	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// StartMount mounts the filer path of filer (host:httpport.grpcport) on
// dir, an existing empty directory, with its cache in cacheDir, and waits
// until the kernel lists the mount. The filer path is created if missing.
// Each mount is a FUSE client of its own, as a mount on another host would
// be. The caller must call Unmount.
func StartMount(filer, filerPath, dir, cacheDir string) (*Mount, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("fusermount3"); err != nil {
		return nil, fmt.Errorf("weedtest: weed mount needs fusermount3: apt-get install fuse3 (scripts/install-seaweedfs.sh does)")
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	log, err := os.CreateTemp("", "s3dfs-weed-mount-*.log")
	if err != nil {
		return nil, fmt.Errorf("weedtest: %w", err)
	}
	defer log.Close()
	m := &Mount{Dir: dir, FilerPath: filerPath, LogPath: log.Name(), exited: make(chan struct{})}
	m.cmd = exec.Command(bin, "mount",
		"-filer="+filer, "-filer.path="+filerPath, "-dir="+dir, "-dirAutoCreate",
		"-cacheDir="+cacheDir, "-localSocket="+filepath.Join(cacheDir, "mount.sock"))
	m.cmd.Stdout, m.cmd.Stderr = log, log
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		os.Remove(m.LogPath)
		return nil, fmt.Errorf("weedtest: start %s mount: %w", bin, err)
	}
	go func() {
		m.err = m.cmd.Wait()
		close(m.exited)
	}()
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !mounted(dir) {
		if time.Now().After(deadline) {
			tail := logTail(m.LogPath, 20)
			m.Unmount()
			return nil, fmt.Errorf("weedtest: %s did not appear as a FUSE mount within %v\n--- weed mount output (tail) ---\n%s", dir, readyTimeout, tail)
		}
		select {
		case <-m.exited:
			tail := logTail(m.LogPath, 20)
			os.Remove(m.LogPath)
			return nil, fmt.Errorf("weedtest: weed mount of %s exited: %v\n--- weed mount output (tail) ---\n%s", dir, m.err, tail)
		case <-tick.C:
		}
	}
	return m, nil
}

// mounted reports whether dir is a FUSE mount point of this mount
// namespace.
func mounted(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ... - fstype source ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[4] != dir {
			continue
		}
		for i, x := range fields {
			if x == "-" && i+1 < len(fields) && strings.HasPrefix(fields[i+1], "fuse") {
				return true
			}
		}
	}
	return false
}

// Unmount unmounts (fusermount3 -u, lazily if busy) and stops the weed
// mount process. It is safe to call more than once.
func (m *Mount) Unmount() error {
	var err error
	if mounted(m.Dir) {
		if out, uerr := exec.Command("fusermount3", "-u", m.Dir).CombinedOutput(); uerr != nil {
			if out2, uerr2 := exec.Command("fusermount3", "-u", "-z", m.Dir).CombinedOutput(); uerr2 != nil {
				err = fmt.Errorf("weedtest: fusermount3 -u %s: %v: %s; -z: %v: %s", m.Dir, uerr, out, uerr2, out2)
			}
		}
	}
	stopGroup(m.cmd, m.exited, 10*time.Second)
	if rerr := os.Remove(m.LogPath); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}
