package volprobe

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Status is the verdict of one check.
type Status int

const (
	// OK: the volume gives what the design needs.
	OK Status = iota
	// Warn: it works, with a fallback or a cost the detail names.
	Warn
	// Fail: the volume is not safe for s3dfs.
	Fail
	// NotRun: nothing to check against (no other process was seen, say).
	NotRun
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	case Fail:
		return "FAIL"
	case NotRun:
		return "-"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// The names of the checks, as rows of the doctor's table and as the
// subjects of a Problem.
const (
	CheckXattr          = "xattrs"
	CheckNanoTime       = "nanosecond times"
	CheckRenameNoRepl   = "RENAME_NOREPLACE"
	CheckAtomicRename   = "rename over a file, for readers"
	CheckDirFsync       = "directory fsync"
	CheckOFDOneProc     = "OFD locks, one process"
	CheckFlockOneProc   = "flock, one process"
	CheckOFDTwoProc     = "OFD locks, two processes on this host"
	CheckFlockTwoProc   = "flock, two processes on this host"
	CheckOwnFiles       = "probe files"
	CheckWitness        = "witness (bucket)"
	CheckVolumeID       = "volume identity"
	CheckOFDPeers       = "OFD locks across processes and hosts"
	CheckFlockPeers     = "flock across processes and hosts"
	CheckStaleness      = "staleness"
	CheckPeers          = "other processes seen"
	checkNotYetVerified = "first round"
)

// Check is one row of a verdict table.
type Check struct {
	Name   string
	Status Status
	Detail string
}

// Problem is one reason why the volume is not safe: Check says which
// property failed (one of the Check* names), Detail says what was seen,
// with the hosts and paths involved (for the log and the doctor; the
// server shows only Check to its clients).
type Problem struct {
	Check  string
	Detail string
}

// ErrUnsafe is in the chain of Monitor.Err when a check failed.
var ErrUnsafe = errors.New("volprobe: the metadata volume is not safe for writes")

// ErrUnverified is in the chain of Monitor.Err before the first round, and
// when the witness could not be reached for too long to vouch for the
// volume.
var ErrUnverified = errors.New("volprobe: the metadata volume is not verified")

// VerdictError is what Monitor.Err returns while writes must be refused.
type VerdictError struct {
	// Kind is ErrUnsafe or ErrUnverified.
	Kind error
	// Problems are the failures of the last failing round.
	Problems []Problem
	// Passed counts the rounds passed since, of the Need needed to recover.
	Passed, Need int
}

func (e *VerdictError) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	for i, p := range e.Problems {
		b.WriteString(map[bool]string{true: ": ", false: "; "}[i == 0])
		b.WriteString(p.Check + ": " + p.Detail)
	}
	if e.Need > 0 {
		fmt.Fprintf(&b, " (recovering: %d of %d rounds passed)", e.Passed, e.Need)
	}
	return b.String()
}

func (e *VerdictError) Unwrap() error { return e.Kind }

// Summary is the verdict without hosts, paths or ids: for HTTP clients.
func (e *VerdictError) Summary() string {
	names := problemChecks(e.Problems)
	s := strings.TrimPrefix(e.Kind.Error(), "volprobe: ")
	if len(names) > 0 {
		s += " (failed: " + strings.Join(names, ", ") + ")"
	}
	if e.Need > 0 {
		s += fmt.Sprintf(", recovering: %d of %d rounds passed", e.Passed, e.Need)
	}
	return s
}

// Summary returns err's client-safe summary if it is a *VerdictError, else
// its text.
func Summary(err error) string {
	var ve *VerdictError
	if errors.As(err, &ve) {
		return ve.Summary()
	}
	return err.Error()
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Report is the doctor's verdict table.
type Report struct {
	Checks []Check
}

// Failed reports whether a check failed.
func (r *Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// WriteTable writes the report as an aligned table and a last line with
// the overall verdict.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tVERDICT\tDETAIL")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Status, c.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "the volume gives what s3dfs needs"
	if r.Failed() {
		verdict = "NOT SAFE: s3dfs servers on this volume refuse writes"
	}
	_, err := fmt.Fprintf(w, "\nverdict: %s\n", verdict)
	return err
}
