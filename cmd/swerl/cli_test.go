package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swerl/swerl/benchmarks"
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

func TestBenchGridWritesReports(t *testing.T) {
	old := gridRunner
	defer func() { gridRunner = old }()
	gridRunner = func(f func(*testing.T)) bool {
		ok := t.Run("grid", f)
		return ok
	}
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "grid", "--scenario", "swe-small", "--episodes", "100", "--out", dir}, &out, &errOut)
	if err != nil {
		t.Fatalf("bench grid: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"swe-small", "most-turns-left", "ratio", "grid.json"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("bench grid output lacks %q:\n%s", want, out.String())
		}
	}
	js, err := os.ReadFile(filepath.Join(dir, "grid.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g benchmarks.GridResult
	if err := json.Unmarshal(js, &g); err != nil || len(g.Points) != 1 || g.Points[0].Episodes != 100 || len(g.Scenarios[0].Sources) == 0 {
		t.Errorf("grid.json: %v, %+v", err, g.Points)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "grid.svg"))
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(svg))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("grid.svg is not well-formed XML: %v", err)
		}
	}
	if md, err := os.ReadFile(filepath.Join(dir, "grid.md")); err != nil || !strings.Contains(string(md), "| swe-small | 100 |") {
		t.Errorf("grid.md: %v\n%s", err, md)
	}
	for _, bad := range [][]string{{"--episodes", "15"}, {"--scenario", "nope"}, {"--order", "lifo"}} {
		if err := run(context.Background(), append([]string{"bench", "grid"}, bad...), &out, &errOut); err == nil {
			t.Errorf("bench grid accepted %q", bad)
		}
	}
}
