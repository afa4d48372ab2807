package engine

import (
	"encoding/xml"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/swerl/swerl/messages"
)

func rec(task string, resolved bool, status messages.Status) messages.EpisodeRecord {
	return messages.EpisodeRecord{Task: messages.TaskRef{ID: task}, Resolved: resolved, Status: status}
}

func TestPass(t *testing.T) {
	recs := []messages.EpisodeRecord{
		// task a: 1 of 4 resolved; task b: 0 of 2; task c: 2 of 2 (plus an abandoned
		// sample, which is not an attempt).
		rec("a", true, messages.Finished), rec("a", false, messages.Finished), rec("a", false, messages.Finished), rec("a", false, messages.Finished),
		rec("b", false, messages.Finished), rec("b", false, messages.Finished),
		rec("c", true, messages.Finished), rec("c", true, messages.Finished), rec("c", false, messages.Abandoned),
	}
	p := Pass(recs)
	// pass@1 = (1/4 + 0 + 1) / 3 = 0.41667; pass@G = 2/3.
	if p.Tasks != 3 || p.Samples != 8 || math.Abs(p.Pass1-1.25/3) > 1e-12 || math.Abs(p.PassG-2.0/3) > 1e-12 {
		t.Fatalf("Pass = %+v", p)
	}
	if z := Pass(nil); z.Pass1 != 0 || z.PassG != 0 {
		t.Fatalf("empty: %+v", z)
	}
}

// TestPassReadsAProbeExactly: a screening probe of 40 tasks x 5 samples with 16
// resolved reads exactly 8% (the pretraining target), in any record order. Summed in
// map order, the per-task fractions (1/5, 2/5, 3/5) read a rounding error below it in
// about one order in ten, and a run's stopping rule went one way or the other.
func TestPassReadsAProbeExactly(t *testing.T) {
	var recs []messages.EpisodeRecord
	okOf := func(task int) int { // 6 tasks 1/5, 2 tasks 2/5, 2 tasks 3/5: 16 of 200
		switch {
		case task < 6:
			return 1
		case task < 8:
			return 2
		case task < 10:
			return 3
		}
		return 0
	}
	for task := range 40 {
		for s := range 5 {
			recs = append(recs, rec(fmt.Sprintf("t%02d", task), s < okOf(task), messages.Finished))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 30 {
		rng.Shuffle(len(recs), func(a, b int) { recs[a], recs[b] = recs[b], recs[a] })
		if p := Pass(recs); p.Pass1 != 0.08 || p.Pass1 < 0.08 {
			t.Fatalf("order %d: pass@1 %v, want exactly 0.08 (16 of 200)", i, p.Pass1)
		}
	}
	// Unequal samples per task: the mean of the fractions, the same to the bit in any order.
	recs = append(recs, rec("t00", true, messages.Finished), rec("t01", false, messages.Finished), rec("t07", true, messages.Finished))
	want := Pass(recs).Pass1
	for i := range 30 {
		rng.Shuffle(len(recs), func(a, b int) { recs[a], recs[b] = recs[b], recs[a] })
		if got := Pass(recs).Pass1; math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("order %d: pass@1 %v, another order %v", i, got, want)
		}
	}
}

func TestLearningCurveSVGIsWellFormed(t *testing.T) {
	svg := LearningCurveSVG("SimSWE <held-out>", []CurvePoint{{0, "base", 0.1}, {3, "stage1", 0.3}, {1, "rft", 0.2}},
		map[string]float64{"base": 0.1, "rft": 0.2})
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	circles := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("not well-formed XML: %v\n%s", err, svg)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "circle" {
			circles++
		}
	}
	if circles != 3 || !strings.Contains(string(svg), "rft 20.0%") || !strings.Contains(string(svg), "&lt;held-out&gt;") {
		t.Fatalf("%d points; svg:\n%s", circles, svg)
	}
}

func TestTable1(t *testing.T) {
	out := Table1([]TableRow{{"base", PassRates{Tasks: 50, Pass1: 0.1, PassG: 0.3}}, {"RFT", PassRates{Tasks: 50, Pass1: 0.2, PassG: 0.5}}}, 10)
	for _, want := range []string{"pass@10", "base", "10.0%", "30.0%", "RFT", "50.0%"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
