package engine

import (
	"encoding/xml"
	"math"
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
