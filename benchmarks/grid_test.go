package benchmarks

import (
	"testing"
)

func TestGridSmallest(t *testing.T) {
	sc, _ := ScenarioByName("swe-small")
	p := GridPoint{Scenario: sc, Episodes: 100, Seed: 1}
	r := RunPoint(t, p)
	t.Logf("%+v", r)
}
