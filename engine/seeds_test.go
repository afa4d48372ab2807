package engine

import (
	"strings"
	"testing"
	"time"
)

func TestParseSeeds(t *testing.T) {
	for spec, want := range map[string][]uint64{"1-5": {1, 2, 3, 4, 5}, "2": {2}, "1,3, 7": {1, 3, 7}, "1-3,9": {1, 2, 3, 9}} {
		got, err := ParseSeeds(spec)
		if err != nil || len(got) != len(want) {
			t.Errorf("ParseSeeds(%q) = %v, %v; want %v", spec, got, err, want)
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("ParseSeeds(%q) = %v; want %v", spec, got, want)
			}
		}
	}
	for _, bad := range []string{"", "a", "5-1", "1,,2", "1-3,2", "1-", "0-5000"} {
		if _, err := ParseSeeds(bad); err == nil || !strings.Contains(err.Error(), "seeds") {
			t.Errorf("ParseSeeds(%q): error %v, want one naming the seeds", bad, err)
		}
	}
}

func TestSeedsTableAndCurves(t *testing.T) {
	run := func(seed uint64, base, final float64, wall time.Duration) SeedRun {
		return SeedRun{Seed: seed, Wall: wall,
			Rows:  []TableRow{{Model: "base", Rates: PassRates{Pass1: base}}, {Model: "+ RL stage 2", Rates: PassRates{Pass1: final}}},
			Curve: []CurvePoint{{Step: 0, Stage: "base", Pass1: base}, {Step: 10, Stage: "stage2", Pass1: final}}}
	}
	runs := []SeedRun{run(1, 0.08, 0.46, 6*time.Minute), run(2, 0.03, 0.04, 10*time.Minute), run(3, 0.11, 0.63, 7*time.Minute)}
	table := SeedsTable(runs)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 {
		t.Fatalf("table:\n%s", table)
	}
	for _, want := range []string{"seed 1", "seed 3", "mean", "spread"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header %q lacks %q", lines[0], want)
		}
	}
	// + RL stage 2: 46, 4, 63 -> mean 37.7, min 4.0, max 63.0, spread 59.0.
	final := strings.Fields(lines[2])
	if got := strings.Join(final[len(final)-4:], " "); got != "37.7% 4.0% 63.0% 59.0" {
		t.Errorf("final row %q: mean, min, max, spread = %q", lines[2], got)
	}
	if !strings.Contains(lines[3], "360s") || !strings.Contains(lines[3], "600s") {
		t.Errorf("wall row %q", lines[3])
	}
	svg := string(SeedCurvesSVG("three seeds", runs))
	if strings.Count(svg, "<path") != 3 || !strings.Contains(svg, ">seed 2</text>") || !strings.HasSuffix(svg, "</svg>\n") {
		t.Errorf("overlay:\n%s", svg)
	}
}
