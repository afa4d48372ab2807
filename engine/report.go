package engine

import (
	"bytes"
	"fmt"
	"html"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/swerl/swerl/messages"
)

// PassRates are held-out success rates: Pass1 is the mean over tasks of each task's
// fraction of resolved samples (pass@1 estimated from G samples), PassG the fraction
// of tasks with at least one resolved sample (pass@G).
type PassRates struct {
	Tasks, Samples int
	Pass1, PassG   float64
}

// Pass computes pass@1 and pass@G over finished records, grouped by task. Abandoned
// records are infrastructure failures, not attempts: they are left out.
func Pass(records []messages.EpisodeRecord) PassRates {
	type counts struct{ n, ok int }
	by := map[string]*counts{}
	for _, r := range records {
		if r.Status != messages.Finished {
			continue
		}
		c := by[r.Task.ID]
		if c == nil {
			c = &counts{}
			by[r.Task.ID] = c
		}
		c.n++
		if r.Resolved {
			c.ok++
		}
	}
	// pass@1 is the mean over tasks of each task's fraction resolved. The fractions are
	// summed in task order, not the map's (random) order, so that a reading is the same
	// to the bit every time; with the same number of samples per task it is the exact
	// ratio of the totals, so that a probe reading exactly the target (16 of 200) is
	// never a rounding error below it.
	ids := slices.Sorted(maps.Keys(by))
	var p PassRates
	var ok int
	same := true
	for _, id := range ids {
		c := by[id]
		p.Tasks++
		p.Samples += c.n
		ok += c.ok
		p.Pass1 += float64(c.ok) / float64(c.n)
		if c.ok > 0 {
			p.PassG++
		}
		same = same && c.n == by[ids[0]].n
	}
	if p.Tasks > 0 {
		p.Pass1 /= float64(p.Tasks)
		p.PassG /= float64(p.Tasks)
		if same {
			p.Pass1 = float64(ok) / float64(p.Samples)
		}
	}
	return p
}

// CurvePoint is one held-out evaluation on the learning curve.
type CurvePoint struct {
	Step  int    // x: iteration counted across stages
	Stage string // "base", "rft", "stage1", "stage2"
	Pass1 float64
}

// LearningCurveSVG draws held-out pass@1 per step as a standalone SVG: one line, a
// dot per evaluation coloured by stage, and a labelled dashed line for each mark
// (the base and RFT levels). gonum/plot would need a newer gonum than gorgonia pins
// and a dozen more modules; this chart is a page of stdlib code.
func LearningCurveSVG(title string, points []CurvePoint, marks map[string]float64) []byte {
	pts := append([]CurvePoint(nil), points...)
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].Step < pts[j].Step })
	ch := newChart(pts)
	x, y, left, pw := ch.x, ch.y, ch.left, ch.pw
	colours := map[string]string{"base": "#888888", "rft": "#1f77b4", "stage1": "#2ca02c", "stage2": "#d62728"}
	colour := func(stage string) string {
		if c, ok := colours[stage]; ok {
			return c
		}
		return "#9467bd"
	}
	var b bytes.Buffer
	ch.frame(&b, title)
	names := make([]string, 0, len(marks))
	for k := range marks {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := marks[k]
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="5,4"/>`+"\n", left, y(v), left+pw, y(v), colour(k))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="%s">%s %.1f%%</text>`+"\n", left+pw+6, y(v)+4, colour(k), html.EscapeString(k), 100*v)
	}
	if len(pts) > 0 {
		var path strings.Builder
		for i, p := range pts {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, x(p.Step), y(p.Pass1))
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="#333333" stroke-width="1.5"/>`+"\n", strings.TrimSpace(path.String()))
		for _, p := range pts {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s step %d: %.1f%%</title></circle>`+"\n",
				x(p.Step), y(p.Pass1), colour(p.Stage), html.EscapeString(p.Stage), p.Step, 100*p.Pass1)
		}
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// chart is the frame of swerl's pass@1 charts: 720 x 420, pass@1 from 0 to 100% up
// the left, iterations (steps) along the bottom, the right margin for labels.
type chart struct {
	w, h, left, right, top, bottom, pw, ph float64
	maxStep                                int
}

func newChart(points []CurvePoint) chart {
	c := chart{w: 720, h: 420, left: 60, right: 130, top: 40, bottom: 50, maxStep: 1}
	c.pw, c.ph = c.w-c.left-c.right, c.h-c.top-c.bottom
	for _, p := range points {
		c.maxStep = max(c.maxStep, p.Step)
	}
	return c
}

func (c chart) x(step int) float64  { return c.left + c.pw*float64(step)/float64(c.maxStep) }
func (c chart) y(v float64) float64 { return c.top + c.ph*(1-math.Max(0, math.Min(1, v))) }

// frame writes the SVG's opening, the title, the grid and the axes.
func (c chart) frame(b *bytes.Buffer, title string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", c.w, c.h)
	fmt.Fprintf(b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(b, `<text x="%.0f" y="22" font-size="15">%s</text>`+"\n", c.left, html.EscapeString(title))
	for i := 0; i <= 10; i += 2 {
		v := float64(i) / 10
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eeeeee"/>`+"\n", c.left, c.y(v), c.left+c.pw, c.y(v))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%d%%</text>`+"\n", c.left-6, c.y(v)+4, i*10)
	}
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", c.left, c.top+c.ph, c.left+c.pw, c.top+c.ph)
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", c.left, c.top, c.left, c.top+c.ph)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">iteration</text>`+"\n", c.left+c.pw/2, c.h-12)
	fmt.Fprintf(b, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">held-out pass@1</text>`+"\n", c.top+c.ph/2)
}

// TableRow is one line of the paper's Table 1: a model and its held-out rates.
type TableRow struct {
	Model string
	Rates PassRates
}

// Table1 renders rows the way PAPER.md's Table 1 reads: model, pass@1, pass@G.
func Table1(rows []TableRow, g int) string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "model\tpass@1\tpass@%d\theld-out tasks\t\n", g)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.1f%%\t%.1f%%\t%d\t\n", r.Model, 100*r.Rates.Pass1, 100*r.Rates.PassG, r.Rates.Tasks)
	}
	tw.Flush()
	return b.String()
}
