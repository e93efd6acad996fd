package bench

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows how far a run is: a bar on a terminal (Config.Progress),
// a line per step in a log (Config.Log), or nothing.
type progress struct {
	bar *progressbar.ProgressBar
	log io.Writer
}

func newProgress(cfg Config, total int) *progress {
	p := &progress{log: cfg.Log}
	if cfg.Progress != nil {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(cfg.Progress),
			progressbar.OptionSetWidth(24),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionFullWidth(),
		)
	}
	return p
}

// step says what the run does now.
func (p *progress) step(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.bar != nil {
		p.bar.Describe(msg)
	}
	if p.log != nil {
		fmt.Fprintf(p.log, "%s %s\n", time.Now().Format("15:04:05.000"), msg)
	}
}

// done counts n units of work as done.
func (p *progress) done(n int) {
	if p.bar != nil {
		_ = p.bar.Add(n)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// totalUnits counts the units of work of a run: per filesystem, one per
// dataset phase and per case preparation, one per measurement.
func totalUnits(cfg Config) int {
	n := 0
	for _, ph := range cfg.Plan() {
		n++
		for range ph.Cases {
			n += 1 + cfg.Reps*len(cfg.Backends)
		}
	}
	return n * len(cfg.FS)
}
