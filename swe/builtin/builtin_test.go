package builtin

import (
	"bytes"
	"context"
	"testing"
)

// The committed tasks.jsonl must be what `go generate` makes from the sources.
func TestTaskFileIsUpToDate(t *testing.T) {
	srcs, err := Sources()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Generate(context.Background(), srcs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, tasksJSONL) {
		t.Fatal("tasks.jsonl is stale: run go generate ./swe/builtin")
	}
}

func TestSuite(t *testing.T) {
	tasks, err := Tasks()
	if err != nil {
		t.Fatal(err)
	}
	srcs, _ := Sources()
	if len(tasks) != len(srcs) {
		t.Fatalf("%d tasks from %d sources", len(tasks), len(srcs))
	}
	count := map[string]int{}
	for _, s := range srcs {
		count[s.Meta.Language]++
		count[s.Meta.Difficulty]++
	}
	t.Logf("suite: %v", count)
	if testing.Short() {
		return
	}
	if len(tasks) < 24 || count["python"] < 8 || count["go"] < 8 || count["easy"] == 0 || count["medium"] == 0 || count["hard"] == 0 {
		t.Errorf("the suite needs at least 24 tasks in Python and Go at every level, has %v", count)
	}
}

func TestParseSourceRejectsBadSources(t *testing.T) {
	good := "-- task.json --\n{\"instance_id\": \"swerl__x-1\", \"language\": \"go\", \"difficulty\": \"easy\", \"FAIL_TO_PASS\": [\"TestA\"]}\n-- issue.md --\nbroken\n-- repo/a.go --\npackage a\n-- gold/a.go --\npackage a // fixed\n-- test/a_test.go --\npackage a\n"
	if _, err := ParseSource("x.txtar", []byte(good)); err != nil {
		t.Fatalf("good source rejected: %v", err)
	}
	for name, src := range map[string]string{
		"gold touches a test": bytes.NewBufferString(good).String() + "-- gold/b_test.go --\npackage a\n",
		"unknown section":     good + "-- other/x --\nx\n",
		"wrong id":            string(bytes.Replace([]byte(good), []byte("swerl__x-1"), []byte("y"), 1)),
		"no F2P":              string(bytes.Replace([]byte(good), []byte(`["TestA"]`), []byte(`[]`), 1)),
	} {
		if _, err := ParseSource("x.txtar", []byte(src)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
