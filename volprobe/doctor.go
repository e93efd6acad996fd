package volprobe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
)

// DoctorOptions configure Doctor.
type DoctorOptions struct {
	Options
	// Watch is how long the doctor keeps announcing itself and probing
	// the others (several Intervals), so that doctor runs started on
	// several hosts at about the same time find each other.
	Watch time.Duration
	// Helper is the command line of a helper process on this host that
	// runs ServeHelper with the three arguments Doctor appends; nil skips
	// the checks between two processes of this host.
	Helper []string
}

// DefaultDoctorOptions returns the defaults: rounds every second for ten
// seconds.
func DefaultDoctorOptions(root string, witness blobstore.Store) DoctorOptions {
	o := DefaultOptions(root, witness)
	o.Kind, o.Interval = "doctor", time.Second
	return DoctorOptions{Options: o, Watch: 10 * time.Second}
}

// Validate reports what is wrong with o.
func (o DoctorOptions) Validate() error {
	err := o.Options.Validate()
	if o.Watch < 0 {
		err = errors.Join(err, fmt.Errorf("volprobe: options: Watch %v is negative", o.Watch))
	}
	return err
}

// Doctor runs every check on demand and returns the verdict table: the
// local checks, the checks between two processes of this host (with
// o.Helper), and the rounds of a Monitor for o.Watch: the other processes
// that announce themselves in the witness (servers, other doctor runs on
// other hosts) are probed like a server probes them. The error is for a
// doctor that could not run at all.
func Doctor(ctx context.Context, o DoctorOptions) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := ensureDir(o.Root); err != nil {
		return nil, err
	}
	var two []Check
	if len(o.Helper) > 0 {
		two = twoProcesses(ctx, o.Root, o.Helper)
	} else {
		two = []Check{
			{CheckOFDTwoProc, NotRun, "no helper process"},
			{CheckFlockTwoProc, NotRun, "no helper process"},
		}
	}
	var mu sync.Mutex
	var rounds []Round
	mo := o.Options
	// A round that looks at a stale peer takes up to StaleCap: keep a few
	// rounds within the watch.
	mo.StaleCap = max(min(mo.StaleCap, o.Watch/4), mo.MaxStale+mo.Interval)
	prev := mo.afterRound
	mo.afterRound = func(r Round) {
		mu.Lock()
		rounds = append(rounds, r)
		mu.Unlock()
		if prev != nil {
			prev(r)
		}
	}
	m, err := Start(ctx, mo)
	if err != nil {
		return nil, err
	}
	werr := sleepCtx(ctx, o.Watch)
	cerr := m.Close(context.WithoutCancel(ctx))
	if werr != nil {
		return nil, werr
	}
	mu.Lock()
	defer mu.Unlock()
	rep := &Report{Checks: m.LocalChecks()}
	rep.Checks = append(rep.Checks, two...)
	rep.Checks = append(rep.Checks, summarize(m.me.Volume, o.Options, rounds)...)
	if cerr != nil {
		rep.Checks = append(rep.Checks, Check{CheckWitness, Warn, "removing this run's announcement: " + cerr.Error()})
	}
	return rep, nil
}

