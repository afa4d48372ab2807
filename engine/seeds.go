package engine

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// SeedRun is one seed's outcome of the recipe, for the table and the chart that put
// seeds side by side (`swerl train --seeds 1-5`).
type SeedRun struct {
	Seed  uint64
	Rows  []TableRow
	Curve []CurvePoint
	Wall  time.Duration
}

// ParseSeeds reads a list of seeds: "1-5", "1,3,7", "2" or a mix ("1-3,9"). Seeds are
// kept in the order given; a seed given twice, an empty item or a backward range is
// an error naming it.
func ParseSeeds(spec string) ([]uint64, error) {
	var out []uint64
	seen := map[uint64]bool{}
	add := func(s uint64) error {
		if seen[s] {
			return fmt.Errorf("seeds %q: seed %d is given twice", spec, s)
		}
		seen[s] = true
		out = append(out, s)
		return nil
	}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("seeds %q: %q is not a seed or a range like 1-5", spec, item)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(strings.TrimSpace(hi), 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("seeds %q: %q is not a range like 1-5", spec, item)
			}
			if b-a >= 1000 {
				return nil, fmt.Errorf("seeds %q: %q asks for more than 1000 runs", spec, item)
			}
		}
		for s := a; s <= b; s++ {
			if err := add(s); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// SeedsTable renders each table row (base, + RFT, ...) across seeds: held-out pass@1
// per seed, then the mean, min, max and spread (max - min), in points; and the wall
// time of each seed's run.
func SeedsTable(runs []SeedRun) string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "held-out pass@1\t")
	for _, r := range runs {
		fmt.Fprintf(tw, "seed %d\t", r.Seed)
	}
	fmt.Fprint(tw, "mean\tmin\tmax\tspread\t\n")
	if len(runs) > 0 {
		for i, row := range runs[0].Rows {
			fmt.Fprintf(tw, "%s\t", row.Model)
			var vals []float64
			for _, r := range runs {
				if i < len(r.Rows) {
					v := 100 * r.Rows[i].Rates.Pass1
					vals = append(vals, v)
					fmt.Fprintf(tw, "%.1f%%\t", v)
				} else {
					fmt.Fprint(tw, "-\t")
				}
			}
			mean, lo, hi := stats(vals)
			fmt.Fprintf(tw, "%.1f%%\t%.1f%%\t%.1f%%\t%.1f\t\n", mean, lo, hi, hi-lo)
		}
	}
	fmt.Fprint(tw, "wall\t")
	var walls []float64
	for _, r := range runs {
		walls = append(walls, r.Wall.Seconds())
		fmt.Fprintf(tw, "%.0fs\t", r.Wall.Seconds())
	}
	mean, lo, hi := stats(walls)
	fmt.Fprintf(tw, "%.0fs\t%.0fs\t%.0fs\t\t\n", mean, lo, hi)
	tw.Flush()
	return b.String()
}

func stats(vals []float64) (mean, lo, hi float64) {
	if len(vals) == 0 {
		return 0, 0, 0
	}
	for _, v := range vals {
		mean += v
	}
	return mean / float64(len(vals)), slices.Min(vals), slices.Max(vals)
}

// SeedCurvesSVG overlays the held-out pass@1 curves of several seeds: one line per seed
// in its own colour, named in a legend on the right.
func SeedCurvesSVG(title string, runs []SeedRun) []byte {
	var all []CurvePoint
	for _, r := range runs {
		all = append(all, r.Curve...)
	}
	ch := newChart(all)
	palette := []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}
	var b bytes.Buffer
	ch.frame(&b, title)
	for i, r := range runs {
		c := palette[i%len(palette)]
		pts := slices.Clone(r.Curve)
		slices.SortStableFunc(pts, func(a, b CurvePoint) int { return a.Step - b.Step })
		if len(pts) > 0 {
			var path strings.Builder
			for j, p := range pts {
				cmd := "L"
				if j == 0 {
					cmd = "M"
				}
				fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, ch.x(p.Step), ch.y(p.Pass1))
			}
			fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.5"><title>seed %d</title></path>`+"\n",
				strings.TrimSpace(path.String()), c, r.Seed)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="%s">seed %d</text>`+"\n", ch.left+ch.pw+10, ch.top+16*float64(i+1), c, r.Seed)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
