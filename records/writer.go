package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/swerl/swerl/internal/atomicfile"
)

// File names inside a writer's directory.
const (
	JSONLName  = "records.jsonl"
	ParquetDir = "parquet"
)

// DefaultPartRecords is the number of records per Parquet part file.
const DefaultPartRecords = 256

// ErrClosed is the writer's error after a Write that came after Close.
var ErrClosed = errors.New("records: write after Close")

// WriterOptions tunes a Writer. The zero value is ready to use.
type WriterOptions struct {
	// PartRecords is the number of records per Parquet part file (default 256). A
	// shorter part is written at every Flush and at Close.
	PartRecords int
	// Logf, if set, is told about repairs NewWriter made to files a crashed run left
	// (a torn last JSONL line cut off, temporary part files removed).
	Logf func(format string, args ...any)
}

// Writer saves records as they finish: each one is appended to dir/records.jsonl and
// synced moments after Write, and the records are also written, every PartRecords of
// them and at Flush and Close, as complete Parquet part files
// dir/parquet/part-NNNNN.parquet (each written to a temporary file and renamed, so a
// part is whole or absent).
//
// Write never blocks on I/O: it queues the record for the writer's goroutine, which
// appends everything queued, syncs once (group commit) and goes on. Write, Flush,
// Count, Dropped and Err may be called from any goroutine; Close once everything is
// written.
//
// The first error is kept, and Err, Flush and Close return it, naming the file. After
// an I/O error (disk full, permission) nothing more is written: records are dropped
// (counted by Dropped), never half-written. A record that cannot be encoded (a NaN
// reward) is dropped alone. Write never panics.
type Writer struct {
	dir, jsonlPath, parquetDir string
	partRecords                int

	mu      sync.Mutex
	queue   []item
	closing bool
	stopped bool // an I/O error: nothing more is written
	err     error
	count   int
	dropped int

	signal chan struct{} // capacity 1: "the queue is not empty" or "closing"
	done   chan struct{} // closed when the goroutine has exited

	// Owned by the goroutine.
	f        *os.File
	pending  []Record
	nextPart int
	lines    *lineEncoder
}

// item is a queued record, or a flush marker (flush != nil) that the goroutine closes
// once everything queued before it is on disk.
type item struct {
	rec   Record
	flush chan struct{}
}

// NewWriter opens a writer on dir, creating it (and its parents) if needed; a
// directory that cannot be created or written is an error naming the path. It creates
// dir/records.jsonl, or opens it to append (a resumed run adds to it; a torn last line
// left by a crash is cut off first, or terminated if it is a whole record), and
// dir/parquet, where part numbers continue after the highest existing part.
func NewWriter(dir string, opts WriterOptions) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("records: create output directory %s: %w", dir, err)
	}
	w := &Writer{
		dir:         dir,
		jsonlPath:   filepath.Join(dir, JSONLName),
		parquetDir:  filepath.Join(dir, ParquetDir),
		partRecords: opts.PartRecords,
		signal:      make(chan struct{}, 1),
		done:        make(chan struct{}),
		lines:       newLineEncoder(),
	}
	if w.partRecords <= 0 {
		w.partRecords = DefaultPartRecords
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := os.Mkdir(w.parquetDir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("records: create %s: %w", w.parquetDir, err)
	}
	if st, err := os.Stat(w.parquetDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("records: %s is not a directory", w.parquetDir)
	}
	if err := w.scanParts(logf); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(w.jsonlPath, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("records: open %w", err)
	}
	if err := repairTail(f, w.jsonlPath, logf); err != nil {
		f.Close()
		return nil, err
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("records: sync %s: %w", dir, err)
	}
	w.f = f
	go w.run()
	return w, nil
}

// scanParts sets nextPart after the highest existing part and removes temporary
// files a crash left behind.
func (w *Writer) scanParts(logf func(string, ...any)) error {
	entries, err := os.ReadDir(w.parquetDir)
	if err != nil {
		return fmt.Errorf("records: read %s: %w", w.parquetDir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if n, ok := partNumber(name); ok && n >= w.nextPart {
			w.nextPart = n + 1
		}
		if strings.HasPrefix(name, "."+partPrefix) && strings.Contains(name, ".tmp-") {
			p := filepath.Join(w.parquetDir, name)
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("records: remove leftover %s: %w", p, err)
			}
			logf("records: removed %s, a part a crashed run did not finish", p)
		}
	}
	return nil
}

// repairTail makes sure the file ends at a line boundary before records are appended:
// a last line with no newline is terminated if it holds a whole record, and cut off
// otherwise (a write torn by a crash; it was never acknowledged by Flush).
func repairTail(f *os.File, path string, logf func(string, ...any)) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("records: stat %s: %w", path, err)
	}
	size := st.Size()
	if size == 0 {
		return nil
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, size-1); err != nil {
		return fmt.Errorf("records: read %s: %w", path, err)
	}
	if last[0] == '\n' {
		return nil
	}
	// Find the start of the last line.
	start := int64(0)
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	for end := size; end > 0; {
		off := max(end-chunk, 0)
		n, err := f.ReadAt(buf[:end-off], off)
		if err != nil && err != io.EOF {
			return fmt.Errorf("records: read %s: %w", path, err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			start = off + int64(i) + 1
			break
		}
		end = off
	}
	tail := make([]byte, size-start)
	if _, err := f.ReadAt(tail, start); err != nil && err != io.EOF {
		return fmt.Errorf("records: read %s: %w", path, err)
	}
	var rec Record
	if json.Unmarshal(tail, &rec) == nil {
		if _, err := f.Write([]byte{'\n'}); err != nil {
			return fmt.Errorf("records: repair %s: %w", path, err)
		}
		logf("records: %s ended without a newline after a whole record; added one", path)
	} else {
		if err := f.Truncate(start); err != nil {
			return fmt.Errorf("records: repair %s: %w", path, err)
		}
		logf("records: cut a torn last line (%d bytes) off %s", size-start, path)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("records: sync %s: %w", path, err)
	}
	return nil
}

