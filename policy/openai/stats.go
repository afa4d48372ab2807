package openai

import "sync/atomic"

// Stats counts a Policy's work since New. Requests counts HTTP attempts; each ends in
// a status class or as a transport error (no answer).
type Stats struct {
	Generates       int64 // Generate calls
	Completions     int64 // completions returned by Generate
	Overflows       int64 // replies with Overflow set
	Requests        int64 // HTTP attempts, every endpoint
	Retries         int64 // attempts that followed a retryable failure
	Status2xx       int64
	Status4xx       int64 // 429 included
	Status429       int64
	Status5xx       int64
	StatusOther     int64 // 1xx, 3xx
	TransportErrors int64 // no answer: refused, reset, timed out
	PromptTokens    int64 // context tokens sent with completion requests
	OutputTokens    int64 // tokens produced
}

type counters struct {
	generates, completions, overflows         atomic.Int64
	requests, retries                         atomic.Int64
	s2xx, s4xx, s429, s5xx, sOther, transport atomic.Int64
	promptTokens, outputTokens                atomic.Int64
}

func (c *counters) countStatus(code int) {
	switch {
	case code >= 200 && code < 300:
		c.s2xx.Add(1)
	case code >= 400 && code < 500:
		c.s4xx.Add(1)
		if code == 429 {
			c.s429.Add(1)
		}
	case code >= 500 && code < 600:
		c.s5xx.Add(1)
	default:
		c.sOther.Add(1)
	}
}

// Stats returns a snapshot of the counters. It may be called concurrently with
// anything; the fields are read one by one, not as one atomic snapshot.
func (p *Policy) Stats() Stats {
	c := &p.stats
	return Stats{
		Generates: c.generates.Load(), Completions: c.completions.Load(), Overflows: c.overflows.Load(),
		Requests: c.requests.Load(), Retries: c.retries.Load(),
		Status2xx: c.s2xx.Load(), Status4xx: c.s4xx.Load(), Status429: c.s429.Load(), Status5xx: c.s5xx.Load(),
		StatusOther: c.sOther.Load(), TransportErrors: c.transport.Load(),
		PromptTokens: c.promptTokens.Load(), OutputTokens: c.outputTokens.Load(),
	}
}
