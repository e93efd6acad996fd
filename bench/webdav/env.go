package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// environment describes the run for the report, so that a figure can be
// traced to the machine and the code it came from.
type environment struct {
	command    string
	date       time.Time
	commit     string
	goVersion  string
	kernel     string
	cpu        string
	cores      int
	memory     string
	fs         string // filesystem of the work directory: type and mount options
	work       string
	versions   map[string]string // peer -> version line
	loadBefore string
	loadAfter  string
	duration   time.Duration
	phases     []phase
}

// phase is one workload of the run: how long it took and how busy the
// machine was when it started.
type phase struct {
	name string
	load string // load average (1, 5, 15 min) at its start
	took time.Duration
}

func collectEnv(modRoot, work string, c config) environment {
	cmd := "go run ./bench/webdav"
	if len(os.Args) > 1 {
		cmd += " " + strings.Join(os.Args[1:], " ")
	}
	e := environment{
		command:   cmd,
		date:      time.Now().UTC(),
		goVersion: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		kernel:    strings.TrimSpace(readFile("/proc/sys/kernel/ostype") + " " + readFile("/proc/sys/kernel/osrelease")),
		cpu:       cpuModel(),
		cores:     runtime.NumCPU(),
		memory:    memTotal(),
		fs:        mountOf(work),
		work:      work,
	}
	e.commit = output(modRoot, "git", "rev-parse", "--short", "HEAD")
	if e.commit == "" {
		e.commit = "unknown"
	} else if output(modRoot, "git", "status", "--porcelain", "--untracked-files=no") != "" {
		e.commit += " (with uncommitted changes in the tree)"
	}
	return e
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// output runs a command and returns its trimmed stdout, or "" if it fails.
func output(dir, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	b, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func cpuModel() string {
	for _, line := range strings.Split(readFile("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	for _, line := range strings.Split(readFile("/proc/meminfo"), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
			return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return "?"
}

func loadAvg() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// mountOf finds the mount that holds path in /proc/self/mountinfo and
// describes it as "ext4 on / (rw,relatime)".
func mountOf(path string) string {
	path, _ = filepath.EvalSymlinks(path)
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "?"
	}
	defer f.Close()
	best, desc := -1, "?"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := bytes.Cut(sc.Bytes(), []byte(" - "))
		if !ok {
			continue
		}
		a, b := strings.Fields(string(pre)), strings.Fields(string(post))
		if len(a) < 6 || len(b) < 1 {
			continue
		}
		mp := unescapeMount(a[4])
		if !within(path, mp) || len(mp) <= best {
			continue
		}
		best = len(mp)
		desc = fmt.Sprintf("%s on %s (%s)", b[0], mp, a[5])
	}
	return desc
}

func within(path, dir string) bool {
	return dir == "/" || path == dir || strings.HasPrefix(path, dir+"/")
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// moduleRoot is the directory of the go.mod of the module being measured.
func moduleRoot() (string, error) {
	gomod := output(".", "go", "env", "GOMOD")
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run this from inside the s3dfs module (go env GOMOD is empty)")
	}
	return filepath.Dir(gomod), nil
}
