package actors

import (
	"reflect"
	"testing"

	"github.com/swerl/swerl/messages"
)

// TestEpisodeFields: the fields that name an episode, in a fixed order, then the
// caller's.
func TestEpisodeFields(t *testing.T) {
	ref := messages.EpisodeRef{Iteration: 3, PolicyVersion: 2, Group: 12, Sample: 4, TaskID: "django-1"}
	got := EpisodeFields(ref, 2, "turn", 7)
	want := []any{"iteration", 3, "episode", "g12/s4", "task", "django-1", "attempt", 2, "turn", 7}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("EpisodeFields = %v, want %v", got, want)
	}
}

// TestSupervisionFieldsFindTheEpisode: a supervisor's line names the episode of the
// message its child failed on, whether the message is a value or a pointer, and only
// the actor when the message is about no episode.
func TestSupervisionFieldsFindTheEpisode(t *testing.T) {
	ref := messages.EpisodeRef{Iteration: 1, Group: 0, Sample: 1, TaskID: "t"}
	exec := messages.ExecRequest{Ref: ref, Attempt: 2, Turn: 5}
	want := []any{"actor", "$7", "iteration", 1, "episode", "g0/s1", "task", "t", "attempt", 2, "reason", "boom"}
	for _, msg := range []any{exec, &exec} {
		if got := supervisionFields("$7", msg, "reason", "boom"); !reflect.DeepEqual(got, want) {
			t.Errorf("%T: %v, want %v", msg, got, want)
		}
	}
	for _, msg := range []any{nil, "text", struct{ Ref string }{"x"}, (*messages.ExecRequest)(nil)} {
		if got := supervisionFields("$7", msg); !reflect.DeepEqual(got, []any{"actor", "$7"}) {
			t.Errorf("%#v: %v", msg, got)
		}
	}
	if attemptOf(messages.DiffRequest{Ref: ref, Attempt: 3}) != 3 {
		t.Error("attemptOf(DiffRequest)")
	}
}
