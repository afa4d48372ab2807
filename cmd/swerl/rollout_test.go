package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy/external"
	"github.com/swerl/swerl/policy/openai/openaitest"
	"github.com/swerl/swerl/policy/scripted/stub"
	"github.com/swerl/swerl/records"
	"github.com/swerl/swerl/sandbox/docker"
	"github.com/swerl/swerl/sandbox/sandboxtest"
	"github.com/swerl/swerl/swe"
	"github.com/swerl/swerl/swe/builtin"
)

// The acceptance run of issue 5, against each faithful server mode (issue 12):
// `swerl rollout` on the built-in tasks against a stub that replies with the gold
// edits resolves every task; every record's loss mask covers exactly the assistant
// tokens, with the log-probs the stub sampled them with (vLLM mode: Qwen2.5's
// generation config would add a repetition penalty to any field left out); no
// request is refused; the Parquet parts read back equal the JSONL records field by
// field; `swerl rft` turns them into SFT data.
func TestRolloutGoldStubResolvesBuiltin(t *testing.T) {
	for _, m := range []string{"vllm", "sglang"} {
		t.Run(m, func(t *testing.T) { testRolloutGold(t, "local", serverModes[m]) })
	}
}

func TestRolloutGoldStubResolvesBuiltinDocker(t *testing.T) {
	sandboxtest.RequireDocker(t, docker.DefaultBaseImage)
	testRolloutGold(t, "docker", serverModes["vllm"])
}

// serverModes are the stub's faithful modes: vLLM serving Qwen2.5-Instruct (its
// generation config's sampling defaults and second EOS id, raw log-probs, the
// context length 32768) and SGLang serving it.
var serverModes = map[string]openaitest.Options{
	"vllm": {Kind: openaitest.VLLM, Defaults: openaitest.QwenDefaults, EOS: openaitest.QwenEOS, MaxModelLen: 32768},
	"sglang": {Kind: openaitest.SGLang, Defaults: openaitest.QwenDefaults, EOS: openaitest.QwenEOS, MaxModelLen: 32768,
		WeightVersion: "0"},
}

