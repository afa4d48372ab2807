package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `train --seeds 1-2` runs the recipe once per seed, each in its own directory, and
// writes the table of every row across seeds and the overlaid curves (and, asked, a
// CPU profile of the whole run).
func TestTrainSeeds(t *testing.T) {
	dir := t.TempDir()
	profile := filepath.Join(t.TempDir(), "cpu.out")
	args := []string{"train", "--out", dir, "--quiet", "--seeds", "1-2", "--cpuprofile", profile}
	for _, s := range metricsSmallTrain {
		args = append(args, "--set", s)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("train --seeds: %v\nstderr:\n%s", err, stderr.String())
	}
	for _, seed := range []string{"seed-1", "seed-2"} {
		if _, err := os.Stat(filepath.Join(dir, seed, "table.txt")); err != nil {
			t.Errorf("%s: %v", seed, err)
		}
	}
	table, err := os.ReadFile(filepath.Join(dir, "seeds.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(table)), "\n")
	// header, base, + RFT, + RL stage 1, + RL stage 2, wall
	if len(lines) != 6 || !strings.Contains(lines[0], "seed 1") || !strings.Contains(lines[0], "seed 2") ||
		!strings.Contains(lines[0], "spread") || !strings.Contains(lines[4], "+ RL stage 2") {
		t.Errorf("seeds.txt:\n%s", table)
	}
	if !strings.Contains(stdout.String(), string(table)) {
		t.Errorf("stdout does not show the table:\n%s", stdout.String())
	}
	svg, err := os.ReadFile(filepath.Join(dir, "curve-seeds.svg"))
	if err != nil || strings.Count(string(svg), "<path") != 2 {
		t.Errorf("curve-seeds.svg (%v):\n%s", err, svg)
	}
	// A pprof profile is gzipped protobuf.
	if p, err := os.ReadFile(profile); err != nil || len(p) < 2 || p[0] != 0x1f || p[1] != 0x8b {
		t.Errorf("--cpuprofile wrote no profile (%v, %d bytes)", err, len(p))
	}
}

func TestTrainSeedsRejectsBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--seeds", "3-1"}, `--seeds "3-1"`},
		{[]string{"--seeds", "x"}, `--seeds "x"`},
		{[]string{"--seeds", "1-2", "--set", "seed=4"}, "give one of them"},
		{[]string{"--cpuprofile", filepath.Join(t.TempDir(), "no-such-dir", "cpu.out")}, "--cpuprofile"},
	} {
		args := append([]string{"train", "--out", t.TempDir(), "--quiet"}, c.args...)
		err := run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("train %v: %v; want an error containing %q", c.args, err, c.want)
		}
	}
}