// summarize turns the rounds into the rows about the witness and the other
// processes.
func summarize(volume string, o Options, rounds []Round) []Check {
	probs := map[string][]string{}
	type seen struct {
		who        string
		ofd, flock map[string]int
		looks      int
		maxStale   time.Duration
		capped     bool
	}
	peers := map[string]*seen{}
	var order []string
	witnessErrs := 0
	var longest time.Duration
	for _, r := range rounds {
		longest = max(longest, r.Took)
		if r.WitnessErr != nil {
			witnessErrs++
		}
		for _, p := range r.Problems {
			if !contains(probs[p.Check], p.Detail) {
				probs[p.Check] = append(probs[p.Check], p.Detail)
			}
		}
		for _, pr := range r.Peers {
			s := peers[pr.ID]
			if s == nil {
				s = &seen{who: pr.Who, ofd: map[string]int{}, flock: map[string]int{}}
				peers[pr.ID] = s
				order = append(order, pr.ID)
			}
			s.ofd[pr.OFD]++
			s.flock[pr.Flock]++
			if pr.Looked {
				s.looks++
				s.maxStale = max(s.maxStale, pr.Stale)
				s.capped = s.capped || pr.Capped
			}
		}
	}
	row := func(name string, ok Check) Check {
		if d := probs[name]; len(d) > 0 {
			detail := d[0]
			if len(d) > 1 {
				detail += fmt.Sprintf(" (and %d more)", len(d)-1)
			}
			return Check{name, Fail, detail}
		}
		return ok
	}
	var out []Check
	out = append(out, row(CheckOwnFiles, Check{CheckOwnFiles, OK, fmt.Sprintf("written in %d rounds, every %v (the longest round took %v)",
		len(rounds), o.Interval, longest.Round(time.Millisecond))}))
	w := Check{CheckWitness, OK, fmt.Sprintf("%d rounds, every request answered", len(rounds))}
	if witnessErrs > 0 {
		w = Check{CheckWitness, Warn, fmt.Sprintf("%d of %d rounds could not reach it", witnessErrs, len(rounds))}
	}
	out = append(out, row(CheckWitness, w))

	var whos []string
	for _, id := range order {
		whos = append(whos, peers[id].who)
	}
	if len(order) == 0 {
		none := "no other process announced itself during the watch: run the doctor on the other hosts at the same time (or while servers run) to check across them"
		out = append(out,
			Check{CheckPeers, NotRun, none},
			row(CheckVolumeID, Check{CheckVolumeID, OK, "volume id " + volume}),
			row(CheckOFDPeers, Check{CheckOFDPeers, NotRun, "no other process"}),
			row(CheckFlockPeers, Check{CheckFlockPeers, NotRun, "no other process"}),
			row(CheckStaleness, Check{CheckStaleness, NotRun, "no other process"}),
		)
		return out
	}
	out = append(out, Check{CheckPeers, OK, fmt.Sprintf("%d: %s", len(order), strings.Join(whos, "; "))})
	out = append(out, row(CheckVolumeID, Check{CheckVolumeID, OK, fmt.Sprintf("volume id %s, the same for all %d", volume, len(order)+1)}))
	lockRow := func(name string, get func(*seen) map[string]int) Check {
		refused, granted, probed := 0, 0, 0
		for _, id := range order {
			st := get(peers[id])
			refused += st["refused"]
			granted += st["granted"]
			if st["refused"]+st["granted"]+st["confirmed"] > 0 {
				probed++
			}
		}
		c := Check{name, OK, fmt.Sprintf("refused to this process %d times, by %d of %d processes, as it must be", refused, probed, len(order))}
		switch {
		case probed == 0:
			c = Check{name, NotRun, "no other process could be probed"}
		case granted > 0:
			c = Check{name, Warn, fmt.Sprintf("granted %d times without the holder confirming (it may have stopped meanwhile); refused %d times", granted, refused)}
		}
		return row(name, c)
	}
	out = append(out, lockRow(CheckOFDPeers, func(s *seen) map[string]int { return s.ofd }))
	out = append(out, lockRow(CheckFlockPeers, func(s *seen) map[string]int { return s.flock }))
	looks, worst, capped := 0, time.Duration(0), false
	for _, id := range order {
		looks += peers[id].looks
		worst = max(worst, peers[id].maxStale)
		capped = capped || peers[id].capped
	}
	st := Check{CheckStaleness, OK, fmt.Sprintf("%d looks at the others' files: every change showed at once (allowed: %v, %s cache mode)", looks, o.MaxStale, modeName(o.MaxStale))}
	if worst > 0 {
		st.Detail = fmt.Sprintf("%d looks at the others' files: at worst %v late (allowed: %v, %s cache mode)", looks, worst.Round(time.Millisecond), o.MaxStale, modeName(o.MaxStale))
	}
	if looks == 0 {
		st = Check{CheckStaleness, NotRun, "no look at another process's files completed"}
	}
	out = append(out, row(CheckStaleness, st))
	return out
}

