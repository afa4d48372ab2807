package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/observe/ui"
)

// metricsStderr is a stderr that the command writes while the test reads it.
type metricsStderr struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *metricsStderr) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *metricsStderr) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// metricsSmallTrain is a recipe small enough for CI (engine's smallRecipe, with two
// stage 1 iterations), as --set flags.
var metricsSmallTrain = []string{
	"world.preset=easy", "world.train_tasks=24", "held_out.tasks=4", "held_out.samples=2", "held_out.turn_cap=12",
	"model.window=24", "model.dim=16", "model.hidden=32",
	"pretrain.traces=12", "pretrain.epochs=1", "pretrain.probe_tasks=4", "pretrain.probe_samples=2",
	"rft.tasks=4", "rft.samples=2",
	"stage1.iterations=2", "stage1.tasks_per_iteration=3", "stage1.group_size=2", "stage1.turn_cap=12",
	"stage2.iterations=1", "stage2.tasks_per_iteration=3", "stage2.group_size=2", "stage2.turn_cap=16",
}

// scrape is one scrape of /metrics, parsed.
type scrape map[string]*dto.MetricFamily

// sum adds the values of family name's series whose labels include want (a counter's
// or gauge's value; a histogram's sample count).
func (s scrape) sum(name string, want map[string]string) float64 {
	var total float64
	for _, m := range s[name].GetMetric() {
		ok := true
		for k, v := range want {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || (lp.GetName() == k && lp.GetValue() == v)
			}
			ok = ok && found
		}
		if !ok {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			total += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			total += m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

func getMetrics(client *http.Client, url string) (scrape, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	var p expfmt.TextParser
	return p.TextToMetricFamilies(resp.Body)
}

// TestTrainServesMetrics runs a short `swerl train --metrics-addr 127.0.0.1:0 --ui
// 127.0.0.1:0` and scrapes it while it goes: the counters advance between scrapes, the
// latency histograms fill, the live page's state has the run, and once stage 1 is over
// its counts agree with metrics.jsonl.
func TestTrainServesMetrics(t *testing.T) {
	dir := t.TempDir()
	stderr := &metricsStderr{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	args := []string{"train", "--out", dir, "--metrics-addr", "127.0.0.1:0", "--ui", "127.0.0.1:0", "--quiet"}
	for _, s := range metricsSmallTrain {
		args = append(args, "--set", s)
	}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, io.Discard, stderr) }()
	var runErr error
	finished := false
	poll := func(what string, cond func() bool) bool {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			if cond() {
				return true
			}
			if finished {
				return false
			}
			select {
			case runErr = <-done:
				finished = true
				return false
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited 90 s for %s; stderr:\n%s", what, stderr.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	addrRE := regexp.MustCompile(`metrics: (http://\S+/metrics)\n`)
	var url string
	if !poll("the metrics address on stderr", func() bool {
		m := addrRE.FindStringSubmatch(stderr.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	}) {
		t.Fatalf("train ended (%v) before printing its metrics address; stderr:\n%s", runErr, stderr.String())
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var first, second, stage1 scrape
	scrapeUntil := func(what string, into *scrape, cond func(scrape) bool) bool {
		return poll(what, func() bool {
			s, err := getMetrics(client, url)
			if err != nil {
				// The server stops as the command returns: a failed scrape is only
				// an error while the command goes on.
				select {
				case runErr = <-done:
					finished = true
					return false
				case <-time.After(30 * time.Second):
					t.Fatalf("scrape while the run goes: %v", err)
				}
			}
			*into = s
			return cond(s)
		})
	}
	if !scrapeUntil("a scrape with an episode", &first, func(s scrape) bool { return s.sum("swerl_episodes_total", nil) > 0 }) {
		t.Fatalf("train ended (%v) before a scrape saw an episode", runErr)
	}
	n1 := first.sum("swerl_episodes_total", nil)
	if !scrapeUntil("a later scrape with more episodes", &second, func(s scrape) bool { return s.sum("swerl_episodes_total", nil) > n1 }) {
		t.Fatalf("train ended (%v) before a scrape saw more than %v episodes", runErr, n1)
	}
	t.Logf("scrapes: %v then %v episodes", n1, second.sum("swerl_episodes_total", nil))
	// The live page, served beside the metrics, follows the same run.
	if m := regexp.MustCompile(`ui: (http://\S+/)\n`).FindStringSubmatch(stderr.String()); m == nil {
		t.Errorf("no ui address on stderr:\n%s", stderr.String())
	} else if resp, err := client.Get(m[1] + "api/state"); err != nil {
		t.Errorf("the live page's state: %v", err)
	} else {
		var st ui.State
		err := json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil || st.Run == nil || st.Seq == 0 {
			t.Errorf("the live page's state while train runs: %+v (%v)", st, err)
		}
	}
	for name, mf := range first {
		if mf.GetType() != dto.MetricType_COUNTER || !strings.HasPrefix(name, "swerl_") {
			continue
		}
		if a, b := first.sum(name, nil), second.sum(name, nil); b < a {
			t.Errorf("counter %s went down between scrapes: %v -> %v", name, a, b)
		}
	}
	for _, name := range []string{"swerl_turns_total", "swerl_assistant_tokens_total", "swerl_generate_duration_seconds",
		"swerl_sandbox_starts_total", "swerl_sandbox_start_duration_seconds", "swerl_iterations_started_total"} {
		if second.sum(name, nil) <= 0 {
			t.Errorf("%s is empty in the second scrape", name)
		}
	}
	if a, b := second.sum("swerl_turns_total", nil), second.sum("swerl_generate_duration_seconds", nil); a != b {
		t.Errorf("%v turns but %v generate latencies", a, b)
	}
	// Stage 1's counts are final once its 2nd barrier is counted; the run goes on with
	// an evaluation and stage 2, so a scrape almost surely sees that moment.
	sawStage1 := scrapeUntil("stage 1's last barrier", &stage1, func(s scrape) bool {
		return s.sum("swerl_iterations_total", map[string]string{"stage": "stage1"}) >= 2
	})
	if !finished {
		select {
		case runErr = <-done:
		case <-time.After(2 * time.Minute):
			t.Fatalf("train did not end; stderr:\n%s", stderr.String())
		}
	}
	if runErr != nil {
		t.Fatalf("train: %v\nstderr:\n%s", runErr, stderr.String())
	}
	if _, err := getMetrics(client, url); err == nil {
		t.Error("the metrics server still answers after train returned")
	}
	if !sawStage1 {
		t.Log("the run ended before a scrape saw stage 1's last barrier: the metrics.jsonl comparison is skipped")
		return
	}
	var episodes, resolved, lines float64
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l engine.MetricsLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("metrics.jsonl: %v", err)
		}
		if l.Kind == "iteration" && l.Stage == "stage1" {
			lines++
			episodes += float64(l.Records)
			resolved += float64(l.Resolved)
		}
	}
	stage := map[string]string{"stage": "stage1"}
	if got := stage1.sum("swerl_iterations_total", stage); got != lines {
		t.Errorf("swerl_iterations_total{stage=stage1} = %v; metrics.jsonl has %v stage1 iterations", got, lines)
	}
	if got := stage1.sum("swerl_episodes_total", stage); got != episodes || got == 0 {
		t.Errorf("swerl_episodes_total{stage=stage1} = %v; metrics.jsonl counts %v records", got, episodes)
	}
	if got := stage1.sum("swerl_episodes_resolved_total", stage); got != resolved {
		t.Errorf("swerl_episodes_resolved_total{stage=stage1} = %v; metrics.jsonl counts %v resolved", got, resolved)
	}
	if got := stage1.sum("swerl_learner_step_duration_seconds", stage); got != lines {
		t.Errorf("%v learner steps of stage1 timed, want %v", got, lines)
	}
}

// A bad or busy --metrics-addr stops the command before it runs, with an error naming
// the flag and the address.
func TestMetricsAddrErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	commands := [][]string{{"train", "--out", t.TempDir()}, {"rollout"}, {"node", "--cluster", "test"}}
	for _, addr := range []string{"not-an-address", "127.0.0.1:99999", busy.Addr().String()} {
		for _, cmd := range commands {
			var stderr bytes.Buffer
			err := run(context.Background(), append(cmd, "--quiet", "--metrics-addr", addr), io.Discard, &stderr)
			if err == nil {
				t.Errorf("%s --metrics-addr %s: no error", cmd[0], addr)
				continue
			}
			if !strings.Contains(err.Error(), "--metrics-addr") || !strings.Contains(err.Error(), addr) {
				t.Errorf("%s --metrics-addr %s: error %q does not name the flag and the address", cmd[0], addr, err)
			}
			if strings.Contains(stderr.String(), "metrics: http") {
				t.Errorf("%s --metrics-addr %s printed an address: %s", cmd[0], addr, stderr.String())
			}
		}
	}
}
