package openai_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/swerl/swerl/policy/openai"
	"github.com/swerl/swerl/swe"
)

func TestNewFillsDefaults(t *testing.T) {
	p, err := openai.New(openai.Config{Endpoint: "http://127.0.0.1:8000/v1", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	c := p.Config()
	s := c.Sampling
	if s.Temperature != 1 || s.TopP != 1 || s.TopK != -1 || s.MinP != 0 || s.Seed != nil {
		t.Errorf("sampling = %+v, want temperature 1, top_p 1, top_k -1, min_p 0", s)
	}
	if c.MaxTurnTokens != 4096 || c.ContextBudget != 65536 || c.RequestTimeout != 10*time.Minute ||
		c.MaxRetries != 4 || c.BackoffBase != 500*time.Millisecond || c.BackoffMax != 30*time.Second ||
		c.MaxConcurrent != 64 || c.SystemPrompt != swe.SystemPrompt || c.Template != openai.ChatML {
		t.Errorf("defaults = %+v", c)
	}
	if c.ModelFor(7) != "m" {
		t.Errorf("ModelFor(7) = %q, want Model", c.ModelFor(7))
	}
}

func TestNewRejects(t *testing.T) {
	ok := openai.Config{Endpoint: "http://localhost:8000", Model: "m"}
	for name, tc := range map[string]struct {
		edit func(*openai.Config)
		want string
	}{
		"no endpoint":      {func(c *openai.Config) { c.Endpoint = "" }, "Config.Endpoint"},
		"endpoint scheme":  {func(c *openai.Config) { c.Endpoint = "localhost:8000" }, "Config.Endpoint"},
		"no model":         {func(c *openai.Config) { c.Model = "" }, "Config.Model"},
		"temperature":      {func(c *openai.Config) { c.Sampling.Temperature = -1 }, "Config.Sampling.Temperature"},
		"top_p":            {func(c *openai.Config) { c.Sampling.TopP = 1.5 }, "Config.Sampling.TopP"},
		"top_k":            {func(c *openai.Config) { c.Sampling.TopK = -2 }, "Config.Sampling.TopK"},
		"min_p":            {func(c *openai.Config) { c.Sampling.MinP = -0.1 }, "Config.Sampling.MinP"},
		"max turn tokens":  {func(c *openai.Config) { c.MaxTurnTokens = -1 }, "Config.MaxTurnTokens"},
		"context budget":   {func(c *openai.Config) { c.ContextBudget = -1 }, "Config.ContextBudget"},
		"max concurrent":   {func(c *openai.Config) { c.MaxConcurrent = -1 }, "Config.MaxConcurrent"},
		"request timeout":  {func(c *openai.Config) { c.RequestTimeout = -time.Second }, "Config.RequestTimeout"},
		"backoff order":    {func(c *openai.Config) { c.BackoffBase, c.BackoffMax = time.Minute, time.Second }, "Config.BackoffMax"},
		"template user":    {func(c *openai.Config) { c.Template = openai.ChatML; c.Template.User = "user:" }, "Config.Template.User"},
		"template end":     {func(c *openai.Config) { c.Template = openai.ChatML; c.Template.EndOfTurn = "" }, "Config.Template.EndOfTurn"},
		"template system":  {func(c *openai.Config) { c.Template = openai.ChatML; c.Template.System = "{content}{content}" }, "Config.Template.System"},
		"template a start": {func(c *openai.Config) { c.Template = openai.ChatML; c.Template.AssistantStart = "" }, "Config.Template.AssistantStart"},
	} {
		c := ok
		tc.edit(&c)
		_, err := openai.New(c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %s", name, err, tc.want)
		}
	}
	c := ok
	c.MaxRetries, c.HTTPClient = -1, http.DefaultClient
	p, err := openai.New(c)
	if err != nil || p.Config().MaxRetries != 0 {
		t.Errorf("MaxRetries -1: %v, %+v; want no retries", err, p)
	}
}
