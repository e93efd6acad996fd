package cli

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/s3dfs/s3dfs/decomposedfs/check"
)

// checkOutput prints findings, outcomes and summaries for people, or as
// NDJSON.
type checkOutput struct {
	w    io.Writer
	json *check.ReportWriter // nil for people
}

func newCheckOutput(a *app, asJSON bool) *checkOutput {
	o := &checkOutput{w: a.stdout}
	if asJSON {
		o.json = check.NewReportWriter(a.stdout)
	}
	return o
}

func (o *checkOutput) finding(f *check.Finding) error {
	if o.json != nil {
		return o.json.Finding(f)
	}
	_, err := fmt.Fprintln(o.w, f.String())
	return err
}

func (o *checkOutput) outcome(oc *check.Outcome) {
	if o.json != nil {
		o.json.Line(oc)
		return
	}
	f := oc.Finding
	where := f.Path
	if where == "" {
		where = f.File
	}
	if where == "" {
		where = f.Blob
	}
	line := fmt.Sprintf("%-8s %s %s", oc.Result, f.Code, where)
	if oc.Action != "" {
		line += ": " + oc.Action
	}
	if oc.Reason != "" {
		line += " (" + oc.Reason + ")"
	}
	fmt.Fprintln(o.w, line)
}

func (o *checkOutput) summary(s *check.Summary, report string) error {
	if o.json != nil {
		return o.json.Summary(s)
	}
	w := o.w
	took := s.Finished.Sub(s.Started).Round(time.Millisecond)
	fmt.Fprintf(w, "\nchecked %d space(s): %d nodes (%d folders, %d files), %d blobs (%s) in %s\n",
		len(s.Spaces), s.Nodes, s.Folders, s.Files, s.Blobs, sizeText(s.BlobBytes), took)
	if s.Aborted != "" {
		fmt.Fprintf(w, "the check stopped early: %s\n", s.Aborted)
	}
	if s.Errors > 0 {
		fmt.Fprintf(w, "%d read or listing error(s): the check is incomplete, and repair deletes nothing after it\n", s.Errors)
		for _, e := range s.ErrorSamples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	if s.Findings == 0 {
		fmt.Fprintln(w, "no findings")
	} else {
		fmt.Fprintf(w, "%d finding(s), worst: %s\n", s.Findings, s.Worst)
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		for _, cl := range check.Classes() {
			if n := s.Counts[cl.Code]; n > 0 {
				fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", cl.Severity, cl.Code, n, sizeText(s.Bytes[cl.Code]))
			}
		}
		tw.Flush()
	}
	if s.Skipped > 0 {
		fmt.Fprintf(w, "%d suspicious value(s) changed while the check ran and were left for the next run\n", s.Skipped)
	}
	if len(s.Spaces) > 0 {
		fmt.Fprintln(w, "where the bytes are, per space:")
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "  space\tlive\ttrash\tlost\tuploads\tstored\torphaned\tmissing\t")
		ids := make([]string, 0, len(s.Spaces))
		for id := range s.Spaces {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			ss := s.Spaces[id]
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", id, sizeText(ss.LiveBytes), sizeText(ss.TrashBytes),
				sizeText(ss.LostBytes), sizeText(ss.UploadBytes), sizeText(ss.BlobBytes), sizeText(ss.OrphanBytes), sizeText(ss.MissingBytes))
		}
		tw.Flush()
	}
	if report != "" {
		fmt.Fprintf(w, "report: %s\n", report)
	}
	return nil
}

func (o *checkOutput) repairSummary(rs *check.RepairSummary) error {
	if o.json != nil {
		return o.json.Line(rs)
	}
	fmt.Fprintf(o.w, "\nrepair run %s: %d repaired, %d resolved meanwhile, %d skipped, %d failed, %d not repairable\n",
		rs.Run, rs.Repaired, rs.Resolved, rs.Skipped, rs.Failed, rs.NotRepairable)
	if !rs.CheckComplete {
		fmt.Fprintln(o.w, "the check was incomplete: nothing was taken out of the store")
	}
	if rs.QuarantinedBlobs > 0 || rs.MovedFiles > 0 {
		fmt.Fprintf(o.w, "quarantined: %d blob(s) (%s), %d file(s); undo with: s3dfs check undo %s\n",
			rs.QuarantinedBlobs, sizeText(rs.QuarantinedBytes), rs.MovedFiles, rs.Run)
	}
	if rs.LostAndFound > 0 {
		fmt.Fprintf(o.w, "%d node(s) moved to /lost+found/%s/ of their spaces\n", rs.LostAndFound, rs.Run)
	}
	return nil
}

// sizeText is a byte count for people: 0 B, 1.5 KiB, 3.2 GiB.
func sizeText(n int64) string {
	if n < 1024 && n > -1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		f /= 1024
		if f < 1024 && f > -1024 || u == "PiB" {
			return strconv.FormatFloat(f, 'f', 1, 64) + " " + u
		}
	}
	return ""
}

// checkBar is the progress bar on stderr (or nothing).
type checkBar struct {
	mu  sync.Mutex // guards bar
	bar *progressbar.ProgressBar
}

func (a *app) progressBar(c *checkConfig) *checkBar {
	show := c.progress.value == "always"
	if c.progress.value == "auto" {
		f, ok := a.stderr.(*os.File)
		show = ok && term.IsTerminal(int(f.Fd()))
	}
	if !show {
		return &checkBar{}
	}
	return &checkBar{bar: progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(a.stderr),
		progressbar.OptionSetDescription("checking"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("items"),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)}
}

func (b *checkBar) update(p check.Progress) {
	if b.bar == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bar.Describe(fmt.Sprintf("%s: %d nodes, %d blobs, %d findings", p.Step, p.Nodes, p.Blobs, p.Findings))
	b.bar.Set64(p.Nodes + p.Blobs)
}

// clear takes the bar off the line before other output.
func (b *checkBar) clear() {
	if b.bar == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bar.Clear()
}

func (b *checkBar) finish() {
	if b.bar == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bar.Finish()
}