// Dir is the directory the writer writes to.
func (w *Writer) Dir() string { return w.dir }

// Write queues r to be saved and returns at once. The writer takes r's slices: the
// caller must not change them afterwards. After an error or after Close the record is
// dropped and counted (see Err and Dropped).
func (w *Writer) Write(r Record) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		w.dropped++
		if w.err == nil {
			w.err = ErrClosed
		}
		return
	}
	if w.stopped {
		w.dropped++
		return
	}
	w.queue = append(w.queue, item{rec: r})
	w.count++
	w.poke()
}

// poke wakes the goroutine without blocking.
func (w *Writer) poke() {
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// Count is the number of records Write accepted. After Flush returns nil, all of them
// are on disk.
func (w *Writer) Count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count
}

// Dropped is the number of records Write could not save (after an error or Close).
func (w *Writer) Dropped() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

// Err returns the writer's first error, or nil.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Flush waits until every record written before it is appended to records.jsonl and
// synced, and writes the pending records as a Parquet part, short if need be (so call
// it at a barrier, not after every record). It returns Err.
func (w *Writer) Flush() error {
	ch := make(chan struct{})
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		<-w.done
		return w.Err()
	}
	w.queue = append(w.queue, item{flush: ch})
	w.poke()
	w.mu.Unlock()
	select {
	case <-ch:
	case <-w.done:
	}
	return w.Err()
}

// Close writes everything queued (JSONL synced, the last Parquet part), stops the
// goroutine and closes the file. It returns Err; calling it again returns Err again.
func (w *Writer) Close() error {
	w.mu.Lock()
	w.closing = true
	w.poke()
	w.mu.Unlock()
	<-w.done
	return w.Err()
}

// fail keeps err as the writer's error if it is the first; an I/O error (stop) also
// stops all writing.
func (w *Writer) fail(err error, stop bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
	if stop {
		w.stopped = true
	}
}

// failed reports whether an I/O error stopped the writer.
func (w *Writer) failed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopped
}

// run is the writer's goroutine: it drains the queue, saves it, and exits once Close
// was called and the queue is empty.
func (w *Writer) run() {
	defer close(w.done)
	var spare []item
	for {
		<-w.signal
		w.mu.Lock()
		batch := w.queue
		w.queue = spare[:0]
		closing := w.closing
		w.mu.Unlock()

		w.save(batch, closing)
		clear(batch) // drop the records' slices
		spare = batch

		if closing {
			w.mu.Lock()
			left := len(w.queue)
			w.mu.Unlock()
			if left == 0 {
				if err := w.f.Close(); err != nil {
					w.fail(fmt.Errorf("records: close %s: %w", w.jsonlPath, err), true)
				}
				return
			}
			w.poke()
		}
	}
}

// save appends the batch's records to the JSONL file with one write and one sync,
// moves them to the pending Parquet part, writes full parts, and a last short one
// when the batch holds a flush marker or the writer is closing.
func (w *Writer) save(batch []item, closing bool) {
	flushed := closing
	w.lines.buf.Reset()
	first := len(w.pending)
	for _, it := range batch {
		if it.flush != nil {
			flushed = true
			continue
		}
		if w.failed() {
			w.drop(1)
			continue
		}
		if err := w.lines.add(it.rec); err != nil {
			r := it.rec
			w.fail(fmt.Errorf("records: %s: encode k%d/g%d/s%d(%s): %w", w.jsonlPath, r.Iteration, r.Group, r.Sample, r.TaskID, err), false)
			w.drop(1)
			continue
		}
		w.pending = append(w.pending, it.rec)
	}
	if w.lines.buf.Len() > 0 && !w.failed() {
		if _, err := w.f.Write(w.lines.buf.Bytes()); err != nil {
			w.fail(fmt.Errorf("records: write %s: %w", w.jsonlPath, err), true)
		} else if err := w.f.Sync(); err != nil {
			w.fail(fmt.Errorf("records: sync %s: %w", w.jsonlPath, err), true)
		}
	}
	if w.failed() {
		w.drop(len(w.pending) - first)
		w.pending = w.pending[:first]
	}
	for len(w.pending) >= w.partRecords && !w.failed() {
		w.writePart(w.partRecords)
	}
	if flushed && len(w.pending) > 0 && !w.failed() {
		w.writePart(len(w.pending))
	}
	if w.lines.buf.Cap() > 16<<20 {
		w.lines = newLineEncoder() // do not keep a huge buffer after a burst
	}
	for _, it := range batch {
		if it.flush != nil {
			close(it.flush)
		}
	}
}

// drop counts n records that were accepted but could not be saved.
func (w *Writer) drop(n int) {
	if n <= 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dropped += n
}

// writePart writes the first n pending records as the next part file.
func (w *Writer) writePart(n int) {
	path := filepath.Join(w.parquetDir, partName(w.nextPart))
	if err := WriteParquet(path, w.pending[:n]); err != nil {
		w.fail(err, true)
		return
	}
	w.nextPart++
	rest := copy(w.pending, w.pending[n:])
	clear(w.pending[rest:])
	w.pending = w.pending[:rest]
}
