package engine

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Knob is one setting of the recipe: swerl's value beside the paper's (a number, or
// a sentence where the paper's setting has no direct counterpart).
type Knob[T any] struct {
	Ours  T      `json:"ours"`
	Paper any    `json:"paper,omitempty"`
	Note  string `json:"note,omitempty"`
}

// Recipe is the embedded world's whole run (`swerl train`): SimSWE, the base model's
// pretraining, RFT, RL stages 1 and 2, and the held-out evaluation.
type Recipe struct {
	Comment string `json:"comment,omitempty"`
	Seed    uint64 `json:"seed"`
	World   struct {
		Preset     string    `json:"preset"`
		TrainTasks Knob[int] `json:"train_tasks"`
	} `json:"world"`
	Model struct {
		Window Knob[int] `json:"window"`
		Dim    Knob[int] `json:"dim"`
		Heads  Knob[int] `json:"heads"`
		Hidden Knob[int] `json:"hidden"`
	} `json:"model"`
	HeldOut struct {
		Tasks   Knob[int] `json:"tasks"`
		Samples Knob[int] `json:"samples"`
		TurnCap Knob[int] `json:"turn_cap"`
		// Every is how many RL iterations pass between held-out evaluations on the
		// learning curve (each phase's end is always evaluated).
		Every Knob[int] `json:"every"`
	} `json:"held_out"`
	Pretrain struct {
		Traces      Knob[int]     `json:"traces"`
		Noise       Knob[float64] `json:"noise"`
		Epochs      Knob[int]     `json:"epochs"`
		LR          Knob[float64] `json:"lr"`
		Batch       Knob[int]     `json:"batch"`
		TargetPass1 Knob[float64] `json:"target_pass1"`
		// A screening probe follows every ProbeEvery traces and rolls out
		// ProbeSamples samples of ProbeTasks training-pool tasks (never held-out
		// ones). When it reaches TargetPass1, a confirmation probe, ConfirmSamples
		// samples of ConfirmTasks other training-pool tasks, must reach it too for
		// pretraining to stop: the small probe's error is a large part of the target,
		// and stopping at its first high reading picks a lucky one. The confirmation
		// probe takes at most the tasks the screening probe leaves (a pool that small
		// leaves none, and the screening probe decides alone). ConfirmTasks 0 stops at
		// the first screening probe that reaches the target (the old rule).
		// While a screening probe reads under a quarter of TargetPass1, the next
		// chunk is twice the last, up to MaxProbeEvery (0: chunks stay ProbeEvery):
		// probes far below the target only tell that pretraining must go on.
		ProbeEvery     Knob[int] `json:"probe_every"`
		MaxProbeEvery  Knob[int] `json:"max_probe_every"`
		ProbeTasks     Knob[int] `json:"probe_tasks"`
		ProbeSamples   Knob[int] `json:"probe_samples"`
		ConfirmTasks   Knob[int] `json:"confirm_tasks"`
		ConfirmSamples Knob[int] `json:"confirm_samples"`
		// A confirmed reading above CeilingPass1 (0: no ceiling) undoes the last
		// chunk and goes on in chunks a quarter the size, down to MinProbeEvery.
		CeilingPass1  Knob[float64] `json:"ceiling_pass1"`
		MinProbeEvery Knob[int]     `json:"min_probe_every"`
	} `json:"pretrain"`
	RFT struct {
		// RFT collects in rounds of Samples rollouts of Tasks training-pool tasks
		// (new tasks each round) until it holds MinResolved resolved trajectories or
		// has spent MaxRollouts rollouts (over all passes). MinResolved 0 collects one
		// round. Each pass collects, then fine-tunes on what it kept; the next pass
		// collects with the fine-tuned model, and runs only while the last collection
		// resolved less than TargetPass1 (Passes 1: the paper's single pass).
		// Accumulate fine-tunes each pass on every pass's resolved trajectories so
		// far, not only its own.
		Passes           Knob[int]     `json:"passes"`
		Accumulate       Knob[bool]    `json:"accumulate"`
		TargetPass1      Knob[float64] `json:"target_pass1"`
		Tasks            Knob[int]     `json:"tasks"`
		Samples          Knob[int]     `json:"samples"`
		MinResolved      Knob[int]     `json:"min_resolved"`
		MaxRollouts      Knob[int]     `json:"max_rollouts"`
		Epochs           Knob[int]     `json:"epochs"`
		LR               Knob[float64] `json:"lr"`
		WeightDecay      Knob[float64] `json:"weight_decay"`
		WarmupSteps      Knob[int]     `json:"warmup_steps"`
		Batch            Knob[int]     `json:"batch"`
		MaskFormatErrors Knob[bool]    `json:"mask_format_errors"`
	} `json:"rft"`
	Stage1 RLStage `json:"stage1"`
	Stage2 RLStage `json:"stage2"`
}

// RLStage is one synchronous-DAPO stage.
type RLStage struct {
	Iterations          Knob[int]     `json:"iterations"`
	TasksPerIteration   Knob[int]     `json:"tasks_per_iteration"`
	GroupSize           Knob[int]     `json:"group_size"`
	TrajectoriesPerStep Knob[int]     `json:"trajectories_per_step"`
	EpsLow              Knob[float64] `json:"eps_low"`
	EpsHigh             Knob[float64] `json:"eps_high"`
	TurnCap             Knob[int]     `json:"turn_cap"`
	LengthThreshold     Knob[int]     `json:"length_threshold"` // L_thr of the turn penalty
	ContextTokens       Knob[int]     `json:"context_tokens"`
	LR                  Knob[float64] `json:"lr"`
	WeightDecay         Knob[float64] `json:"weight_decay"`
	GradClip            Knob[float64] `json:"grad_clip"`
	Temperature         Knob[float64] `json:"temperature"`
	// Stage 2's harder pool (PAPER.md): drop tasks solved at least this often, and
	// those never solved. Zero values keep every task.
	PoolDropSolvedAtLeast Knob[float64] `json:"pool_drop_solved_at_least"`
	PoolDropNeverSolved   Knob[bool]    `json:"pool_drop_never_solved"`
}

//go:embed recipe.json
var defaultRecipe []byte

// DefaultRecipe returns the embedded recipe.
func DefaultRecipe() Recipe {
	r, err := ParseRecipe(defaultRecipe, "embedded recipe.json")
	if err != nil {
		panic(err) // a test guards the embedded file
	}
	return r
}

// LoadRecipe reads a recipe file ("" for the embedded one) and applies settings
// (see SetKnobs).
func LoadRecipe(path string, settings ...string) (Recipe, error) {
	data, name := defaultRecipe, "embedded recipe.json"
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return Recipe{}, err
		}
		name = path
	}
	data, err := SetKnobs(data, settings)
	if err != nil {
		return Recipe{}, fmt.Errorf("%s: %w", name, err)
	}
	return ParseRecipe(data, name)
}