func testRolloutGold(t *testing.T, backend string, mode openaitest.Options) {
	if testing.Short() {
		t.Skip("grades 60 rollouts of the built-in suite")
	}
	tasks, err := builtin.Tasks()
	if err != nil {
		t.Fatal(err)
	}
	srv := openaitest.NewServerWith(t, stub.GoldHandler(t, tasks), mode)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	// The default --context (65536) is above the server's 32768: it is clamped.
	err = run(context.Background(), []string{"rollout", "--tasks", "builtin", "--endpoint", srv.URL,
		"--model", openaitest.DefaultModel, "--sandbox", backend, "-n", "2", "--out", out, "--concurrency", "8"}, &stdout, &stderr)
	t.Logf("stdout:\n%s", stdout.String())
	if err != nil {
		t.Fatalf("rollout: %v\nstderr tail:\n%s", err, tail(stderr.String(), 30))
	}
	var sum engine.Summary
	data, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatal(err)
	}
	want := 2 * len(tasks)
	if sum.Requested != want || sum.Finished != want || sum.Resolved != want || sum.Pass1 != 1 || sum.PassK != 1 {
		t.Fatalf("summary %+v: want all %d episodes finished and resolved (pass@1 = pass@2 = 100%%)", sum, want)
	}
	if !strings.Contains(stdout.String(), "pass@1         100.0%") && !strings.Contains(stdout.String(), "100.0%") {
		t.Fatalf("summary not printed:\n%s", stdout.String())
	}

	recs, err := records.ReadJSONL(filepath.Join(out, "records.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != want {
		t.Fatalf("%d records, want %d", len(recs), want)
	}
	for _, r := range recs {
		checkMaskCoversAssistantTokens(t, r)
	}
	checkSampledLogprobs(t, srv, recs)

	pq, err := records.ReadParquet(filepath.Join(out, "parquet"))
	if err != nil {
		t.Fatal(err)
	}
	compareRecords(t, recs, pq)

	sft := filepath.Join(t.TempDir(), "sft.jsonl")
	stdout.Reset()
	if err := run(context.Background(), []string{"rft", "--in", filepath.Join(out, "parquet"), "--out", sft}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	t.Logf("rft: %s", stdout.String())
	checkSFT(t, sft, recs)
}

// checkMaskCoversAssistantTokens checks one record against the stub's tokenizer: the
// positions with loss mask 1 hold exactly the assistant replies (each followed by the
// end-of-turn token the server produced), in order, with their sampling log-probs;
// every other position is context (system, issue, observations) with mask 0.
func checkMaskCoversAssistantTokens(t *testing.T, r records.Record) {
	t.Helper()
	name := fmt.Sprintf("%s/g%d/s%d", r.TaskID, r.Group, r.Sample)
	if err := r.Validate(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !r.Resolved || r.Status != string(messages.Finished) || r.StopReason != string(messages.StopSubmit) {
		t.Fatalf("%s: status %s stop %s resolved %v", name, r.Status, r.StopReason, r.Resolved)
	}
	var masked, context []int32
	pos := 0
	for i, tu := range r.Turns {
		for j := 0; j < tu.PromptTokens; j, pos = j+1, pos+1 {
			if r.LossMask[pos] != 0 {
				t.Fatalf("%s turn %d: prompt token %d has mask 1", name, i, pos)
			}
			context = append(context, r.TokenIDs[pos])
		}
		var reply []int32
		for j := 0; j < tu.AssistantTokens; j, pos = j+1, pos+1 {
			if r.LossMask[pos] != 1 || r.Logprobs[pos] >= 0 {
				t.Fatalf("%s turn %d: assistant token %d has mask %d log-prob %v", name, i, pos, r.LossMask[pos], r.Logprobs[pos])
			}
			reply = append(reply, r.TokenIDs[pos])
		}
		masked = append(masked, reply...)
		if got, want := openaitest.Decode(reply), tu.Assistant+"<|im_end|>"; got != want {
			t.Fatalf("%s turn %d: masked tokens decode to %q, want the reply %q", name, i, got, want)
		}
		if i+1 < len(r.Turns) && !strings.Contains(openaitest.Decode(r.TokenIDs[pos:pos+r.Turns[i+1].PromptTokens]), tu.Observation) {
			t.Fatalf("%s turn %d: the observation is not in the next prompt tokens", name, i)
		}
	}
	if pos != len(r.TokenIDs) {
		t.Fatalf("%s: turns account for %d of %d tokens", name, pos, len(r.TokenIDs))
	}
	ctx := openaitest.Decode(context)
	if !strings.Contains(ctx, swe.SystemPrompt) || !strings.Contains(ctx, r.Issue) {
		t.Fatalf("%s: the unmasked context lacks the system prompt or the issue", name)
	}
	if len(masked) == 0 {
		t.Fatalf("%s: no assistant tokens", name)
	}
}

// checkSampledLogprobs checks every assistant reply of recs against the stub's call
// that produced it (found by its context): the same ids, with the log-probs the stub
// sampled them with. No call was refused.
func checkSampledLogprobs(t *testing.T, srv *openaitest.Server, recs []records.Record) {
	t.Helper()
	key := func(ids []int32) string { return fmt.Sprint(ids) }
	calls := map[string]openaitest.Call{}
	for _, c := range srv.Calls() {
		if c.Output == nil {
			t.Fatalf("call %d was refused", c.N)
		}
		calls[key(c.Prompt)] = c
	}
	replies := 0
	for _, r := range recs {
		pos := 0
		for i, tu := range r.Turns {
			pos += tu.PromptTokens
			c, ok := calls[key(r.TokenIDs[:pos])]
			if !ok {
				t.Fatalf("%s/s%d turn %d: no call had this context", r.TaskID, r.Sample, i)
			}
			end := pos + tu.AssistantTokens
			if !slices.Equal(r.TokenIDs[pos:end], c.Output) {
				t.Fatalf("%s/s%d turn %d: tokens differ from the stub's output", r.TaskID, r.Sample, i)
			}
			for j, lp := range r.Logprobs[pos:end] {
				if lp != float32(c.Sampled[j]) {
					t.Fatalf("%s/s%d turn %d token %d: log-prob %v, the stub sampled it with %v (sampler %v)", r.TaskID, r.Sample, i, j, lp, c.Sampled[j], c.Sampler)
				}
			}
			pos = end
			replies++
		}
	}
	if replies == 0 {
		t.Fatal("no reply checked")
	}
}

// compareRecords compares JSONL and Parquet records field by field.
func compareRecords(t *testing.T, a, b []records.Record) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d JSONL records, %d Parquet records", len(a), len(b))
	}
	key := func(r records.Record) string { return fmt.Sprintf("%d/%06d/%06d", r.Iteration, r.Group, r.Sample) }
	sort.Slice(a, func(i, j int) bool { return key(a[i]) < key(a[j]) })
	sort.Slice(b, func(i, j int) bool { return key(b[i]) < key(b[j]) })
	typ := reflect.TypeOf(records.Record{})
	for i := range a {
		va, vb := reflect.ValueOf(a[i]), reflect.ValueOf(b[i])
		for f := 0; f < typ.NumField(); f++ {
			if !reflect.DeepEqual(va.Field(f).Interface(), vb.Field(f).Interface()) {
				t.Fatalf("record %s: field %s differs:\njsonl:   %v\nparquet: %v", key(a[i]), typ.Field(f).Name,
					va.Field(f).Interface(), vb.Field(f).Interface())
			}
		}
	}
}

