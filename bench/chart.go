package bench

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// WriteCharts draws the charts of every filesystem as PNG files in dir and
// returns their names by filesystem. A chart with nothing to show is left
// out.
func (r *Report) WriteCharts(dir, name string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, fi := range r.Filesystems {
		for _, ch := range r.charts(fi.Path) {
			if ch.empty() {
				continue
			}
			file := fmt.Sprintf("%s-%s-%s.png", name, fsSlug(fi.Path), ch.name)
			p, err := ch.plot(r.Config.Backends)
			if err != nil {
				return nil, fmt.Errorf("bench: chart %s: %w", file, err)
			}
			if err := p.Save(9*vg.Inch, 5*vg.Inch, filepath.Join(dir, file)); err != nil {
				return nil, fmt.Errorf("bench: chart %s: %w", file, err)
			}
			out[fi.Path] = append(out[fi.Path], file)
		}
	}
	return out, nil
}

func fsSlug(p string) string {
	s := strings.Trim(strings.ReplaceAll(p, "/", "-"), "-")
	if s == "" {
		return "root"
	}
	return s
}

// chart is either grouped bars (categories set) or lines (x values per
// series).
type chart struct {
	name, title, xLabel, yLabel string
	logX                        bool
	// bars: one value per category and backend (0: not measured).
	categories []string
	bars       map[string][]float64
	// lines
	lines []line
}

type line struct {
	backend string
	label   string
	dashed  bool
	xs, ys  []float64
}

func (c chart) empty() bool {
	if len(c.categories) > 0 {
		return false
	}
	for _, l := range c.lines {
		if len(l.xs) > 0 {
			return false
		}
	}
	return true
}

// charts are the charts of one filesystem.
func (r *Report) charts(fs string) []chart {
	largest := r.Config.Sizes[len(r.Config.Sizes)-1]
	title := func(s string) string { return fmt.Sprintf("%s: %s", r.fsLabel(fs), s) }
	var out []chart

	// Reads at the largest dataset, as grouped bars.
	reads := chart{name: "reads", title: title(fmt.Sprintf("reads, n=%s (ops/s, log scale)", count(largest))), yLabel: "ops/s", bars: map[string][]float64{}}
	writes := chart{name: "writes", title: title("writes, 1 worker (ops/s, log scale)"), yLabel: "ops/s", bars: map[string][]float64{}}
	for _, c := range r.casesOf(fs) {
		var ch *chart
		label := c.Workload + "\n" + c.Label()
		switch {
		case c.Dataset != largest:
			continue
		case c.Workload == "stat-id" || (c.Workload == "list" && c.Children == 1000) || (c.Workload == "stat-path" && c.Depth == 10):
			ch = &reads
		case c.writes() && c.Workers == 1 && c.Workload != "mixed" && c.Workload != "upload-burst":
			ch = &writes
			label = c.Workload + "\n" + strings.TrimSuffix(c.Label(), " 1w")
		default:
			continue
		}
		ch.categories = append(ch.categories, label)
		slug := c.Slug()
		for _, be := range r.Config.Backends {
			v := 0.0
			if res := r.find(fs, be, func(x Case) bool { return x.Slug() == slug }); res != nil {
				v = res.OpsPerSec
			}
			ch.bars[be] = append(ch.bars[be], v)
		}
	}
	out = append(out, reads)

	// series collects one line per backend (and per variant) of a metric
	// over a numeric parameter.
	series := func(match func(Case) bool, x func(Case) float64, y func(*Result) float64, label string, dashed bool) []line {
		var ls []line
		for _, be := range r.Config.Backends {
			l := line{backend: be, label: be + label, dashed: dashed}
			for _, res := range r.Results {
				if res.FS == fs && res.Backend == be && match(res.Case) {
					if v := y(&res); v > 0 {
						l.xs, l.ys = append(l.xs, x(res.Case)), append(l.ys, v)
					}
				}
			}
			ls = append(ls, l)
		}
		return ls
	}
	p50us := func(res *Result) float64 { return float64(res.P50) / 1e3 }
	opsps := func(res *Result) float64 { return res.OpsPerSec }

	path := chart{name: "stat-path", title: title(fmt.Sprintf("stat by path, n=%s: median latency by depth", count(largest))), xLabel: "depth", yLabel: "p50 (µs, log scale)"}
	depth := func(c Case) float64 { return float64(c.Depth) }
	path.lines = append(series(func(c Case) bool {
		return c.Workload == "stat-path" && c.Dataset == largest && c.Cache == "hot" && c.Mode == "strict"
	}, depth, p50us, " hot", false), series(func(c Case) bool {
		return c.Workload == "stat-path" && c.Dataset == largest && c.Cache == "cold"
	}, depth, p50us, " cold", true)...)
	out = append(out, path)

	list := chart{name: "list", title: title("list a folder: median latency by number of children"), xLabel: "children (log scale)", yLabel: "p50 (µs, log scale)", logX: true}
	children := func(c Case) float64 { return float64(c.Children) }
	list.lines = append(series(func(c Case) bool {
		return c.Workload == "list" && (c.Dataset == largest) && c.Cache == "hot" && c.Mode == "strict"
	}, children, p50us, " hot", false), series(func(c Case) bool {
		return c.Workload == "list" && c.Dataset == largest && c.Cache == "cold"
	}, children, p50us, " cold", true)...)
	out = append(out, list)

	workers := func(c Case) float64 { return float64(c.Workers) }
	for _, d := range r.Config.Durabilities {
		create := chart{name: "create-" + string(d), title: title(fmt.Sprintf("create files (durability %s) by writers", d)), xLabel: "writers (log scale)", yLabel: "ops/s (log scale)", logX: true}
		for _, pl := range []string{"space", "folder", "spaces"} {
			create.lines = append(create.lines, series(func(c Case) bool {
				return c.Workload == "create-files" && c.Durability == d && c.Placement == pl
			}, workers, opsps, " "+pl, pl != "space")...)
		}
		out = append(out, create)
	}
	out = append(out, writes)

	mixed := chart{name: "mixed", title: title("mixed reads and writes by workers (strict)"), xLabel: "workers (log scale)", yLabel: "ops/s (log scale)", logX: true}
	mixed.lines = series(func(c Case) bool { return c.Workload == "mixed" && c.Mode == "strict" }, workers, opsps, "", false)
	out = append(out, mixed)

	burst := chart{name: "burst", title: title("upload burst into one folder: wall time per file"), xLabel: "files in the folder (log scale)", yLabel: "ms per file (log scale)", logX: true}
	burst.lines = series(func(c Case) bool { return c.Workload == "upload-burst" }, children, func(res *Result) float64 {
		if res.OpsPerSec == 0 {
			return 0
		}
		return 1e3 / res.OpsPerSec
	}, "", false)
	out = append(out, burst)
	return out
}

