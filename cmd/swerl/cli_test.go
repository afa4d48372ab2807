package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHelpAndUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), nil, &out, &errOut); err != nil || !strings.Contains(out.String(), "usage: swerl") {
		t.Fatalf("no-arg run: %v, output %q", err, out.String())
	}
	err := run(context.Background(), []string{"frobnicate"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %v", err)
	}
}

func TestTrainRejectsBadRecipe(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "recipe.json")
	os.WriteFile(bad, []byte(`{"seed": 1, "sede": 2}`), 0o644)
	err := run(context.Background(), []string{"train", "--recipe", bad, "--out", t.TempDir()}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "recipe.json") || !strings.Contains(err.Error(), "sede") {
		t.Fatalf("train with a misspelt knob: %v", err)
	}
}

func TestBenchReportsRatios(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"bench", "--episodes", "20", "--turns", "3", "--count", "1"}, &out, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"engine / bare Proto.Actor:", "engine / goroutine floor:", "KiB per concurrent episode", "ref: bare Proto.Actor"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("bench output lacks %q:\n%s", want, out.String())
		}
	}
	if err := run(context.Background(), []string{"bench", "--episodes", "15"}, &out, &bytes.Buffer{}); err == nil {
		t.Error("bench accepted --episodes 15 (not a multiple of the group size)")
	}
}
