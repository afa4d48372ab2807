package openai_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/policy/openai"
)

// A client of a vLLM server (vllm serve Qwen/Qwen2.5-72B-Instruct --max-model-len 65536)
// with RL's defaults: the untruncated sampler, a 65k context, 4096 tokens per reply.
// Check is the preflight a command line runs before starting episodes. (Not run: it
// needs a server.)
func Example_vllm() {
	p, err := openai.New(openai.Config{
		Endpoint:       "http://localhost:8000/v1",
		Model:          "Qwen/Qwen2.5-72B-Instruct",
		RequestTimeout: 5 * time.Minute,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	ctx := context.Background()
	if err := p.Check(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	reply, err := p.Generate(ctx, policy.Request{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err, "retryable:", policy.IsRetryable(err))
		return
	}
	fmt.Println(len(reply.Prompt), len(reply.Tokens), len(reply.Logprobs), reply.Overflow)
}
