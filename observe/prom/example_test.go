package prom_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/observe/prom"
)

// A Metrics watches a run (pass it as engine.Config.Watcher) and serves what it
// counted at /metrics.
func Example() {
	m := prom.New()
	ref := messages.EpisodeRef{Iteration: 0, Group: 1, Sample: 2, TaskID: "task-007"}
	m.Observe(actors.Event{Kind: actors.EventTurn, Ref: ref, Turn: 1, Tokens: 40, Generate: 30 * time.Millisecond})
	m.Record("stage1", messages.EpisodeRecord{Ref: ref, Status: messages.Finished, Stop: messages.StopSubmit, Resolved: true})

	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "swerl_episodes_total") || strings.HasPrefix(line, "swerl_assistant_tokens_total") {
			fmt.Println(line)
		}
	}
	// Output:
	// swerl_assistant_tokens_total 40
	// swerl_episodes_total{stage="stage1",status="finished",stop_reason="submit"} 1
}