// twoProcesses checks that a helper process's OFD lock and flock exclude
// this process, and are released when the helper exits.
func twoProcesses(ctx context.Context, root string, helper []string) []Check {
	ofd, fl := Check{Name: CheckOFDTwoProc}, Check{Name: CheckFlockTwoProc}
	both := func(err error) []Check { return []Check{fail(ofd, err), fail(fl, err)} }
	lockPath := filepath.Join(root, "locks")
	flockPath := filepath.Join(root, volumeDir, ".check-"+randomID()+".h")
	fh, err := createFile(flockPath)
	if err != nil {
		return both(err)
	}
	defer os.Remove(flockPath)
	defer fh.Close()
	lf, err := openLockFile(lockPath)
	if err != nil {
		return both(err)
	}
	defer lf.Close()
	off := randomOffset()

	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(hctx, helper[0], append(helper[1:], lockPath, strconv.FormatInt(off, 10), flockPath)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return both(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return both(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return both(fmt.Errorf("start the helper process: %w", err))
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "held" {
		stdin.Close()
		werr := cmd.Wait()
		return both(fmt.Errorf("the helper process did not take its locks (%v): %s", werr, strings.TrimSpace(stderr.String())))
	}
	ofdHeld, ofdErr := tryOFD(lf, off)
	flHeld, flErr := tryFlock(fh)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return both(fmt.Errorf("the helper process: %v: %s", err, strings.TrimSpace(stderr.String())))
	}
	ofdAfter, ofdErr2 := tryOFD(lf, off)
	flAfter, flErr2 := tryFlock(fh)
	judge := func(c Check, during bool, err1 error, after bool, err2 error, what string) Check {
		switch {
		case err1 != nil || err2 != nil:
			return fail(c, errors.Join(err1, err2))
		case during:
			c.Status, c.Detail = Fail, "the "+what+" held by another process on this host was granted to this one"
		case !after:
			c.Status, c.Detail = Fail, "the "+what+" of a process that exited was still refused"
		default:
			c.Detail = "refused while a helper process held it, granted once it exited"
		}
		return c
	}
	return []Check{
		judge(ofd, ofdHeld, ofdErr, ofdAfter, ofdErr2, "OFD lock"),
		judge(fl, flHeld, flErr, flAfter, flErr2, "flock"),
	}
}

// ServeHelper is the helper process of Doctor: with args LOCKFILE OFFSET
// FLOCKFILE it takes the OFD lock on byte OFFSET of LOCKFILE and a flock on
// FLOCKFILE, writes "held" to stdout, and returns when stdin ends (the
// process's exit then releases both).
func ServeHelper(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) != 3 {
		return fmt.Errorf("volprobe: helper: want LOCKFILE OFFSET FLOCKFILE, got %q", args)
	}
	off, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		return fmt.Errorf("volprobe: helper: offset: %w", err)
	}
	lf, err := openLockFile(args[0])
	if err != nil {
		return err
	}
	defer lf.Close()
	if ok, err := tryOFD(lf, off); err != nil || !ok {
		return fmt.Errorf("volprobe: helper: lock byte %d of %s: granted %t, %v", off, args[0], ok, err)
	}
	fh, err := os.Open(args[2])
	if err != nil {
		return err
	}
	defer fh.Close()
	if ok, err := tryFlock(fh); err != nil || !ok {
		return fmt.Errorf("volprobe: helper: flock %s: granted %t, %v", args[2], ok, err)
	}
	if _, err := fmt.Fprintln(stdout, "held"); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, stdin)
	return err
}
