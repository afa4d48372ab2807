package benchmarks

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"regexp"
	"testing"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/messages"
)

// The smallest point of the grid: swe-small at 100 episodes, 3 iterations. No timing is
// asserted; the checks are the harness's own (one record per episode, none abandoned,
// turn counts as drawn, generation cap kept, bound <= measured) plus these.
func TestGridSmallestPoint(t *testing.T) {
	sc, _ := ScenarioByName("swe-small")
	p := GridPoint{Scenario: sc, Episodes: 100, Seed: 7}
	r := RunPoint(t, p)
	if len(r.Iterations) != 3 {
		t.Fatalf("%d iterations, want 3", len(r.Iterations))
	}
	for _, m := range r.Iterations {
		if m.Ratio < 1 || m.BoundS <= 0 {
			t.Errorf("iteration %d: ratio %.4f, bound %.1f s (seed %d)", m.Iteration, m.Ratio, m.BoundS, p.Seed)
		}
		for name, u := range map[string]float64{"inference": m.InferenceUtil, "sandbox": m.SandboxUtil} {
			if u < 0 || u > 1 {
				t.Errorf("iteration %d: %s utilisation %.4f outside [0, 1]", m.Iteration, name, u)
			}
		}
		if m.StragglerS < 0 || m.StragglerS > m.RolloutS {
			t.Errorf("iteration %d: straggler wait %.1f s, rollout %.1f s", m.Iteration, m.StragglerS, m.RolloutS)
		}
	}
	if r.Ratio < 1 || r.Turns == 0 {
		t.Errorf("steady ratio %.4f, %d turns", r.Ratio, r.Turns)
	}
	// Same seed, same simulated times.
	again := RunPoint(t, p)
	for k := range r.Iterations {
		if a, b := r.Iterations[k].WallS, again.Iterations[k].WallS; a != b {
			t.Errorf("seed %d iteration %d: %.9f s then %.9f s simulated", p.Seed, k, a, b)
		}
	}
}

// The options reach the engine and the report, and --compare adds the alternatives.
func TestGridOptionsAndZeroScenario(t *testing.T) {
	o := GridOptions{Scenarios: []string{"zero"}, Episodes: []int{20}, Seed: 3, Compare: true}
	pts, err := o.Points()
	if err != nil || len(pts) != 3 {
		t.Fatalf("points: %v, %v", pts, err)
	}
	g := RunGrid(t, o)
	want := []struct {
		overlap bool
		order   actors.GenerationOrder
	}{{true, actors.OrderMostTurnsLeft}, {false, actors.OrderMostTurnsLeft}, {true, actors.OrderFIFO}}
	for i, p := range g.Points {
		if p.Overlap != want[i].overlap || p.Order != string(want[i].order) {
			t.Errorf("point %d: overlap %t order %s, want %+v", i, p.Overlap, p.Order, want[i])
		}
		if p.IterationS != 0 || p.Ratio != 1 {
			t.Errorf("zero latencies: %.3f s simulated, ratio %.3f", p.IterationS, p.Ratio)
		}
	}
	if _, err := (GridOptions{Scenarios: []string{"nope"}}).Points(); err == nil {
		t.Error("unknown scenario accepted")
	}
	var js, svg, md bytes.Buffer
	for _, w := range []struct {
		f func(io.Writer, GridResult) error
		b *bytes.Buffer
	}{{WriteGridJSON, &js}, {WriteGridSVG, &svg}, {WriteGridMarkdown, &md}} {
		if err := w.f(w.b, g); err != nil {
			t.Fatal(err)
		}
	}
	var back GridResult
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Points) != 3 {
		t.Errorf("grid.json: %v (%d points)", err, len(back.Points))
	}
	if err := wellFormed(svg.Bytes()); err != nil {
		t.Errorf("grid.svg: %v", err)
	}
}

