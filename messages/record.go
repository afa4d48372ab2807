package messages

import "time"

// Status says whether an episode finished (graded, with a reward) or was abandoned
// (an infrastructure failure past its retry budget, or a cancelled run).
type Status string

// The two terminal statuses.
const (
	Finished  Status = "finished"
	Abandoned Status = "abandoned"
)

// StopReason says why the agent loop ended.
type StopReason string

// Stop reasons (DESIGN.md: trajectory record).
const (
	StopSubmit          StopReason = "submit"
	StopTurnCap         StopReason = "turn_cap"
	StopContextOverflow StopReason = "context_overflow"
	StopTimeout         StopReason = "timeout"
	StopAbandoned       StopReason = "abandoned"
)

// EpisodeRecord is the one terminal record of a requested episode. Exactly one is
// produced per EpisodeRef, whatever happened to it.
type EpisodeRecord struct {
	Ref      EpisodeRef
	Task     TaskRef
	Status   Status
	Stop     StopReason
	Failure  Failure // why it was abandoned; zero when finished
	Attempts int     // sandbox attempts used (1 when nothing failed)
	Restarts int     // supervisor restarts of the episode actor
	Retries  int     // infrastructure failures that were retried
	Stale    int     // replies dropped because they belonged to another attempt or version

	Transcript  Transcript
	Patch       string
	Resolved    bool
	Reward      float64 // R: 1 if resolved else 0
	TurnPenalty float64 // R_len, counted in turns (PAPER.md)
	Final       float64 // R_final = R + R_len
	Advantage   float64 // group-normalised advantage, set by the coordinator
	Duration    time.Duration
}

// Turns is the number of turns the agent took.
func (r EpisodeRecord) Turns() int { return r.Transcript.Len() }

// AssistantTokens is the number of assistant tokens over all the record's turns.
func (r EpisodeRecord) AssistantTokens() int {
	n := 0
	for _, t := range r.Transcript.Turns() {
		n += t.NumTokens()
	}
	return n
}

// WithAdvantage returns a copy of r carrying advantage a.
func (r EpisodeRecord) WithAdvantage(a float64) EpisodeRecord {
	r.Advantage = a
	return r
}

// Abandon builds the terminal record of an episode that could not finish.
func Abandon(ref EpisodeRef, task TaskRef, f Failure) EpisodeRecord {
	return EpisodeRecord{Ref: ref, Task: task, Status: Abandoned, Stop: StopAbandoned, Failure: f}
}