// checkSFT reads the RFT file: one example per resolved record, its loss mask 1
// exactly on the assistant tokens (gold replies make no format errors).
func checkSFT(t *testing.T, path string, recs []records.Record) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	n := 0
	for sc.Scan() {
		var ex struct {
			Messages []struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"messages"`
			InputIDs []int32 `json:"input_ids"`
			LossMask []int8  `json:"loss_mask"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ex); err != nil {
			t.Fatalf("sft line %d: %v", n+1, err)
		}
		if len(ex.InputIDs) == 0 || len(ex.InputIDs) != len(ex.LossMask) {
			t.Fatalf("sft line %d: %d ids, %d mask", n+1, len(ex.InputIDs), len(ex.LossMask))
		}
		if len(ex.Messages) < 3 || ex.Messages[0].Role != "system" || ex.Messages[1].Role != "user" || ex.Messages[2].Role != "assistant" {
			t.Fatalf("sft line %d: messages do not open system, user, assistant", n+1)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(recs) {
		t.Fatalf("%d SFT examples from %d resolved records", n, len(recs))
	}
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

func TestRolloutFlagsAndDeadEndpoint(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"rollout", "--tasks", "builtin"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--endpoint") || !strings.Contains(err.Error(), "--model") {
		t.Fatalf("missing flags: %v", err)
	}
	// A port nobody listens on.
	dead := deadEndpoint(t)
	err = run(context.Background(), []string{"rollout", "--tasks", "builtin", "--endpoint", dead, "--model", "m",
		"--out", t.TempDir()}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "endpoint") || !strings.Contains(err.Error(), strings.TrimPrefix(dead, "http://")) {
		t.Fatalf("dead endpoint: %v, want an error naming it", err)
	}
	err = run(context.Background(), []string{"rft", "--in", filepath.Join(t.TempDir(), "none.jsonl"), "--out", "x"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "none.jsonl") {
		t.Fatalf("missing records: %v", err)
	}
}

// Two iterations of synchronous RL against an outside trainer over the directory
// protocol: the batch of policy k is handed over with its advantages, the trainer
// reports policy k+1 served under a new model name, and iteration k+1 samples that
// model.
func TestRolloutWithExternalLearner(t *testing.T) {
	// vLLM: the trainer serves policy k+1 as the LoRA adapter "policy-<k+1>".
	srv := testRolloutExternal(t, serverModes["vllm"], func(srv *openaitest.Server, v int) string {
		name := fmt.Sprintf("policy-%d", v)
		srv.SetModels(openaitest.DefaultModel, name)
		return name
	})
	models := map[string]int{}
	for _, c := range srv.Calls() {
		models[c.Request.Model]++
	}
	if models[openaitest.DefaultModel] == 0 || models["policy-1"] == 0 || len(models) != 2 {
		t.Fatalf("models sampled %v: want the base model in iteration 0, policy-1 in iteration 1", models)
	}
}

// SGLang, weights updated in place: the trainer updates the base model's weights with
// weight_version "k+1" and names the base model; swerl checks the weight version at
// the barrier (/model_info) and in every /generate answer.
func TestRolloutWithExternalLearnerSGLangWeights(t *testing.T) {
	var served atomic.Int64
	srv := testRolloutExternal(t, serverModes["sglang"], func(srv *openaitest.Server, v int) string {
		srv.SetWeightVersion(strconv.Itoa(v))
		served.Store(int64(v))
		return openaitest.DefaultModel
	})
	if served.Load() != 2 || srv.WeightVersion() != "2" {
		t.Fatalf("weights served %d, server reports %q", served.Load(), srv.WeightVersion())
	}
}

// testRolloutExternal runs two iterations of `swerl rollout --learner DIR` against a
// stub in mode, with an outside trainer that answers each batch and calls serve to
// make policy k+1 served (returning the model name it reports).
func testRolloutExternal(t *testing.T, mode openaitest.Options, serve func(srv *openaitest.Server, version int) string) *openaitest.Server {
	file, mirror := writeTaskFile(t)
	tasks, _ := swe.LoadTasks(file) // the malformed line is reported; the good tasks load
	srv := openaitest.NewServerWith(t, stub.GoldHandler(t, tasks), mode)
	learner, out := t.TempDir(), t.TempDir()

	// The outside trainer: answer each batch, serving policy k+1.
	trainerErr := make(chan error, 1)
	go func() {
		trainerErr <- func() error {
			for v := 0; v < 2; v++ {
				bd := external.BatchDir(learner, v)
				deadline := time.Now().Add(2 * time.Minute)
				for {
					if _, err := os.Stat(filepath.Join(bd, external.BatchFile)); err == nil {
						break
					}
					if time.Now().After(deadline) {
						return fmt.Errorf("no batch for policy %d", v)
					}
					time.Sleep(20 * time.Millisecond)
				}
				recs, err := records.ReadParquet(filepath.Join(bd, external.RecordsParquet))
				if err != nil {
					return err
				}
				for _, r := range recs {
					if r.Advantage == nil || r.PolicyVersion != v {
						return fmt.Errorf("batch %d: record %s/s%d without advantage or of policy %d", v, r.TaskID, r.Sample, r.PolicyVersion)
					}
				}
				name := serve(srv, v+1)
				data, _ := json.Marshal(map[string]any{"version": v + 1, "model": name, "stats": map[string]any{"loss": 0.5, "steps": 1}})
				tmp := filepath.Join(bd, ".served.tmp")
				if err := os.WriteFile(tmp, data, 0o644); err != nil {
					return err
				}
				if err := os.Rename(tmp, filepath.Join(bd, external.ServedFile)); err != nil {
					return err
				}
			}
			return nil
		}()
	}()

	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"rollout", "--tasks", file, "--repos", mirror, "--endpoint", srv.URL,
		"--model", openaitest.DefaultModel, "-n", "2", "--iterations", "2", "--learner", learner, "--out", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("rollout: %v\nstderr tail:\n%s", err, tail(stderr.String(), 30))
	}
	if err := <-trainerErr; err != nil {
		t.Fatalf("outside trainer: %v", err)
	}
	recs, err := records.ReadJSONL(filepath.Join(out, "records.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	perIter := map[int]int{}
	for _, r := range recs {
		if r.PolicyVersion != r.Iteration {
			t.Fatalf("record of iteration %d sampled policy %d", r.Iteration, r.PolicyVersion)
		}
		perIter[r.Iteration]++
	}
	if perIter[0] != 2*len(tasks) || perIter[1] != 2*len(tasks) {
		t.Fatalf("records per iteration %v, want %d each", perIter, 2*len(tasks))
	}
	return srv
}

// Issue 12, point 6: a run in which the server refuses every completion produced
// nothing, and says so: a non-zero exit naming the commonest cause and its fix.
func TestRolloutNothingFinishedFails(t *testing.T) {
	srv := openaitest.NewServerWith(t, func(openaitest.Call) openaitest.Response {
		return openaitest.Response{Status: http.StatusBadRequest, Body: `{"object":"error","message":"the stub refuses"}`}
	}, serverModes["vllm"])
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"rollout", "--tasks", "builtin", "--endpoint", srv.URL,
		"--model", openaitest.DefaultModel, "-n", "2", "--out", t.TempDir()}, &stdout, &stderr)
	var none *engine.ErrNothingFinished
	if !errors.As(err, &none) {
		t.Fatalf("rollout against a server that refuses everything: %v; want *engine.ErrNothingFinished", err)
	}
	if none.Kind != messages.FailGenerate || !strings.Contains(err.Error(), "the stub refuses") ||
		!strings.Contains(err.Error(), "--endpoint") {
		t.Fatalf("error %q: want the generate failure, its cause and what to check", err)
	}
	if !strings.Contains(stdout.String(), "abandoned") {
		t.Fatalf("summary not printed:\n%s", stdout.String())
	}
}

// --instances and --limit pick the tasks of a rollout, in file order, before the
// endpoint is contacted; an id the file lacks is named.
func TestRolloutSelectsTasks(t *testing.T) {
	tasks, err := builtin.Tasks()
	if err != nil {
		t.Fatal(err)
	}
	first, second := tasks[0].InstanceID, tasks[1].InstanceID
	srv := openaitest.NewServerWith(t, stub.GoldHandler(t, tasks), serverModes["vllm"])
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), []string{"rollout", "--tasks", "builtin", "--endpoint", srv.URL,
		"--model", openaitest.DefaultModel, "-n", "2", "--out", out, "--instances", second + "," + first, "--limit", "1"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("rollout: %v\nstderr tail:\n%s", err, tail(stderr.String(), 30))
	}
	recs, err := records.ReadJSONL(filepath.Join(out, "records.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2 (one task, -n 2)", len(recs))
	}
	for _, r := range recs {
		if r.TaskID != first {
			t.Errorf("record of %s, want only %s (the first of the two in file order)", r.TaskID, first)
		}
	}

	// A port nobody listens on: the unknown id is reported before it is tried.
	dead := deadEndpoint(t)
	err = run(context.Background(), []string{"rollout", "--tasks", "builtin", "--endpoint", dead, "--model", "m",
		"--out", t.TempDir(), "--instances", first + ",swerl__nope-9"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "swerl__nope-9") || strings.Contains(err.Error(), "endpoint") {
		t.Fatalf("unknown instance: %v, want an error naming swerl__nope-9 (and no endpoint check)", err)
	}
}

// deadEndpoint returns the URL of a loopback port nobody listens on.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String()
}
