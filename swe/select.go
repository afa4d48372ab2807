package swe

import (
	"fmt"
	"strings"
)

// Select picks tasks for a run. With instances, it keeps the tasks whose
// instance_id is listed, in the order of tasks (file order), not of instances; an
// id listed twice counts once. Every listed id that no task has is named in the
// error, and then no tasks come back. Then it keeps the first limit tasks (limit 0:
// all; a negative limit is an error). The result is a new slice that the caller
// owns; tasks is not modified.
func Select(tasks []Task, instances []string, limit int) ([]Task, error) {
	if limit < 0 {
		return nil, fmt.Errorf("select tasks: limit %d is negative; fix: give 0 (all) or a positive number", limit)
	}
	out := tasks
	if len(instances) > 0 {
		want := make(map[string]bool, len(instances))
		for _, id := range instances {
			want[id] = true
		}
		out = nil
		found := make(map[string]bool, len(want))
		for _, t := range tasks {
			if want[t.InstanceID] {
				out = append(out, t)
				found[t.InstanceID] = true
			}
		}
		var missing []string
		for _, id := range instances {
			if !found[id] {
				missing = append(missing, id)
				found[id] = true // name it once
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("select tasks: %d instance id(s) not in the task file: %s; fix: check the ids (instance_id, e.g. django__django-11099) or the file",
				len(missing), strings.Join(missing, ", "))
		}
	}
	if limit > 0 && limit < len(out) {
		out = out[:limit]
	}
	return append([]Task(nil), out...), nil
}
