package volprobe

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// hostInfo tells whether an announcing process runs in this kernel and pid
// namespace, where its liveness can be read from /proc.
type hostInfo struct {
	name   string
	bootID string
	pidNS  string
}

func thisHost() hostInfo {
	h := hostInfo{}
	h.name, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		h.bootID = strings.TrimSpace(string(b))
	}
	h.pidNS, _ = os.Readlink("/proc/self/ns/pid")
	return h
}

// startTicks is field 22 of /proc/<pid>/stat, the process's start time in
// clock ticks since boot: with the pid it names one process of one boot.
func startTicks(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after its last ')' are plain.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("volprobe: unreadable /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, errors.New("volprobe: short /proc stat")
	}
	return strconv.ParseUint(f[19], 10, 64) // field 22 is the 20th after the name
}

// gone reports whether a is a process of this boot and pid namespace that
// no longer runs. Elsewhere nothing can be said (false).
func (h hostInfo) gone(a *announcement) bool {
	if h.bootID == "" || h.pidNS == "" || a.BootID != h.bootID || a.PIDNS != h.pidNS || a.Started == 0 {
		return false
	}
	t, err := startTicks(a.PID)
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	return err == nil && t != a.Started
}
