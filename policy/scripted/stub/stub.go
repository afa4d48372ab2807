// Package stub serves scripted policies from the OpenAI-compatible stub server
// (openaitest), for tests that run swerl against an endpoint: the gold policy, which
// types each task's gold patch through the scaffold.
package stub

import (
	"context"
	"strings"
	"testing"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/policy/openai/openaitest"
	"github.com/swerl/swerl/policy/scripted"
	"github.com/swerl/swerl/swe"
)

// GoldHandler makes the stub server an agent that types each task's gold patch
// through the scaffold: it finds the task by the issue text of the conversation,
// rebuilds the transcript from the ChatML prompt (assistant replies and the
// observations after them) and asks the scripted gold policy for the next reply. A
// prompt it cannot place is a 400 and a test error.
func GoldHandler(t testing.TB, tasks []swe.Task) openaitest.Handler {
	gold := scripted.NewGold(tasks)
	byIssue := map[string]messages.TaskRef{}
	for _, tk := range tasks {
		r := tk.Ref()
		byIssue[strings.TrimSpace(r.Statement)] = r
	}
	return func(c openaitest.Call) openaitest.Response {
		_, turns := openaitest.ParseChat(c.Text)
		if len(turns) == 0 || turns[0].Role != "user" {
			return openaitest.Response{Status: 400, Body: `{"error": "no user message in the prompt"}`}
		}
		_, issue, _ := strings.Cut(turns[0].Content, "<issue>\n")
		issue, _, _ = strings.Cut(issue, "\n</issue>")
		task, ok := byIssue[strings.TrimSpace(issue)]
		if !ok {
			return openaitest.Response{Status: 400, Body: `{"error": "unknown issue"}`}
		}
		var tr messages.Transcript
		for i := 1; i+1 < len(turns); i += 2 {
			a, obs := turns[i], turns[i+1]
			cmd, ferr := swe.ParseCommand(a.Content)
			tr = tr.Append(messages.Turn{Index: tr.Len(), Assistant: a.Content, Command: cmd, FormatError: ferr, Observation: obs.Content})
		}
		r, err := gold.Generate(context.Background(), policy.Request{Task: task, Transcript: tr, Turn: tr.Len()})
		if err != nil {
			t.Errorf("gold policy: %v", err)
			return openaitest.Response{Status: 400, Body: `{"error": "gold policy failed"}`}
		}
		return openaitest.Response{Text: r.Text}
	}
}
