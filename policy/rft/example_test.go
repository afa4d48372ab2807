package rft_test

import (
	"fmt"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy/rft"
	"github.com/swerl/swerl/records"
)

func ExampleBuild() {
	var tr messages.Transcript
	tr = tr.Append(messages.NewTurnWithPrompt(messages.Turn{Assistant: "I will look.", FormatError: "no command block",
		Observation: "error: no command block"}, []int32{1, 2}, []int32{3}, []float32{-0.1}))
	tr = tr.Append(messages.NewTurnWithPrompt(messages.Turn{Assistant: "```command\nsubmit\n```", Command: "submit"},
		[]int32{4}, []int32{5, 6}, []float32{-0.2, -0.3}))
	rec := records.FromEpisode(messages.EpisodeRecord{
		Ref: messages.EpisodeRef{TaskID: "t1"}, Task: messages.TaskRef{ID: "t1", Statement: "Fix it."},
		Status: messages.Finished, Stop: messages.StopSubmit, Transcript: tr, Resolved: true, Reward: 1, Final: 1,
	}, true)

	ex, st := rft.Build([]records.Record{rec}, rft.Options{SystemPrompt: "You are an engineer."})
	for _, m := range ex[0].Messages {
		fmt.Printf("%-9s w=%d %q\n", m.Role, m.Weight, m.Content)
	}
	fmt.Println("input_ids", ex[0].InputIDs)
	fmt.Println("loss_mask", ex[0].LossMask)
	fmt.Printf("kept %d, masked turns %d, tokens trained %d\n", st.Kept, st.MaskedTurns, st.TrainedTokens)
	// Output:
	// system    w=0 "You are an engineer."
	// user      w=0 "Fix it."
	// assistant w=0 "I will look."
	// user      w=0 "error: no command block"
	// assistant w=1 "```command\nsubmit\n```"
	// input_ids [1 2 3 4 5 6]
	// loss_mask [0 0 0 0 1 1]
	// kept 1, masked turns 1, tokens trained 2
}
