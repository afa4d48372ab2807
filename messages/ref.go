package messages

import "fmt"

// TaskRef names one task of the pool. Backends (sandbox factories, graders) resolve
// everything else about the task from its ID; Statement is the issue text shown to the
// agent as its first observation.
type TaskRef struct {
	ID        string
	Statement string
}

// EpisodeRef identifies one requested rollout: sample Sample of the Group-th task drawn
// in iteration Iteration, sampling from policy version PolicyVersion. The engine keeps
// PolicyVersion equal to Iteration (one update per iteration), but both are carried so
// that a receiver can check either.
type EpisodeRef struct {
	Iteration     int
	PolicyVersion int
	Group         int
	Sample        int
	TaskID        string
}

// Key is the ref's identity without the task id, usable as a map key.
func (r EpisodeRef) Key() EpisodeKey {
	return EpisodeKey{Iteration: r.Iteration, Group: r.Group, Sample: r.Sample}
}

// String renders the ref as "k3/g12/s4(task-id)".
func (r EpisodeRef) String() string {
	return fmt.Sprintf("k%d/g%d/s%d(%s)", r.Iteration, r.Group, r.Sample, r.TaskID)
}

// EpisodeKey is the comparable identity of an episode within a run.
type EpisodeKey struct {
	Iteration, Group, Sample int
}

// GroupKey identifies the G episodes of one task in one iteration.
type GroupKey struct {
	Iteration, Group int
}

// Group returns the key of the group the episode belongs to.
func (r EpisodeRef) GroupKey() GroupKey { return GroupKey{Iteration: r.Iteration, Group: r.Group} }
