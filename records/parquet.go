package records

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/swerl/swerl/internal/atomicfile"
)

// partPrefix and partSuffix name the parts of a Parquet directory:
// part-00000.parquet, part-00001.parquet, ... Temporary files start with a dot, which
// pandas and pyarrow skip when they read a directory.
const (
	partPrefix = "part-"
	partSuffix = ".parquet"
)

func partName(n int) string { return fmt.Sprintf("%s%05d%s", partPrefix, n, partSuffix) }

// partNumber parses a part file name; ok is false for any other name.
func partNumber(name string) (n int, ok bool) {
	s, found := strings.CutPrefix(name, partPrefix)
	if !found {
		return 0, false
	}
	s, found = strings.CutSuffix(s, partSuffix)
	if !found {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// WriteParquet writes recs as one complete Parquet file at path: it writes a
// temporary file in the same directory, syncs it and renames it into place, so path
// either holds every record or does not exist (a previous file is replaced whole).
// Pages are Snappy-compressed: every Parquet reader reads it, and its encoder is a
// plain function (zstd's keeps shared goroutines and channels, which a testing/synctest
// bubble rejects).
func WriteParquet(path string, recs []Record) error {
	return writeAtomic(path, func(f io.Writer) error {
		w := parquet.NewGenericWriter[Record](f, parquet.Compression(&parquet.Snappy))
		if _, err := w.Write(recs); err != nil {
			return err
		}
		return w.Close()
	})
}

// writeAtomic writes path whole or not at all (package atomicfile).
func writeAtomic(path string, fill func(io.Writer) error) error {
	if err := atomicfile.Write(path, fill); err != nil {
		return fmt.Errorf("records: %w", err)
	}
	return nil
}

// ReadParquet reads the records of one Parquet file, or of every part file
// (part-NNNNN.parquet) of a directory in part order. Hidden temporary files are
// skipped. The records' slices are never nil.
func ReadParquet(path string) ([]Record, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("records: read parquet: %w", err)
	}
	if !st.IsDir() {
		return readParquetFile(path)
	}
	parts, err := listParts(path)
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, n := range parts {
		recs, err := readParquetFile(filepath.Join(path, partName(n)))
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

func readParquetFile(path string) ([]Record, error) {
	recs, err := parquet.ReadFile[Record](path)
	if err != nil {
		return nil, fmt.Errorf("records: read %s: %w", path, err)
	}
	for i := range recs {
		recs[i] = recs[i].normalize()
	}
	return recs, nil
}

// listParts returns the part numbers present in dir, in increasing order.
func listParts(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("records: list parts: %w", err)
	}
	var parts []int
	for _, e := range entries {
		if n, ok := partNumber(e.Name()); ok && e.Type().IsRegular() {
			parts = append(parts, n)
		}
	}
	slices.Sort(parts)
	return parts, nil
}
