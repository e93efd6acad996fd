package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Stamp identifies a run: what ran, where, and how to run it again.
type Stamp struct {
	Started     time.Time         `json:"started"`
	Finished    time.Time         `json:"finished"`
	Host        string            `json:"host"`
	CPU         string            `json:"cpu"`
	Cores       int               `json:"cores"`
	Memory      string            `json:"memory"`
	Kernel      string            `json:"kernel"`
	Go          string            `json:"go"`
	Commit      string            `json:"commit,omitempty"`
	CommandLine string            `json:"command_line"`
	Seed        int64             `json:"seed"`
	Modules     map[string]string `json:"modules,omitempty"`
}

func newStamp(cfg Config) Stamp {
	s := Stamp{Started: time.Now().UTC(), Cores: runtime.NumCPU(), Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, Seed: cfg.Seed}
	s.Host, _ = os.Hostname()
	s.CPU = cpuModel()
	s.Memory = memTotal()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		s.Kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:])
	}
	args := cfg.CommandLine
	if args == nil {
		args = os.Args
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	if len(quoted) > 0 {
		quoted[0] = filepath.Base(args[0])
	}
	s.CommandLine = strings.Join(quoted, " ")
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, modified string
		for _, kv := range bi.Settings {
			switch kv.Key {
			case "vcs.revision":
				rev = kv.Value
			case "vcs.modified":
				modified = kv.Value
			}
		}
		if rev != "" {
			s.Commit = rev[:min(12, len(rev))]
			if modified == "true" {
				s.Commit += " (with uncommitted changes)"
			}
		}
		s.Modules = map[string]string{}
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/jackc/pgx/v5", "modernc.org/sqlite", "github.com/minio/minio-go/v7":
				s.Modules[d.Path] = d.Version
			}
		}
	}
	return s
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?;&|<>()[]{}~#") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return ""
	}
	return fmt.Sprintf("%.0f GiB", float64(si.Totalram)*float64(si.Unit)/(1<<30))
}

// loadAvg is the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// fsType names the filesystem of dir and its mount options.
func fsType(dir string) (typ, opts string) {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) == nil {
		switch st.Type {
		case unix.EXT4_SUPER_MAGIC:
			typ = "ext4"
		case unix.TMPFS_MAGIC:
			typ = "tmpfs"
		case unix.XFS_SUPER_MAGIC:
			typ = "xfs"
		case unix.BTRFS_SUPER_MAGIC:
			typ = "btrfs"
		case unix.NFS_SUPER_MAGIC:
			typ = "nfs"
		default:
			typ = fmt.Sprintf("0x%x", st.Type)
		}
	}
	// The longest mount point that contains dir.
	abs, err := filepath.Abs(dir)
	if err != nil {
		return typ, ""
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return typ, ""
	}
	best := -1
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		mp := f[4]
		if (abs == mp || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > best {
			best, opts = len(mp), f[5]
		}
	}
	return typ, opts
}
