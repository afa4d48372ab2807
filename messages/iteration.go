package messages

// TrainBatch hands the filtered, advantage-weighted records of iteration Iteration to
// the learner. PolicyVersion is the version that sampled them. The learner answers
// with PolicyUpdated{Version: PolicyVersion+1}; a batch for a version it has already
// trained is answered again without training (the coordinator may resend).
type TrainBatch struct {
	Iteration     int
	PolicyVersion int
	records       []EpisodeRecord
}

// NewTrainBatch builds a batch, copying records in.
func NewTrainBatch(iteration, version int, records []EpisodeRecord) TrainBatch {
	return TrainBatch{Iteration: iteration, PolicyVersion: version, records: cloneSlice(records)}
}

// Len is the number of records.
func (b TrainBatch) Len() int { return len(b.records) }

// Records returns a copy of the records.
func (b TrainBatch) Records() []EpisodeRecord { return cloneSlice(b.records) }

// TrainStats is what one learner update reports.
type TrainStats struct {
	Loss         float64
	Tokens       int
	Steps        int
	ClipFracLow  float64
	ClipFracHigh float64
	GradNorm     float64
	Entropy      float64
	Trajectories int
	SkippedEmpty bool
}

// PolicyUpdated announces that policy Version is trained and ready to be served.
type PolicyUpdated struct {
	Iteration int
	Version   int
	Stats     TrainStats
}

// TrainFailed reports a learner error that is not a bug (for example a NaN loss or
// an external trainer that gave up); the run stops with it.
type TrainFailed struct {
	Iteration int
	Version   int
	Cause     string
}

// LoadPolicy tells the inference actor to serve Version from now on.
type LoadPolicy struct {
	Iteration int
	Version   int
}

// PolicyLoaded confirms LoadPolicy.
type PolicyLoaded struct {
	Iteration int
	Version   int
	Err       string
}
