package main

import (
	"bytes"
	"context"
	"errors"
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

func TestTrainSaysWhatIsMissing(t *testing.T) {
	err := run(context.Background(), []string{"train"}, &bytes.Buffer{}, &bytes.Buffer{})
	if !errors.Is(err, errNotBuilt) {
		t.Fatalf("train: %v", err)
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
