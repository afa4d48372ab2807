package external

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/swerl/swerl/internal/atomicfile"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/records"
)

// Files of a batch directory (directory protocol).
const (
	BatchFile      = "batch.json"      // written by swerl last: the batch is complete
	RecordsJSONL   = "records.jsonl"   // the batch's records, JSON lines
	RecordsParquet = "records.parquet" // the same records, Parquet
	ServedFile     = "served.json"     // written by the trainer: the next policy is served
	FailedFile     = "failed.json"     // written by the trainer: it could not train the batch
)

// Manifest is batch.json: what swerl handed over. Its presence means the batch's
// files are complete.
type Manifest struct {
	Iteration     int `json:"iteration"`
	PolicyVersion int `json:"policy_version"` // the version that sampled the records
	// ExpectVersion is the version the trainer must report served: policy_version+1.
	ExpectVersion int `json:"expect_version"`
	Records       int `json:"records"`
	// Tokens is the number of context tokens (the records' token_ids);
	// AssistantTokens the number of them that are trained on (loss_mask 1).
	Tokens          int      `json:"tokens"`
	AssistantTokens int      `json:"assistant_tokens"`
	Files           []string `json:"files"`
}

// BatchDir is the directory of the batch sampled from policy version in dir:
// dir/batch-000007 for version 7.
func BatchDir(dir string, version int) string {
	return filepath.Join(dir, fmt.Sprintf("batch-%06d", version))
}

type dirProtocol struct{ dir string }

// NewDir returns a trainer that exchanges batches with an outside trainer through
// dir (created if missing; see the package doc for the protocol).
func NewDir(dir string, opts Options) (*Trainer, error) {
	if dir == "" {
		return nil, errors.New("external: no trainer directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("external: trainer directory %s: %w", dir, err)
	}
	return newTrainer(dir, dirProtocol{dir: dir}, opts), nil
}

func (p dirProtocol) exchange(ctx context.Context, t *Trainer, b messages.TrainBatch, want int) (answer, error) {
	bd := BatchDir(p.dir, b.PolicyVersion)
	served, failed := filepath.Join(bd, ServedFile), filepath.Join(bd, FailedFile)
	if err := ctx.Err(); err != nil {
		return answer{}, t.waitErr(ctx, want)
	}
	// A restart after the trainer answered: read the answer, write nothing.
	if a, err := readAnswer(served); err == nil {
		return p.check(a, served, want)
	}
	if err := p.handOver(bd, b, want); err != nil {
		return answer{}, fmt.Errorf("external trainer at %s: write batch %d: %w", p.dir, b.PolicyVersion, err)
	}
	deadline := time.Now().Add(t.opts.Timeout)
	var last error // why served.json, present, could not be read
	for {
		a, err := readAnswer(served)
		switch {
		case err == nil:
			return p.check(a, served, want)
		case !errors.Is(err, fs.ErrNotExist):
			last = err
		}
		if msg, ok := readFailure(failed); ok {
			return answer{}, fmt.Errorf("external trainer at %s failed to train batch %d (policy %d -> %d): %s",
				p.dir, b.PolicyVersion, b.PolicyVersion, want, msg)
		}
		left := time.Until(deadline)
		if left <= 0 {
			err := fmt.Errorf("external trainer at %s did not report policy %d served within %v: expected %s",
				p.dir, want, t.opts.Timeout, served)
			if last != nil {
				err = fmt.Errorf("%w (it is there but unreadable: %v)", err, last)
			}
			return answer{}, err
		}
		if err := t.opts.Sleep(ctx, min(t.opts.Poll, left)); err != nil {
			return answer{}, t.waitErr(ctx, want)
		}
	}
}

// handOver writes the batch unless the trainer already has it: records.jsonl and
// records.parquet, then batch.json last, each atomically. A batch.json already there
// (a restart while the trainer trains) is left alone; a batch the trainer failed
// before is written again, failed.json removed (a retry).
func (p dirProtocol) handOver(bd string, b messages.TrainBatch, want int) error {
	manifest, failed := filepath.Join(bd, BatchFile), filepath.Join(bd, FailedFile)
	_, ferr := os.Stat(failed)
	retry := ferr == nil
	if _, err := os.Stat(manifest); err == nil && !retry {
		return nil
	}
	if err := os.MkdirAll(bd, 0o755); err != nil {
		return err
	}
	if retry {
		if err := os.Remove(manifest); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.Remove(failed); err != nil {
			return err
		}
	}
	recs := batchRecords(b)
	m := Manifest{Iteration: b.Iteration, PolicyVersion: b.PolicyVersion, ExpectVersion: want, Records: len(recs),
		Files: []string{RecordsJSONL, RecordsParquet}}
	for _, r := range recs {
		m.Tokens += len(r.TokenIDs)
		m.AssistantTokens += r.AssistantTokens()
	}
	if err := records.WriteJSONL(filepath.Join(bd, RecordsJSONL), recs); err != nil {
		return err
	}
	if err := records.WriteParquet(filepath.Join(bd, RecordsParquet), recs); err != nil {
		return err
	}
	return atomicfile.WriteJSON(manifest, m)
}

// check accepts a served.json that names the expected version.
func (p dirProtocol) check(a answer, path string, want int) (answer, error) {
	if a.Version != want {
		return answer{}, fmt.Errorf("external trainer at %s reported policy %d served in %s; expected %d",
			p.dir, a.Version, path, want)
	}
	return a, nil
}

// readAnswer reads served.json. A missing file is fs.ErrNotExist; a file that is
// not JSON with a version is another error.
func readAnswer(path string) (answer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return answer{}, err
	}
	return decodeAnswer(data, path, true)
}

// readFailure reads failed.json: its "error", or its text if it is not that JSON.
func readFailure(path string) (string, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	var f struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &f) == nil && f.Error != "" {
		return f.Error, true
	}
	msg := strings.TrimSpace(string(data))
	if len(msg) > 2000 {
		msg = msg[:2000] + "..."
	}
	if msg == "" {
		msg = "(empty " + FailedFile + ")"
	}
	return msg, true
}
