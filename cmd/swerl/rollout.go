package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/cluster/node"
	"github.com/swerl/swerl/cluster/wire"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/policy/external"
	"github.com/swerl/swerl/policy/openai"
	"github.com/swerl/swerl/sandbox/docker"
)

const rolloutUsage = `usage: swerl rollout --tasks FILE|builtin --endpoint URL --model NAME [flags]

Samples G rollouts of every task from an OpenAI-compatible server (vLLM, SGLang) in real
sandboxes, grades them, writes trajectory records as they finish (OUT/records.jsonl and
OUT/parquet/) and prints a summary (also in OUT/summary.json). With --learner and
--iterations K it runs K synchronous DAPO iterations against an external trainer.
`

func rolloutCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rollout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, rolloutUsage); fs.PrintDefaults() }
	taskFile := fs.String("tasks", "", "task file (SWE-bench JSONL, JSON array or Parquet) or 'builtin'")
	endpoint := fs.String("endpoint", "", "base URL of the OpenAI-compatible server, e.g. http://127.0.0.1:8000")
	model := fs.String("model", "", "served model name")
	apiKey := fs.String("api-key", os.Getenv("OPENAI_API_KEY"), "bearer token (default $OPENAI_API_KEY)")
	backend := fs.String("sandbox", engine.SandboxLocal, "sandbox backend: local or docker")
	lease := fs.Duration("sandbox-lease", docker.DefaultLeaseTTL, "docker sandboxes: lease renewed every third of it; if this process dies, even by kill -9, its containers go within the lease and a few seconds")
	g := fs.Int("n", 10, "rollouts per task (G; PAPER.md: 10)")
	out := fs.String("out", "swerl-rollout", "directory for records.jsonl, parquet/ and summary.json")
	turnCap := fs.Int("turn-cap", 40, "turns per episode (PAPER.md: 40 stage 1, 80 stage 2)")
	budget := fs.Int("context", 65536, "context budget in tokens (PAPER.md: 65536 stage 1, 131072 stage 2); overflow ends the episode")
	turnTokens := fs.Int("max-turn-tokens", 4096, "tokens one reply may produce")
	temperature := fs.Float64("temperature", 1, "sampling temperature (PAPER.md: 1.0)")
	topP := fs.Float64("top-p", 1, "top_p (PAPER.md: 1, no truncation)")
	topK := fs.Int("top-k", -1, "top_k (PAPER.md: -1, no truncation)")
	minP := fs.Float64("min-p", 0, "min_p (PAPER.md: 0, no truncation)")
	repPenalty := fs.Float64("repetition-penalty", 1, "repetition_penalty (1: off; sent always, so the model's generation_config.json default never applies)")
	presPenalty := fs.Float64("presence-penalty", 0, "presence_penalty (0: off)")
	freqPenalty := fs.Float64("frequency-penalty", 0, "frequency_penalty (0: off)")
	processed := fs.Bool("logprobs-processed", false, "the server returns processed log-probs (vLLM --logprobs-mode processed_logprobs); needed for any sampler but the neutral one")
	server := fs.String("server", "auto", "server kind: auto (detect), vllm or sglang")
	fit := fs.String("fit-context", "clamp", "when --context exceeds the server's max_model_len: clamp (lower it) or refuse")
	conc := fs.Int("concurrency", 32, "episodes (sandboxes) at once; 0: all")
	requests := fs.Int("max-requests", 64, "generate requests in flight at once")
	order := fs.String("generation-order", string(actors.OrderMostTurnsLeft),
		"which waiting request gets a free generation slot: most-turns-left or fifo")
	graders := fs.Int("graders", 8, "grading runs at once")
	seed := fs.Uint64("seed", 1, "seed of task order and retry jitter")
	iterations := fs.Int("iterations", 1, "iterations; more than 1 needs --learner")
	learner := fs.String("learner", "", "external trainer: a directory, or an http(s) URL (see README)")
	learnerWait := fs.Duration("learner-timeout", 2*time.Hour, "how long to wait for the trainer to serve the next policy")
	mirror := fs.String("repos", "", "directory of local clones for tasks that are not built in (owner__name)")
	checkouts := fs.String("checkouts", "", "directory for prepared task repositories (default: user cache)")
	selectTasks := taskSelectionFlags(fs)
	var cf clusterFlags
	cf.register(fs, "127.0.0.1:0")
	var wf watchFlags
	wf.register(fs, true, "warn")
	if err := fs.Parse(args); err != nil {
		return err
	}
	wf.headLogsAtInfo(fs, &cf)
	watch, err := wf.start(stderr, "swerl")
	if err != nil {
		return fmt.Errorf("rollout: %w", err)
	}
	defer watch.Stop()
	var missing []string
	for _, f := range []struct{ name, v string }{{"--tasks", *taskFile}, {"--endpoint", *endpoint}, {"--model", *model}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		fs.Usage()
		return fmt.Errorf("rollout: missing %s", strings.Join(missing, ", "))
	}
	if *g < 1 || *turnCap < 1 || *iterations < 1 {
		return errors.New("rollout: -n, --turn-cap and --iterations must be at least 1")
	}
	if _, err := actors.ParseGenerationOrder(*order); err != nil {
		return fmt.Errorf("rollout: --generation-order: %w", err)
	}
	if *iterations > 1 && *learner == "" {
		return errors.New("rollout: --iterations > 1 trains, and needs --learner DIR|URL (an external trainer)")
	}
	if *learner != "" && *g < 2 {
		return errors.New("rollout: training needs -n >= 2 (group-normalised advantages)")
	}
	kind := openai.ServerKind(*server)
	if *server == "auto" {
		kind = openai.ServerAuto
	}

	tasks, snaps, loadErr := engine.LoadTaskFile(*taskFile)
	if loadErr != nil {
		fmt.Fprintf(stderr, "%v\n", loadErr)
		if len(tasks) == 0 {
			return fmt.Errorf("rollout: no valid task in %s", *taskFile)
		}
	}
	tasks, err = selectTasks(tasks)
	if err != nil {
		return fmt.Errorf("rollout: %w", err)
	}

	var trainer policy.Trainer
	var ext *external.Trainer
	if *learner != "" {
		var err error
		opts := external.Options{Timeout: *learnerWait}
		if strings.HasPrefix(*learner, "http://") || strings.HasPrefix(*learner, "https://") {
			ext, err = external.NewHTTP(*learner, opts)
		} else {
			ext, err = external.NewDir(*learner, opts)
		}
		if err != nil {
			return fmt.Errorf("rollout: %w", err)
		}
		trainer = ext
	}
	pcfg := openai.Config{Endpoint: *endpoint, Model: *model, APIKey: *apiKey, Server: kind,
		Sampling: openai.Sampling{Temperature: *temperature, TopP: *topP, TopK: *topK, MinP: *minP,
			RepetitionPenalty: *repPenalty, PresencePenalty: *presPenalty, FrequencyPenalty: *freqPenalty},
		LogprobsProcessed: *processed, FitContext: openai.FitContext(*fit),
		MaxTurnTokens: *turnTokens, ContextBudget: *budget, MaxConcurrent: *requests}
	if ext != nil {
		pcfg.ModelFor = func(version int) string {
			if m, ok := ext.Served(version); ok && m != "" {
				return m
			}
			return *model
		}
		// SGLang lists no adapters: a version the trainer serves by updating the
		// base model's weights in place is checked by weight version (README).
		pcfg.WeightVersion = func(version int) string {
			if m, ok := ext.Served(version); ok && version > 0 && (m == "" || m == *model) {
				return strconv.Itoa(version)
			}
			return ""
		}
	}
	pol, err := openai.New(pcfg)
	if err != nil {
		return fmt.Errorf("rollout: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = pol.Check(cctx)
	cancel()
	if err != nil {
		return fmt.Errorf("rollout: endpoint check failed (is the server up and serving %q?): %w", *model, err)
	}
	if info, ok := pol.Info(); ok {
		fmt.Fprintf(stderr, "rollout: %s %s, max_model_len %d, context budget %d\n", info.Server, info.Version, info.MaxModelLen, info.ContextBudget)
		if info.ContextBudget < *budget {
			fmt.Fprintf(stderr, "rollout: --context %d is above what the server takes; clamped to %d (--fit-context refuse makes this an error)\n", *budget, info.ContextBudget)
		}
	}

	w, err := engine.OpenWorld(ctx, engine.WorldConfig{Tasks: tasks, Snapshots: snaps, Sandbox: *backend,
		CheckoutDir: *checkouts, Mirror: *mirror, Docker: engine.DockerConfig{LeaseTTL: *lease}})
	if err != nil {
		return fmt.Errorf("rollout: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		w.Close(cctx)
	}()
	ep := engine.DefaultConfig().Episode
	ep.TurnCap = *turnCap
	fmt.Fprintf(stderr, "rollout: %d tasks x %d samples x %d iterations from %s (%s), %s sandboxes\n",
		len(w.Refs), *g, *iterations, *endpoint, *model, *backend)
	ro := engine.RolloutOptions{World: w, Policy: pol, Trainer: trainer,
		Iterations: *iterations, GroupSize: *g, Seed: *seed, Out: *out, Episode: ep,
		MaxConcurrentEpisodes: *conc, MaxInFlightGenerations: *requests, GraderConcurrency: *graders,
		GenerationOrder: actors.GenerationOrder(*order),
		Progress:        watch.Progress, Logger: watch.Log, Watcher: watch.Watcher}
	if cf.name != "" {
		head, stop, err := startHead(&cf, watch.Log)
		if err != nil {
			return fmt.Errorf("rollout: %w", err)
		}
		defer stop()
		// The workers call the endpoint themselves, each capped at --max-requests.
		head.ShipPolicy(func(version int) (*wire.Policy, error) { return node.HTTPPolicyOf(pcfg, version).Wire() })
		ro.Cluster = head
		fmt.Fprintf(stderr, "rollout: episodes run on the workers of cluster %q (started with `swerl node --tasks %s`)\n", cf.name, *taskFile)
	}
	res, err := engine.Rollout(ctx, ro)
	fmt.Fprintln(stdout)
	res.Summary.WriteText(stdout)
	fmt.Fprintf(stdout, "\nrecords: %s and %s/ (summary.json beside them)\n", res.Records, res.Parquet)
	if err != nil {
		return fmt.Errorf("rollout: %w", err)
	}
	return nil
}