// SetKnobs returns data (a recipe file) with knobs replaced: each setting is
// "section.knob=value" (the knob's "ours" value; "seed=N" for the seed), value a JSON
// number, boolean or string. An unknown section or knob is an error, so a typo never
// silently keeps the default.
func SetKnobs(data []byte, settings []string) ([]byte, error) {
	if len(settings) == 0 {
		return data, nil
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	for _, set := range settings {
		key, val, ok := strings.Cut(set, "=")
		if !ok {
			return nil, fmt.Errorf("setting %q: want section.knob=value", set)
		}
		var v any
		if err := json.Unmarshal([]byte(val), &v); err != nil {
			v = val // a bare word: a string
		}
		if key == "seed" {
			doc["seed"] = v
			continue
		}
		section, knob, ok := strings.Cut(key, ".")
		sec, isMap := doc[section].(map[string]any)
		if !ok || !isMap {
			return nil, fmt.Errorf("setting %q: no section %q in the recipe", set, section)
		}
		switch k := sec[knob].(type) {
		case map[string]any:
			k["ours"] = v
		case string: // world.preset
			sec[knob] = v
		default:
			return nil, fmt.Errorf("setting %q: no knob %q in section %q", set, knob, section)
		}
	}
	return json.Marshal(doc)
}

// ParseRecipe decodes and validates a recipe; unknown keys are errors (a misspelt
// knob must not silently keep its default).
func ParseRecipe(data []byte, name string) (Recipe, error) {
	var r Recipe
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Recipe{}, fmt.Errorf("%s: %w", name, err)
	}
	if err := r.Validate(); err != nil {
		return Recipe{}, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

// Validate reports every out-of-range value at once.
func (r Recipe) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if r.World.TrainTasks.Ours < 1 || r.HeldOut.Tasks.Ours < 1 {
		bad("world.train_tasks and held_out.tasks must be positive")
	}
	if r.HeldOut.Samples.Ours < 1 || r.HeldOut.TurnCap.Ours < 1 || r.HeldOut.Every.Ours < 1 {
		bad("held_out.samples, held_out.turn_cap and held_out.every must be positive")
	}
	if p := r.Pretrain; p.Traces.Ours < 1 || p.Epochs.Ours < 1 || p.ProbeEvery.Ours < 1 || p.ProbeTasks.Ours < 1 || p.ProbeSamples.Ours < 1 {
		bad("pretrain.traces, epochs, probe_every, probe_tasks and probe_samples must be positive")
	}
	if t := r.Pretrain.TargetPass1.Ours; t <= 0 || t > 1 {
		bad("pretrain.target_pass1 = %v: want a fraction in (0, 1]", t)
	}
	if p := r.Pretrain; p.ConfirmTasks.Ours < 0 || (p.ConfirmTasks.Ours > 0 && p.ConfirmSamples.Ours < 1) {
		bad("pretrain.confirm_tasks = %d, confirm_samples = %d: want confirm_tasks 0 (no confirmation probe) or both positive", p.ConfirmTasks.Ours, p.ConfirmSamples.Ours)
	}
	if p := r.Pretrain; p.MaxProbeEvery.Ours != 0 && p.MaxProbeEvery.Ours < p.ProbeEvery.Ours {
		bad("pretrain.max_probe_every = %d: want 0 (no growth) or at least probe_every (%d)", p.MaxProbeEvery.Ours, p.ProbeEvery.Ours)
	}
	if p := r.Pretrain; p.CeilingPass1.Ours != 0 && (p.CeilingPass1.Ours < p.TargetPass1.Ours || p.CeilingPass1.Ours > 1 || p.MinProbeEvery.Ours < 1) {
		bad("pretrain.ceiling_pass1 = %v, min_probe_every = %d: want ceiling 0 (none) or between target_pass1 (%v) and 1, with min_probe_every positive", p.CeilingPass1.Ours, p.MinProbeEvery.Ours, p.TargetPass1.Ours)
	}
	if r.RFT.Samples.Ours < 1 || r.RFT.Tasks.Ours < 1 || r.RFT.Passes.Ours < 1 {
		bad("rft.passes, rft.tasks and rft.samples must be positive")
	}
	if t := r.RFT.TargetPass1.Ours; r.RFT.Passes.Ours > 1 && (t <= 0 || t > 1) {
		bad("rft.target_pass1 = %v: want a fraction in (0, 1] (the collection rate that ends the passes)", t)
	}
	if f := r.RFT; f.MinResolved.Ours < 0 || (f.MinResolved.Ours > 0 && f.MaxRollouts.Ours < f.Tasks.Ours*f.Samples.Ours) {
		bad("rft.min_resolved = %d, max_rollouts = %d: want min_resolved 0 (one round), or max_rollouts at least one round (tasks x samples = %d)", f.MinResolved.Ours, f.MaxRollouts.Ours, f.Tasks.Ours*f.Samples.Ours)
	}
	for name, s := range map[string]RLStage{"stage1": r.Stage1, "stage2": r.Stage2} {
		switch {
		case s.GroupSize.Ours < 2:
			bad("%s.group_size = %d: group-normalised advantages need at least 2", name, s.GroupSize.Ours)
		case s.EpsLow.Ours <= 0 || s.EpsLow.Ours >= 1 || s.EpsHigh.Ours <= 0:
			bad("%s: need 0 < eps_low < 1 and eps_high > 0", name)
		case s.LengthThreshold.Ours < 1 || s.LengthThreshold.Ours >= s.TurnCap.Ours:
			bad("%s.length_threshold = %d: want 1 <= length_threshold < turn_cap (%d)", name, s.LengthThreshold.Ours, s.TurnCap.Ours)
		case s.TurnCap.Ours < 1 || s.TasksPerIteration.Ours < 1 || s.Iterations.Ours < 0:
			bad("%s: turn_cap and tasks_per_iteration must be positive, iterations not negative", name)
		case s.LR.Ours <= 0 || s.GradClip.Ours <= 0:
			bad("%s: lr and grad_clip must be positive", name)
		}
	}
	return errors.Join(errs...)
}
