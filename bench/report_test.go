package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeReport is a report of a small run with made-up figures: mpk 10× as
// fast as postgres everywhere, sqlite 2×.
func fakeReport(t *testing.T) *Report {
	t.Helper()
	cfg := QuickConfig()
	cfg.Backends = []string{"mpk", "postgres", "sqlite"}
	cfg.FS = []string{"/tmp", "/dev/shm"}
	r := &Report{Config: cfg, Stamp: newStamp(cfg)}
	r.Stamp.Finished = r.Stamp.Started.Add(90 * time.Second)
	speed := map[string]float64{"mpk": 10, "postgres": 1, "sqlite": 5}
	for _, fs := range cfg.FS {
		r.Filesystems = append(r.Filesystems, FSInfo{Path: fs, Type: "tmpfs", LoadBefore: "0.1 0.2 0.3", LoadAfter: "0.2 0.2 0.3", Duration: "45s"})
		for _, ph := range cfg.Plan() {
			for _, c := range ph.Cases {
				for _, be := range cfg.Backends {
					var reps []Sample
					for i := range cfg.Reps {
						per := time.Duration(float64(time.Millisecond) / speed[be] * (1 + float64(c.Workers)/10) * (1 + float64(i)/10))
						if c.Workload == "upload-burst" && be == "postgres" {
							per *= time.Duration(1 + c.Children/100) // grows with the folder
						}
						s := Sample{Ops: int64(c.Ops), Elapsed: per * time.Duration(c.Ops), Mallocs: 50 * uint64(c.Ops), PeakRSS: 40 << 20}
						for range c.Ops {
							s.Latency.Add(per)
						}
						reps = append(reps, s)
					}
					r.Results = append(r.Results, summarize(fs, be, c, reps))
				}
			}
		}
		r.Checks = append(r.Checks, Check{FS: fs, After: "everything", Nodes: 1234})
	}
	r.Targets = evaluateTargets(r)
	return r
}

func TestMarkdownReport(t *testing.T) {
	r := fakeReport(t)
	var b bytes.Buffer
	if err := r.Markdown(&b, map[string][]string{"/tmp": {"x-tmp-reads.png"}}); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"# s3dfs bench: file-based and DB-backed metadata, side by side (quick smoke run)",
		"| seed | 1 |",
		"| command | `",
		"## Targets",
		"mpk ≥ 8× PostgreSQL | /tmp (tmpfs) | **met** |",
		"All 2 comparisons of the backends' trees agreed",
		"## /dev/shm (tmpfs)",
		"![x-tmp-reads](x-tmp-reads.png)",
		"| workload | case | n | mpk | postgres | sqlite |",
		"| stat-id | hot strict 1w | 300 |",
		"(0.10×)",
		"### Upload burst into one folder",
		"| case | n | backend | ops/s | p50 | p95 | p99 | allocs/op | peak RSS |",
		"| 40 MiB |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Every table row has as many cells as its header.
	var cols int
	for i, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := strings.Count(line, "|")
		if cols == 0 {
			cols = n
		} else if n != cols {
			t.Errorf("line %d has %d cells, its table %d: %s", i+1, n-1, cols-1, line)
		}
	}

	r.Error = "bench: something broke"
	b.Reset()
	if err := r.Markdown(&b, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "The run failed and stopped early") {
		t.Error("a failed run's report does not say so")
	}
}

func TestCSVAndJSON(t *testing.T) {
	r := fakeReport(t)
	var b bytes.Buffer
	if err := r.CSV(&b); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(r.Results)+1 || strings.Join(rows[0], ",") != strings.Join(csvHeader, ",") {
		t.Fatalf("%d rows for %d results; header %v", len(rows), len(r.Results), rows[0])
	}
	first := rows[1]
	if first[0] != "/tmp" || first[2] != "stat-id" || first[11] != "mpk" || len(strings.Fields(first[len(first)-1])) != r.Config.Reps {
		t.Errorf("first row %v", first)
	}

	b.Reset()
	if err := r.JSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Results) != len(r.Results) || back.Results[3].P99 != r.Results[3].P99 || back.Stamp.Seed != 1 ||
		len(back.Targets) != len(r.Targets) || back.Config.Reps != r.Config.Reps {
		t.Errorf("JSON round trip lost something")
	}
}

func TestWriteFiles(t *testing.T) {
	r := fakeReport(t)
	dir := t.TempDir()
	if err := r.WriteFiles(dir, "run"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"run.md", "run.csv", "run.json"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "run-*.png"))
	if len(pngs) < 2*6 {
		t.Errorf("%d charts: %v", len(pngs), pngs)
	}
	for _, p := range pngs {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 500 {
			t.Errorf("%s: not a chart: %v", p, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "run.md"))
	if !strings.Contains(string(md), "](run-tmp-reads.png)") || !strings.Contains(string(md), "](run-dev-shm-burst.png)") {
		t.Error("the report does not show its charts")
	}
}

func TestTargets(t *testing.T) {
	r := fakeReport(t)
	byTarget := map[string]Verdict{}
	for _, v := range r.Targets {
		if v.FS == "/tmp" {
			byTarget[v.Target] = v
		}
	}
	check := func(prefix, status string, measured float64) {
		t.Helper()
		for k, v := range byTarget {
			if strings.HasPrefix(k, prefix) {
				if v.Status != status || (measured > 0 && (v.Measured < measured*0.99 || v.Measured > measured*1.01)) {
					t.Errorf("%s: %s %.3f (%s), want %s %.3f", k, v.Status, v.Measured, v.Detail, status, measured)
				}
				return
			}
		}
		t.Errorf("no target %q", prefix)
	}
	check("hot stat by id (strict, 1 worker, n=300): mpk ≥ 8× PostgreSQL", "met", 10)
	check("hot stat by id (strict, 1 worker, n=300): mpk ≥ 2.5× SQLite", "missed", 2)
	// The quick plan lists no folder of 1 000.
	check("hot listing of 1 000 children", "not measured", 0)
	check("durable creates, 8 writers in one space", "met", 10)
	check("upload burst into one folder: mpk", "met", 1)
	if v := byTarget["hot stat by id (strict, 1 worker, n=300): mpk ≥ 2.5× SQLite"]; !strings.Contains(v.Detail, "short of 2.5× by 20%") {
		t.Errorf("a miss should say by how much: %s", v.Detail)
	}

	// The burst's cost in postgres grows with the folder: not flat.
	v := r.flat("/tmp", "postgres")
	if v.Status != "missed" || v.Measured < 1.4 || !strings.Contains(v.Detail, "over the 25% allowed") {
		t.Errorf("postgres burst: %+v", v)
	}
}
