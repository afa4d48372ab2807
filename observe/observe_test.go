package observe_test

import (
	"errors"
	"testing"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/observe"
)

func TestMultiFansOutToEveryWatcher(t *testing.T) {
	if observe.Multi() != nil || observe.Multi(nil, nil) != nil {
		t.Fatal("Multi of no watchers must be nil, so the engine skips its events")
	}
	one := &observe.Recorder{}
	if observe.Multi(nil, one) != observe.Watcher(one) {
		t.Fatal("Multi of one watcher must be that watcher")
	}
	a, b := &observe.Recorder{}, &observe.Recorder{}
	m := observe.Multi(a, nil, b)
	m.RunStarted(observe.Run{Stage: "stage1", Iterations: 2})
	m.Observe(actors.Event{Kind: actors.EventTurn, Turn: 3})
	m.Record("stage1", messages.EpisodeRecord{Resolved: true})
	m.Iteration("stage1", actors.IterationReport{Iteration: 1})
	m.Eval(observe.Eval{Stage: "rft", Pass1: 0.25})
	m.RunEnded("stage1", errors.New("cut"))
	for name, r := range map[string]*observe.Recorder{"a": a, "b": b} {
		got := r.Snapshot()
		if len(got.Runs) != 1 || got.Runs[0].Stage != "stage1" || len(got.Events) != 1 || got.Events[0].Turn != 3 ||
			len(got.Records) != 1 || !got.Records[0].Resolved || len(got.Iterations) != 1 || got.Iterations[0].Iteration != 1 ||
			len(got.Evals) != 1 || got.Evals[0].Pass1 != 0.25 || len(got.Ended) != 1 || got.Ended[0] == nil {
			t.Errorf("watcher %s saw %+v", name, got)
		}
	}
}