func (c chart) plot(backends []string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = c.title
	p.X.Label.Text, p.Y.Label.Text = c.xLabel, c.yLabel
	p.Legend.Top = true
	color := func(be string) int { return max(0, slices.Index(backends, be)) }
	if len(c.categories) > 0 {
		return c.barPlot(p, backends, color)
	}
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Legend.Left = true
	lo, hi := math.Inf(1), 0.0
	for _, l := range c.lines {
		for _, y := range l.ys {
			lo, hi = min(lo, y), max(hi, y)
		}
	}
	if hi > 0 {
		// Headroom above for the legend, a little below.
		p.Y.Min, p.Y.Max = lo/1.5, hi*math.Pow(hi/lo, 0.6)*2
	}
	if c.logX {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	for _, l := range c.lines {
		if len(l.xs) == 0 {
			continue
		}
		xys := make(plotter.XYs, len(l.xs))
		for i := range l.xs {
			xys[i].X, xys[i].Y = l.xs[i], l.ys[i]
		}
		ln, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		i := color(l.backend)
		ln.Color, pts.Color = plotutil.Color(i), plotutil.Color(i)
		pts.Shape = plotutil.Shape(i)
		if l.dashed {
			ln.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(ln, pts)
		p.Legend.Add(l.label, ln, pts)
	}
	return p, nil
}

// barPlot draws grouped bars on a log scale: gonum's bars grow from zero,
// which a log axis cannot show, so the bars are log10 of the values on a
// linear axis labelled in powers of ten.
func (c chart) barPlot(p *plot.Plot, backends []string, color func(string) int) (*plot.Plot, error) {
	lo, hi := math.Inf(1), 0.0
	for _, vs := range c.bars {
		for _, v := range vs {
			if v > 0 {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if hi == 0 {
		lo, hi = 1, 10
	}
	floor := math.Floor(math.Log10(lo))
	if math.Log10(lo)-floor < 0.2 {
		floor-- // the smallest bar stays visible
	}
	top := math.Ceil(math.Log10(hi))
	width := vg.Points(min(14, 300/float64(len(c.categories)*len(backends)+1)))
	n := 0
	for _, be := range backends {
		if _, ok := c.bars[be]; ok {
			n++
		}
	}
	k := 0
	for _, be := range backends {
		vs, ok := c.bars[be]
		if !ok {
			continue
		}
		logs := make(plotter.Values, len(vs))
		for i, v := range vs {
			if v > 0 {
				logs[i] = math.Log10(v) - floor
			}
		}
		b, err := plotter.NewBarChart(logs, width)
		if err != nil {
			return nil, err
		}
		b.Color = plotutil.Color(color(be))
		b.LineStyle.Width = 0
		b.Offset = vg.Length(float64(k)-float64(n-1)/2) * width
		p.Add(b)
		p.Legend.Add(be, b)
		k++
	}
	var ticks []plot.Tick
	for e := floor; e <= top; e++ {
		ticks = append(ticks, plot.Tick{Value: e - floor, Label: count10(e)})
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Min, p.Y.Max = 0, top-floor+0.4 // room for the legend
	p.NominalX(c.categories...)
	p.X.Tick.Label.Rotation = 0
	p.X.Tick.Label.Font.Size = vg.Points(7)
	return p, nil
}

// count10 labels 10^e.
func count10(e float64) string {
	v := math.Pow(10, e)
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}
