package engine

import (
	"fmt"
	"maps"
	"slices"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/messages"
)

// ErrNothingFinished is the error of a run in which every episode was abandoned.
type ErrNothingFinished struct {
	Abandoned int
	Kind      messages.FailureKind // the commonest kind of failure
	Count     int                  // episodes abandoned for it
	Example   string               // the cause of one of them
}

func (e *ErrNothingFinished) Error() string {
	return fmt.Sprintf("no episode finished: all %d were abandoned, %d of them for %s, e.g. %q; %s",
		e.Abandoned, e.Count, e.Kind, e.Example, failureFix(e.Kind))
}

// nothingFinished returns an *ErrNothingFinished when records hold abandoned episodes
// and no finished one, else nil.
func nothingFinished(recs []messages.EpisodeRecord) error {
	by := map[messages.FailureKind]int{}
	example := map[messages.FailureKind]string{}
	for _, r := range recs {
		if r.Status == messages.Finished {
			return nil
		}
		by[r.Failure.Kind]++
		if _, ok := example[r.Failure.Kind]; !ok {
			example[r.Failure.Kind] = r.Failure.Cause
		}
	}
	if len(by) == 0 {
		return nil
	}
	var top messages.FailureKind
	for _, k := range slices.Sorted(maps.Keys(by)) {
		if by[k] > by[top] {
			top = k
		}
	}
	return &ErrNothingFinished{Abandoned: len(recs), Kind: top, Count: by[top], Example: example[top]}
}

// failureFix says what to check when every episode was abandoned for k.
func failureFix(k messages.FailureKind) string {
	if k == messages.FailCancelled {
		return "the run was stopped before any episode ended"
	}
	return actors.FailureFix(k)
}
