package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// WriteFiles writes the report to dir as name.md, name.csv, name.json and
// the charts as name-FS-CHART.png.
func (r *Report) WriteFiles(dir, name string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	charts, err := r.WriteCharts(dir, name)
	if err != nil {
		return err
	}
	write := func(ext string, fn func(io.Writer) error) error {
		f, err := os.Create(filepath.Join(dir, name+ext))
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := write(".md", func(w io.Writer) error { return r.Markdown(w, charts) }); err != nil {
		return err
	}
	if err := write(".csv", r.CSV); err != nil {
		return err
	}
	return write(".json", r.JSON)
}

// JSON writes the whole report, samples summarized, as indented JSON.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// csvHeader are the columns of CSV.
var csvHeader = []string{"fs", "dataset", "workload", "variant", "cache", "mode", "durability", "placement", "workers",
	"depth", "children", "backend", "ops_per_sec", "p50_us", "p95_us", "p99_us", "allocs_per_op", "bytes_per_op",
	"peak_rss_bytes", "ops", "reps", "rates"}

// CSV writes one row per result.
func (r *Report) CSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	us := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e3, 'f', 3, 64) }
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
	for _, res := range r.Results {
		c := res.Case
		rates := make([]string, len(res.Rates))
		for i, x := range res.Rates {
			rates[i] = f(x)
		}
		if err := cw.Write([]string{res.FS, strconv.Itoa(c.Dataset), c.Workload, c.Variant, c.Cache, c.Mode, string(c.Durability),
			c.Placement, strconv.Itoa(c.Workers), strconv.Itoa(c.Depth), strconv.Itoa(c.Children), res.Backend,
			f(res.OpsPerSec), us(res.P50), us(res.P95), us(res.P99), f(res.AllocsPerOp), f(res.BytesPerOp),
			strconv.FormatInt(res.PeakRSS, 10), strconv.FormatInt(res.Ops, 10), strconv.Itoa(len(res.Rates)),
			strings.Join(rates, " ")}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// workloadTitles head the report's sections.
var workloadTitles = map[string]string{
	"stat-id":        "Stat by id",
	"stat-path":      "Stat by path",
	"list":           "List a folder",
	"create-files":   "Create files",
	"create-folders": "Create folders",
	"rename":         "Rename a file",
	"move":           "Move a folder",
	"delete":         "Delete (to the trash)",
	"upload-small":   "Small uploads (1-16 KiB)",
	"mixed":          "Mixed reads and writes",
	"upload-burst":   "Upload burst into one folder",
}

// Markdown writes the report; charts are the chart files by filesystem.
func (r *Report) Markdown(w io.Writer, charts map[string][]string) error {
	var b strings.Builder
	title := "s3dfs bench: file-based and DB-backed metadata, side by side"
	if r.Config.Quick {
		title += " (quick smoke run)"
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	s := r.Stamp
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| started | %s (took %s) |\n", s.Started.Format(time.RFC3339), s.Finished.Sub(s.Started).Round(time.Second))
	fmt.Fprintf(&b, "| machine | %s: %s, %d cores, %s, %s |\n", s.Host, s.CPU, s.Cores, s.Memory, s.Kernel)
	fmt.Fprintf(&b, "| Go | %s |\n", s.Go)
	if s.Commit != "" {
		fmt.Fprintf(&b, "| commit | %s |\n", s.Commit)
	}
	fmt.Fprintf(&b, "| command | `%s` |\n", s.CommandLine)
	fmt.Fprintf(&b, "| seed | %d |\n", s.Seed)
	var bes []string
	for _, name := range r.Config.Backends {
		be, _ := lookupBackend(name)
		bes = append(bes, fmt.Sprintf("%s (%s)", name, be.Kind))
	}
	fmt.Fprintf(&b, "| backends | %s; ratios are to %s |\n", strings.Join(bes, ", "), r.ref())
	if len(s.Modules) > 0 {
		var mods []string
		for _, m := range []string{"github.com/jackc/pgx/v5", "modernc.org/sqlite", "github.com/minio/minio-go/v7"} {
			if v, ok := s.Modules[m]; ok {
				mods = append(mods, m+" "+v)
			}
		}
		fmt.Fprintf(&b, "| modules | %s |\n", strings.Join(mods, ", "))
	}
	fmt.Fprintf(&b, "| repetitions | %d per case; ops/s is their median, percentiles are of all their operations |\n", r.Config.Reps)
	fmt.Fprintf(&b, "| content | %s blob store |\n", r.Config.Blobs)
	if r.Config.User != "" {
		fmt.Fprintf(&b, "| requests | as user %q, the owner of every space |\n", r.Config.User)
	}
	b.WriteString("\n")
	if r.Error != "" {
		fmt.Fprintf(&b, "**The run failed and stopped early:**\n\n```\n%s\n```\n\n", r.Error)
	}

	b.WriteString("## Targets\n\nEach compares figures measured in the same run, on the same filesystem.\n\n")
	b.WriteString("| target | filesystem | verdict | measured |\n|---|---|---|---|\n")
	for _, v := range r.Targets {
		verdict := v.Status
		switch v.Status {
		case "met":
			verdict = "**met**"
		case "missed":
			verdict = "**missed**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", v.Target, r.fsLabel(v.FS), verdict, v.Detail)
	}

	nodes := 0
	for _, c := range r.Checks {
		nodes += c.Nodes
	}
	fmt.Fprintf(&b, "\n## Cross-check\n\n")
	if r.Error == "" {
		fmt.Fprintf(&b, "All %d comparisons of the backends' trees agreed (%d node listings compared per backend): "+
			"after every write workload the subtrees it wrote, after every dataset phase the whole tree; names, types, sizes and tree sizes.\n", len(r.Checks), nodes)
	} else {
		fmt.Fprintf(&b, "%d comparisons of the backends' trees agreed before the run stopped.\n", len(r.Checks))
	}

	for _, fi := range r.Filesystems {
		fmt.Fprintf(&b, "\n## %s\n\n", r.fsLabel(fi.Path))
		fmt.Fprintf(&b, "- mount options: `%s`\n", fi.Mount)
		fmt.Fprintf(&b, "- load average (1, 5, 15 min): %s before, %s after; took %s\n", fi.LoadBefore, fi.LoadAfter, fi.Duration)
		if fi.Postgres != "" {
			fmt.Fprintf(&b, "- %s\n", fi.Postgres)
		}
		if fi.S3 != "" {
			fmt.Fprintf(&b, "- S3: %s\n", fi.S3)
		}
		b.WriteString("\n")
		for _, c := range charts[fi.Path] {
			fmt.Fprintf(&b, "![%s](%s)\n", strings.TrimSuffix(c, ".png"), c)
		}
		r.overview(&b, fi.Path)
		r.details(&b, fi.Path)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ref is the backend ratios are given against.
func (r *Report) ref() string {
	if len(r.Config.Backends) == 0 {
		return ""
	}
	return r.Config.Backends[0]
}

func (r *Report) fsLabel(path string) string {
	for _, fi := range r.Filesystems {
		if fi.Path == path && fi.Type != "" {
			return fmt.Sprintf("%s (%s)", path, fi.Type)
		}
	}
	return path
}

// casesOf returns the cases measured on fs, in run order.
func (r *Report) casesOf(fs string) []Case {
	var out []Case
	seen := map[string]bool{}
	for _, res := range r.Results {
		k := res.Case.Slug()
		if res.FS == fs && !seen[k] {
			seen[k] = true
			out = append(out, res.Case)
		}
	}
	return out
}

func (r *Report) overview(b *strings.Builder, fs string) {
	ref := r.ref()
	fmt.Fprintf(b, "\n### ops/s by backend (×: to %s)\n\n| workload | case | n |", ref)
	for _, be := range r.Config.Backends {
		fmt.Fprintf(b, " %s |", be)
	}
	b.WriteString("\n|---|---|---:|")
	for range r.Config.Backends {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, c := range r.casesOf(fs) {
		slug := c.Slug()
		match := func(x Case) bool { return x.Slug() == slug }
		base := r.find(fs, ref, match)
		fmt.Fprintf(b, "| %s | %s | %s |", c.Workload, c.Label(), count(c.Dataset))
		for _, be := range r.Config.Backends {
			res := r.find(fs, be, match)
			switch {
			case res == nil:
				b.WriteString(" – |")
			case be == ref || base == nil || base.OpsPerSec == 0:
				fmt.Fprintf(b, " %s |", rate(res.OpsPerSec))
			default:
				fmt.Fprintf(b, " %s (%s×) |", rate(res.OpsPerSec), ratio(res.OpsPerSec/base.OpsPerSec))
			}
		}
		b.WriteString("\n")
	}
}

func (r *Report) details(b *strings.Builder, fs string) {
	cases := r.casesOf(fs)
	for _, wl := range Workloads {
		var rows []Result
		for _, c := range cases {
			if c.Workload != wl {
				continue
			}
			slug := c.Slug()
			for _, be := range r.Config.Backends {
				if res := r.find(fs, be, func(x Case) bool { return x.Slug() == slug }); res != nil {
					rows = append(rows, *res)
				}
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n### %s\n\n", workloadTitles[wl])
		b.WriteString("| case | n | backend | ops/s | p50 | p95 | p99 | allocs/op | peak RSS |\n|---|---:|---|---:|---:|---:|---:|---:|---:|\n")
		for _, res := range rows {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %.0f | %s |\n", res.Case.Label(), count(res.Case.Dataset), res.Backend,
				rate(res.OpsPerSec), dur(res.P50), dur(res.P95), dur(res.P99), res.AllocsPerOp, mib(res.PeakRSS))
		}
	}
}

// rate formats operations per second: whole numbers with thin groups from
// 100 up, three significant digits below.
func rate(x float64) string {
	if x < 100 {
		return strconv.FormatFloat(x, 'g', 3, 64)
	}
	s := strconv.FormatInt(int64(math.Round(x)), 10)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ' ')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func ratio(x float64) string {
	if x >= 10 {
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// dur formats a latency with three significant digits.
func dur(d time.Duration) string {
	x := float64(d)
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%.0f ns", x)
	case d < time.Millisecond:
		return strconv.FormatFloat(x/1e3, 'g', 3, 64) + " µs"
	case d < time.Second:
		return strconv.FormatFloat(x/1e6, 'g', 3, 64) + " ms"
	}
	return strconv.FormatFloat(x/1e9, 'g', 3, 64) + " s"
}

func mib(b int64) string {
	if b <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}
