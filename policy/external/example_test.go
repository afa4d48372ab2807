package external_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy/external"
)

// The directory protocol with a stand-in for the outside trainer: it waits for
// batch.json, then answers with served.json.
func ExampleNewDir() {
	dir, _ := os.MkdirTemp("", "learner-")
	defer os.RemoveAll(dir)

	done := make(chan struct{})
	go func() { // the outside trainer
		defer close(done)
		bd := external.BatchDir(dir, 0)
		for {
			data, err := os.ReadFile(filepath.Join(bd, external.BatchFile))
			if err == nil {
				var m external.Manifest
				json.Unmarshal(data, &m)
				served, _ := json.Marshal(map[string]any{"version": m.ExpectVersion, "model": "policy-1",
					"stats": map[string]any{"loss": 0.1, "steps": 1}})
				os.WriteFile(filepath.Join(bd, ".served.tmp"), served, 0o644)
				os.Rename(filepath.Join(bd, ".served.tmp"), filepath.Join(bd, external.ServedFile))
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	tr, _ := external.NewDir(dir, external.Options{Poll: 5 * time.Millisecond, Timeout: time.Minute})
	st, err := tr.Train(context.Background(), messages.NewTrainBatch(0, 0, nil))
	<-done
	if err != nil {
		fmt.Println(err)
		return
	}
	model, _ := tr.Served(1)
	fmt.Printf("policy %d served as %s; loss %.1f in %d step\n", tr.Version(), model, st.Loss, st.Steps)
	// Output: policy 1 served as policy-1; loss 0.1 in 1 step
}