// Draws depend on (seed, episode, turn) only, and turn counts stay in [10, cap].
func TestGridDraws(t *testing.T) {
	for _, sc := range Scenarios {
		capped := 0
		for i := 0; i < 2000; i++ {
			k := keyOf(i)
			n := sc.Turns(1, k)
			if n < sc.MinTurns || n > sc.TurnCap || n != sc.Turns(1, k) {
				t.Fatalf("%s: %d turns for %v", sc.Name, n, k)
			}
			if n == sc.TurnCap {
				capped++
			}
			if sc.GenLatency(1, k, 3) != sc.GenLatency(1, k, 3) || sc.GenLatency(1, k, 3) < 0 {
				t.Fatalf("%s: generation latency not a function of the key", sc.Name)
			}
		}
		if share := float64(capped) / 2000; share < sc.CapShare-0.05 || share > sc.CapShare+0.05 {
			t.Errorf("%s: %.3f of episodes at the cap, want about %.2f", sc.Name, share, sc.CapShare)
		}
	}
}

func wellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// gridBenchPoints are the testing.B twins of the grid's main points:
//
//	go test ./benchmarks -run '^$' -bench Grid -count 5 | benchstat -
var gridBenchPoints = []struct {
	scenario string
	episodes int
}{{"swe-72b", 1000}, {"swe-72b", 10000}, {"swe-small", 1000}, {"zero", 1000}}

// BenchmarkGrid reports the simulated steady-state iteration time, its bound and their
// ratio (deterministic per seed) and the engine's real time per turn. synctest needs a
// *testing.T: each op runs the point as a one-test testing.RunTests.
func BenchmarkGrid(b *testing.B) {
	for _, bp := range gridBenchPoints {
		sc, _ := ScenarioByName(bp.scenario)
		b.Run(fmt.Sprintf("%s/episodes=%d", bp.scenario, bp.episodes), func(b *testing.B) {
			var last PointResult
			var usPerTurn float64
			runs := 0
			for b.Loop() {
				last = runInT(b, func(t *testing.T) PointResult {
					return RunPoint(t, GridPoint{Scenario: sc, Episodes: bp.episodes, Seed: 1})
				})
				usPerTurn += last.EngineUSPerTurn
				runs++
			}
			b.ReportMetric(last.IterationS, "sim-iteration-s")
			b.ReportMetric(last.BoundS, "bound-s")
			b.ReportMetric(last.Ratio, "ratio")
			b.ReportMetric(usPerTurn/float64(runs), "engine-us/turn")
		})
	}
}

// runInT runs f as a test of its own (testing.RunTests, with -test.run set to it for
// the call) and fails b if it failed.
func runInT(b *testing.B, f func(*testing.T) PointResult) PointResult {
	b.Helper()
	run := flag.Lookup("test.run")
	old := run.Value.String()
	if err := run.Value.Set("^gridpoint$"); err != nil {
		b.Fatal(err)
	}
	defer run.Value.Set(old)
	var out PointResult
	ok := testing.RunTests(regexp.MatchString, []testing.InternalTest{{Name: "gridpoint", F: func(t *testing.T) { out = f(t) }}})
	if !ok {
		b.Fatal("grid point failed its checks")
	}
	return out
}

func keyOf(i int) messages.EpisodeKey {
	return messages.EpisodeKey{Iteration: i % 3, Group: i / 30, Sample: i % 10}
}

// The schedule options and the generation cap reach the engine's configuration.
func TestGridConfigCarriesOptions(t *testing.T) {
	sc, _ := ScenarioByName("swe-72b")
	p := GridPoint{Scenario: sc, Episodes: 1000, Seed: 2, NoOverlap: true, Order: actors.OrderFIFO}
	cfg := gridConfig(p, newGridWorld(sc, p.Seed))
	if !cfg.NoOverlap || cfg.GenerationOrder != actors.OrderFIFO || cfg.MaxInFlightGenerations != sc.GenSlots ||
		cfg.TasksPerIteration != 100 || cfg.GroupSize != 10 || cfg.Iterations != 3 || cfg.Episode.TurnCap != sc.TurnCap {
		t.Errorf("config of %s: %+v", p, cfg)
	}
	if cfg := gridConfig(GridPoint{Scenario: sc, Episodes: 100}, newGridWorld(sc, 1)); cfg.NoOverlap || cfg.GenerationOrder != actors.OrderMostTurnsLeft {
		t.Errorf("defaults: overlap off %t, order %q", cfg.NoOverlap, cfg.GenerationOrder)
	}
}
