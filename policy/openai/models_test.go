package openai_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/swerl/swerl/policy/openai"
	"github.com/swerl/swerl/policy/openai/openaitest"
)

func TestLoad(t *testing.T) {
	srv := openaitest.NewServer(t, nil)
	srv.SetModels(openaitest.DefaultModel, "policy-v1")
	p, _ := newPolicy(t, srv, func(c *openai.Config) { c.ModelFor = func(v int) string { return "policy-v" + strconv.Itoa(v) } })
	if err := p.Load(context.Background(), 1); err != nil {
		t.Fatalf("Load(1) with policy-v1 served: %v", err)
	}
	err := p.Load(context.Background(), 2)
	wantFatal(t, err)
	if !errors.Is(err, openai.ErrNotServed) || !strings.Contains(err.Error(), `"policy-v2"`) ||
		!strings.Contains(err.Error(), "["+openaitest.DefaultModel+", policy-v1]") {
		t.Fatalf("Load(2): %v; want ErrNotServed naming the model and what is served", err)
	}
}

func TestCheck(t *testing.T) {
	t.Run("ok", func(t *testing.T) {
		srv := openaitest.NewServer(t, nil)
		p, _ := newPolicy(t, srv, nil)
		if err := p.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("model not served", func(t *testing.T) {
		srv := openaitest.NewServer(t, nil)
		p, _ := newPolicy(t, srv, func(c *openai.Config) { c.Model = "qwen" })
		err := p.Check(context.Background())
		wantFatal(t, err)
		if !errors.Is(err, openai.ErrNotServed) {
			t.Fatalf("Check: %v", err)
		}
	})
	t.Run("end of turn not one token", func(t *testing.T) {
		srv := openaitest.NewServer(t, nil)
		p, _ := newPolicy(t, srv, func(c *openai.Config) {
			c.Template = openai.ChatML
			c.Template.EndOfTurn = "</turn>"
		})
		err := p.Check(context.Background())
		wantFatal(t, err)
		if !strings.Contains(err.Error(), "exactly one token") {
			t.Fatalf("Check: %v", err)
		}
		_, err = p.Generate(context.Background(), firstRequest())
		wantFatal(t, err)
	})
	t.Run("server gone", func(t *testing.T) {
		srv := openaitest.NewServer(t, nil)
		p, _ := newPolicy(t, srv, nil)
		srv.Close()
		wantRetryable(t, p.Check(context.Background()))
	})
}
