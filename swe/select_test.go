package swe

import (
	"slices"
	"strings"
	"testing"
)

func TestSelect(t *testing.T) {
	tasks := []Task{{InstanceID: "a-1"}, {InstanceID: "b-2"}, {InstanceID: "c-3"}, {InstanceID: "d-4"}}
	tests := []struct {
		name      string
		instances []string
		limit     int
		want      []string
		err       string
	}{
		{"all", nil, 0, []string{"a-1", "b-2", "c-3", "d-4"}, ""},
		{"limit", nil, 2, []string{"a-1", "b-2"}, ""},
		{"limit above count", nil, 9, []string{"a-1", "b-2", "c-3", "d-4"}, ""},
		{"instances in file order", []string{"d-4", "b-2"}, 0, []string{"b-2", "d-4"}, ""},
		{"instance listed twice", []string{"c-3", "c-3"}, 0, []string{"c-3"}, ""},
		{"instances then limit", []string{"d-4", "c-3", "a-1"}, 2, []string{"a-1", "c-3"}, ""},
		{"unknown ids all named once", []string{"b-2", "zz-9", "yy-8", "zz-9"}, 0, nil, "2 instance id(s) not in the task file: zz-9, yy-8"},
		{"negative limit", nil, -1, nil, "limit -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(tasks, tt.instances, tt.limit)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || got != nil {
					t.Fatalf("Select = %v, %v; want no tasks and an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, task := range got {
				ids = append(ids, task.InstanceID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("selected %v, want %v", ids, tt.want)
			}
		})
	}
	// The result is the caller's: changing it leaves the input alone.
	got, _ := Select(tasks, nil, 0)
	got[0].InstanceID = "changed"
	if tasks[0].InstanceID != "a-1" {
		t.Error("Select returned the input's backing array")
	}
}
