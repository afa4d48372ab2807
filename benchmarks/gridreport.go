package benchmarks

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// Reports of a grid run: a text table, grid.json, grid.md and grid.svg.

// WriteGridTable prints the steady-state table.
func WriteGridTable(w io.Writer, g GridResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tepisodes\toverlap\torder\titeration s\tbound s\tratio\tstraggler s\tinference util\tsandbox util\tengine us/turn real\treal s\t")
	for _, p := range g.Points {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.1f\t%.1f\t%s\t%.1f\t%.3f\t%.3f\t%.1f\t%.1f\t\n", p.Scenario, p.Episodes, onOff(p.Overlap),
			p.Order, p.IterationS, p.BoundS, fmtRatio(p.Ratio), p.StragglerS, p.InferenceUtil, p.SandboxUtil, p.EngineUSPerTurn, p.RealS)
	}
	return tw.Flush()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func fmtRatio(r float64) string {
	if r == math.MaxFloat64 {
		return "inf"
	}
	return fmt.Sprintf("%.3f", r)
}

// WriteGridMarkdown writes the table as markdown (for a README).
func WriteGridMarkdown(w io.Writer, g GridResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Rollout-throughput grid (`swerl bench grid`, seed %d): steady-state iterations 1-2 of 3.\n\n", g.Seed)
	b.WriteString("| scenario | episodes | overlap | order | iteration s | bound s | ratio | straggler s | inference util | sandbox util | engine µs/turn (real) |\n")
	b.WriteString("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range g.Points {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %.1f | %.1f | %s | %.1f | %.3f | %.3f | %.1f |\n", p.Scenario, p.Episodes, onOff(p.Overlap),
			p.Order, p.IterationS, p.BoundS, fmtRatio(p.Ratio), p.StragglerS, p.InferenceUtil, p.SandboxUtil, p.EngineUSPerTurn)
	}
	fmt.Fprintf(&b, "\n%s\n\nScenarios:\n\n", g.Note)
	for _, s := range g.Scenarios {
		fmt.Fprintf(&b, "- **%s**: %s.\n", s.Name, s.Description)
		for _, src := range s.Sources {
			fmt.Fprintf(&b, "  - %s\n", src)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteGridJSON writes the whole result, scenarios and sources included.
func WriteGridJSON(w io.Writer, g GridResult) error {
	// JSON has no infinity: an unbounded ratio is written as -1.
	c := g
	c.Points = append([]PointResult(nil), g.Points...)
	for i := range c.Points {
		p := &c.Points[i]
		if p.Ratio == math.MaxFloat64 {
			p.Ratio = -1
		}
		p.Iterations = append([]IterationMeasure(nil), p.Iterations...)
		for j := range p.Iterations {
			if p.Iterations[j].Ratio == math.MaxFloat64 {
				p.Iterations[j].Ratio = -1
			}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

// svg geometry
const (
	svgW, svgH                     = 760, 460
	padL, padR, padT, padB         = 70, 250, 40, 50
	plotW, plotH                   = svgW - padL - padR, svgH - padT - padB
	svgFont                        = `font-family="sans-serif" font-size="11"`
	dashBound, dashNone            = `stroke-dasharray="5,4"`, ``
	legendDY                       = 16
	minLogDecades          float64 = 1
)

var svgColours = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"}

// WriteGridSVG draws the steady-state iteration time (solid) and its bound (dashed)
// against concurrency on a log x axis, one colour per scenario and options.
func WriteGridSVG(w io.Writer, g GridResult) error {
	type series struct {
		name string
		xs   []int
		ys   []float64
		bs   []float64
	}
	var ss []*series
	idx := map[string]*series{}
	minX, maxX, maxY := math.Inf(1), math.Inf(-1), 0.0
	for _, p := range g.Points {
		name := fmt.Sprintf("%s, overlap %s, %s", p.Scenario, onOff(p.Overlap), p.Order)
		s := idx[name]
		if s == nil {
			s = &series{name: name}
			idx[name] = s
			ss = append(ss, s)
		}
		s.xs = append(s.xs, p.Episodes)
		s.ys = append(s.ys, p.IterationS)
		s.bs = append(s.bs, p.BoundS)
		minX, maxX = math.Min(minX, float64(p.Episodes)), math.Max(maxX, float64(p.Episodes))
		maxY = math.Max(maxY, math.Max(p.IterationS, p.BoundS))
	}
	if len(ss) == 0 {
		minX, maxX = 10, 100
	}
	lo, hi := math.Floor(math.Log10(minX)), math.Ceil(math.Log10(maxX))
	if hi-lo < minLogDecades {
		hi = lo + minLogDecades
	}
	if maxY <= 0 {
		maxY = 1
	}
	maxY = niceCeil(maxY)
	px := func(x int) float64 { return padL + (math.Log10(float64(x))-lo)/(hi-lo)*plotW }
	py := func(y float64) float64 { return padT + plotH - y/maxY*plotH }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgW, svgH)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-family="sans-serif" font-size="13">Simulated iteration time (solid) and lower bound (dashed), steady state</text>`+"\n", padL)
	// axes and grid
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", padL, padT+plotH, padL+plotW, padT+plotH)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", padL, padT, padL, padT+plotH)
	for d := lo; d <= hi; d++ {
		x := padL + (d-lo)/(hi-lo)*plotW
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x, padT, x, padT+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" %s text-anchor="middle">%s</text>`+"\n", x, padT+plotH+15, svgFont, commas(int(math.Pow(10, d))))
	}
	for i := 0; i <= 5; i++ {
		y := maxY * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`+"\n", padL, py(y), padL+plotW, py(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" %s text-anchor="end">%g</text>`+"\n", padL-5, py(y)+4, svgFont, y)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" %s text-anchor="middle">concurrent episodes (log scale)</text>`+"\n", padL+plotW/2, svgH-12, svgFont)
	fmt.Fprintf(&b, `<text x="15" y="%d" %s text-anchor="middle" transform="rotate(-90 15 %d)">seconds per iteration (simulated)</text>`+"\n", padT+plotH/2, svgFont, padT+plotH/2)
	for i, s := range ss {
		col := svgColours[i%len(svgColours)]
		for _, line := range []struct {
			ys   []float64
			dash string
		}{{s.ys, dashNone}, {s.bs, dashBound}} {
			var pts []string
			for j, x := range s.xs {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(x), py(line.ys[j])))
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" %s points="%s"/>`+"\n", col, line.dash, strings.Join(pts, " "))
		}
		for j, x := range s.xs {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px(x), py(s.ys[j]), col)
		}
		ly := padT + 10 + i*legendDY
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", svgW-padR+15, ly, svgW-padR+35, ly, col)
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s>%s</text>`+"\n", svgW-padR+40, ly+4, svgFont, html.EscapeString(s.name))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func commas(n int) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// WriteGridFiles writes grid.json, grid.md and grid.svg into dir (created if need be).
func WriteGridFiles(dir string, g GridResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer, GridResult) error{
		"grid.json": WriteGridJSON, "grid.md": WriteGridMarkdown, "grid.svg": WriteGridSVG,
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		err = write(f, g)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
