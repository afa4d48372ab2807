package engine

import (
	"strings"
	"testing"
)

func TestEmbeddedRecipe(t *testing.T) {
	r := DefaultRecipe()
	// The paper's stage values sit beside ours (PAPER.md's table).
	if r.Stage1.EpsHigh.Paper != 0.3 || r.Stage2.EpsHigh.Paper != 0.26 || r.Stage2.TurnCap.Paper != 80.0 || r.RFT.LR.Paper != 5e-6 {
		t.Fatalf("paper values: %+v %+v", r.Stage1.EpsHigh, r.Stage2)
	}
	if r.Stage2.EpsHigh.Ours >= r.Stage1.EpsHigh.Ours || r.Stage2.TurnCap.Ours <= r.Stage1.TurnCap.Ours {
		t.Errorf("stage 2 must lower eps_high and raise the turn cap, as the paper does")
	}
}

func TestRecipeRejectsBadFiles(t *testing.T) {
	for name, edit := range map[string][2]string{
		"unknown knob":              {`"seed": 1`, `"seed": 1, "sede": 2`},
		"group of one":              {`"group_size": {"ours": 10, "paper": 10},`, `"group_size": {"ours": 1, "paper": 10},`},
		"not json":                  {`{`, `{{`},
		"negative rate":             {`"lr": {"ours": 0.001, "paper": 1e-6}`, `"lr": {"ours": -1, "paper": 1e-6}`},
		"target above 1":            {`"target_pass1": {"ours": 0.08`, `"target_pass1": {"ours": 8`},
		"threshold past the cap":    {`"length_threshold": {"ours": 6`, `"length_threshold": {"ours": 60`},
		"ceiling under the target":  {`"ceiling_pass1": {"ours": 0.12`, `"ceiling_pass1": {"ours": 0.05`},
		"confirmation of no sample": {`"confirm_samples": {"ours": 5}`, `"confirm_samples": {"ours": 0}`},
		"cap under one round":       {`"max_rollouts": {"ours": 20000`, `"max_rollouts": {"ours": 10`},
		"no RFT pass":               {`"passes": {"ours": 6`, `"passes": {"ours": 0`},
		"RFT target above 1":        {`"target_pass1": {"ours": 0.6`, `"target_pass1": {"ours": 60`},
		"chunks that shrink":        {`"max_probe_every": {"ours": 400`, `"max_probe_every": {"ours": 50`},
	} {
		data := strings.Replace(string(defaultRecipe), edit[0], edit[1], 1)
		if data == string(defaultRecipe) {
			t.Fatalf("%s: the edit did not apply", name)
		}
		if _, err := ParseRecipe([]byte(data), "r.json"); err == nil || !strings.Contains(err.Error(), "r.json") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestSetKnobs(t *testing.T) {
	r, err := LoadRecipe("", "stage1.eps_high=0.2", "world.preset=easy", "seed=7", "rft.mask_format_errors=false")
	if err != nil {
		t.Fatal(err)
	}
	if r.Stage1.EpsHigh.Ours != 0.2 || r.Stage1.EpsHigh.Paper != 0.3 || r.World.Preset != "easy" || r.Seed != 7 || r.RFT.MaskFormatErrors.Ours {
		t.Fatalf("settings not applied: eps_high %+v, preset %q, seed %d, mask %v", r.Stage1.EpsHigh, r.World.Preset, r.Seed, r.RFT.MaskFormatErrors.Ours)
	}
	if r.Stage2.EpsHigh.Ours != DefaultRecipe().Stage2.EpsHigh.Ours {
		t.Errorf("stage2 changed too")
	}
	for _, bad := range []string{"stage1.eps_hihg=0.2", "stage3.lr=1", "stage1.lr", "stage1.lr=-1", "stage1.group_size=\"ten\""} {
		if _, err := LoadRecipe("", bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
