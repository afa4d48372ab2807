package actors

import (
	"fmt"
	"reflect"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/messages"
)

// EpisodeFields are the log fields that name an episode, followed by kv: "iteration",
// "episode" (its group and sample, "g3/s4"), "task" and "attempt" (its sandbox attempt,
// from 1; 0 before the first). Every log line about an episode carries them, so that
// `jq 'select(.episode=="g3/s4")'` over a run's JSON logs follows one episode.
func EpisodeFields(ref messages.EpisodeRef, attempt int, kv ...any) []any {
	return append([]any{"iteration", ref.Iteration, "episode", EpisodeName(ref), "task", ref.TaskID,
		"attempt", attempt}, kv...)
}

// EpisodeName is an episode's name within its iteration: "g3/s4" (group 3, sample 4).
func EpisodeName(ref messages.EpisodeRef) string {
	return fmt.Sprintf("g%d/s%d", ref.Group, ref.Sample)
}

// episodeLog is rt's logger for the lines about one episode's attempt.
func (rt *Runtime) episodeLog(ref messages.EpisodeRef, attempt int) hclog.Logger {
	return rt.Log.With(EpisodeFields(ref, attempt)...)
}

var episodeRefType = reflect.TypeFor[messages.EpisodeRef]()

// episodeOf returns the episode a message is about: its Ref field (and Attempt, if it
// has one), for the log lines that see messages of any type (a supervisor's).
func episodeOf(m any) (ref messages.EpisodeRef, attempt int, ok bool) {
	v := reflect.ValueOf(m)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ref, 0, false
	}
	f := v.FieldByName("Ref")
	if !f.IsValid() || f.Type() != episodeRefType {
		return ref, 0, false
	}
	if a := v.FieldByName("Attempt"); a.IsValid() && a.Kind() == reflect.Int {
		attempt = int(a.Int())
	}
	return f.Interface().(messages.EpisodeRef), attempt, true
}

// FailureFix says what to check for an infrastructure failure of kind k: the fix that
// a log line or an error about it names.
func FailureFix(k messages.FailureKind) string {
	switch k {
	case messages.FailGenerate:
		return "the policy endpoint failed: check that the server is up and serves the model (--endpoint, --model, --api-key) and read its log"
	case messages.FailSandboxStart, messages.FailSandboxDied:
		return "the sandboxes failed: check the backend (--sandbox; for docker: `docker info` and the image, scripts/build-base-image.sh)"
	case messages.FailGrade:
		return "the grader failed: check the tasks with `swerl tasks validate FILE`"
	case messages.FailStale:
		return "replies came for another policy version: check that the trainer serves each new version before it reports it"
	case messages.FailCancelled:
		return "the run was stopped before the episode ended"
	case messages.FailNodeLost:
		return "the cluster's workers were lost while running the episodes: check that `swerl node` runs on the peers and that the head reaches them (--peers, --listen, --advertise)"
	case messages.FailCrashed:
		return "the episode actor panicked past its restart budget: a bug; the log's panic lines hold the stack"
	default:
		return "see the records' failure causes (records.jsonl)"
	}
}

// attemptOf returns the Attempt of a message about an episode's attempt (0: none).
func attemptOf(m any) int {
	_, a, _ := episodeOf(m)
	return a
}

// supervisionFields names the actor that failed and, when the message it failed on is
// about an episode, that episode.
func supervisionFields(child string, msg any, kv ...any) []any {
	out := []any{"actor", child}
	if ref, attempt, ok := episodeOf(msg); ok {
		out = append(out, EpisodeFields(ref, attempt)...)
	}
	return append(out, kv...)
}
