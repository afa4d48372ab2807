package actors

import "fmt"

// jobQueue caps the number of jobs an actor has in flight. It is owned by one actor
// and used only inside its Receive. A limit of 0 means no cap.
type jobQueue struct {
	limit   int
	running int
	waiting []func()
	head    int
}

// submit starts job now if a slot is free, or queues it.
func (q *jobQueue) submit(job func()) {
	if q.limit <= 0 || q.running < q.limit {
		q.running++
		job()
		return
	}
	q.waiting = append(q.waiting, job)
}

// done frees the slot of a finished job and starts the next waiting one.
func (q *jobQueue) done() {
	if q.running > 0 { // a restarted owner may hear of jobs its predecessor started
		q.running--
	}
	if q.head < len(q.waiting) {
		job := q.waiting[q.head]
		q.waiting[q.head] = nil
		q.head++
		if q.head == len(q.waiting) {
			q.waiting, q.head = q.waiting[:0], 0
		}
		q.running++
		job()
	}
}

// queued is the number of jobs waiting for a slot.
func (q *jobQueue) queued() int { return len(q.waiting) - q.head }

// tracks reports whether finished jobs must call done (only when capped).
func (q *jobQueue) tracks() bool { return q.limit > 0 }

func typeName(v any) string { return fmt.Sprintf("%T", v) }
