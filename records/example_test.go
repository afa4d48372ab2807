package records_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/records"
)

func ExampleWriter() {
	dir, _ := os.MkdirTemp("", "records-example-")
	defer os.RemoveAll(dir)

	var tr messages.Transcript
	tr = tr.Append(messages.NewTurnWithPrompt(messages.Turn{Assistant: "```command\nsubmit\n```", Command: "submit"},
		[]int32{1, 2, 3}, []int32{4, 5}, []float32{-0.5, -0.25}))
	ep := messages.EpisodeRecord{Ref: messages.EpisodeRef{TaskID: "t1"}, Task: messages.TaskRef{ID: "t1", Statement: "Fix it."},
		Status: messages.Finished, Stop: messages.StopSubmit, Transcript: tr, Resolved: true, Reward: 1, Final: 1}
	rec := records.FromEpisode(ep, false) // the advantage is not known yet: null
	if err := rec.Validate(); err != nil {
		fmt.Println(err)
	}

	w, err := records.NewWriter(dir, records.WriterOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	w.Write(rec) // returns at once; the writer's goroutine appends and syncs
	if err := w.Close(); err != nil {
		fmt.Println(err)
	}

	back, _ := records.ReadJSONL(filepath.Join(dir, records.JSONLName))
	pq, _ := records.ReadParquet(filepath.Join(dir, records.ParquetDir))
	r := back[0]
	fmt.Println(len(back), len(pq), r.TaskID, r.Status, r.Advantage == nil)
	fmt.Println("token_ids", r.TokenIDs)
	fmt.Println("loss_mask", r.LossMask)
	fmt.Println("logprobs ", r.Logprobs)
	// Output:
	// 1 1 t1 finished true
	// token_ids [1 2 3 4 5]
	// loss_mask [0 0 0 1 1]
	// logprobs  [0 0 0 -0.5 -0.25]
}
