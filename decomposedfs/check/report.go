package check

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// A report is NDJSON: one {"type":"finding",...} line per finding, in
// report order, and a {"type":"summary",...} line last. A repair run
// appends {"type":"repair",...} lines (one per finding acted on) and a
// {"type":"repair-summary",...} line to its own log. Reports are meant to
// be read, filtered (grep -v a finding out to leave it alone) and fed back
// with --apply-from.

// ReportWriter writes a report.
type ReportWriter struct {
	w   io.Writer
	enc *json.Encoder
}

// NewReportWriter writes NDJSON to w.
func NewReportWriter(w io.Writer) *ReportWriter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &ReportWriter{w: w, enc: enc}
}

type findingLine struct {
	Type string `json:"type"`
	*Finding
}

// Finding writes one finding line.
func (rw *ReportWriter) Finding(f *Finding) error {
	return rw.enc.Encode(findingLine{Type: "finding", Finding: f})
}

// Summary writes the summary line.
func (rw *ReportWriter) Summary(s *Summary) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Type = "summary"
	return rw.enc.Encode(s)
}

// Line writes any record (repair outcomes and summaries).
func (rw *ReportWriter) Line(v any) error { return rw.enc.Encode(v) }

// ReadReport calls fn for every finding of an NDJSON report and returns
// its summary (nil if the report has none: it was cut off). Lines of other
// types are skipped.
func ReadReport(r io.Reader, fn func(*Finding) error) (*Summary, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var sum *Summary
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(b, &head); err != nil {
			return sum, fmt.Errorf("check: report line %d: %w", line, err)
		}
		switch head.Type {
		case "finding":
			f := new(Finding)
			if err := json.Unmarshal(b, f); err != nil {
				return sum, fmt.Errorf("check: report line %d: %w", line, err)
			}
			if _, ok := classByCode[f.Code]; !ok {
				return sum, fmt.Errorf("check: report line %d: unknown code %q", line, f.Code)
			}
			if fn != nil {
				if err := fn(f); err != nil {
					return sum, err
				}
			}
		case "summary":
			s := new(Summary)
			if err := json.Unmarshal(b, s); err != nil {
				return sum, fmt.Errorf("check: report line %d: %w", line, err)
			}
			sum = s
		}
	}
	return sum, sc.Err()
}

// ReadReportFile is ReadReport of a file.
func ReadReportFile(path string, fn func(*Finding) error) (*Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadReport(f, fn)
}

// ErrNoSummary: a report without its summary line was cut off, and a
// repair cannot know when its findings were true.
var ErrNoSummary = errors.New("check: the report has no summary line (cut off?)")
