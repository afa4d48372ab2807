package swe

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// parquetMagic starts (and ends) every Parquet file.
const parquetMagic = "PAR1"

// readParquet reads the tasks of one Parquet file of size bytes. Each row becomes
// the JSON object a JSON Lines dump of the same table would hold (see rowJSON) and
// goes through decodeTask, so rows are checked, and errors worded, exactly as
// lines are; a LineError's Line is the row number, from 1, across row groups. A
// file that is not readable Parquet (bad magic, truncated, corrupt footer or
// pages) is a plain error naming the file.
func readParquet(r io.ReaderAt, size int64, name string) (tasks []Task, err error) {
	notParquet := func(why any) error {
		return fmt.Errorf("%s: not a valid Parquet file (truncated or corrupt?): %v; fix: download it again, or give a JSON Lines file", name, why)
	}
	// parquet-go panics on some corrupt pages; a bad file is an error, not a crash.
	defer func() {
		if p := recover(); p != nil {
			tasks, err = nil, notParquet(p)
		}
	}()
	// The footer ends in its length and the magic; parquet-go allocates that length
	// before it looks, so a damaged one could ask for gigabytes.
	var tail [8]byte
	if size < int64(len(parquetMagic)+len(tail)) {
		return nil, notParquet(fmt.Sprintf("%d bytes is too short", size))
	}
	if _, err := r.ReadAt(tail[:], size-int64(len(tail))); err != nil {
		return nil, notParquet(err)
	}
	if string(tail[4:]) != parquetMagic {
		return nil, notParquet(fmt.Sprintf("it does not end with %q", parquetMagic))
	}
	if footer := int64(binary.LittleEndian.Uint32(tail[:4])); footer > size-int64(len(parquetMagic)+len(tail)) {
		return nil, notParquet(fmt.Sprintf("its footer claims %d bytes of the file's %d", footer, size))
	}
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, notParquet(err)
	}
	schema, err := compileParquetSchema(f.Schema())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	l := newLoader(name)
	cols := make([][]parquet.Value, schema.end)
	buf := make([]parquet.Row, 64)
	rowNo := 0
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				rowNo++
				data, err := schema.rowJSON(row, cols)
				if err != nil {
					l.fail(rowNo, "", "unreadable Parquet row: "+err.Error())
					continue
				}
				l.add(rowNo, data)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rows.Close()
				return nil, notParquet(fmt.Sprintf("row %d: %v", rowNo+1, err))
			}
		}
		if err := rows.Close(); err != nil {
			return nil, notParquet(err)
		}
	}
	return l.result()
}

// pqKind is how a schema node becomes JSON.
type pqKind int

const (
	pqLeaf  pqKind = iota // a scalar: string, number, boolean, timestamp ...
	pqGroup               // a struct: an object of its fields
	pqList                // LIST: a list of the repeated child's elements
	pqMap                 // MAP: an object of the repeated key_value pairs
)

// pqNode is a Parquet schema node compiled for row assembly. Its leaf columns are
// [first, end), numbered depth first as in the file.
type pqNode struct {
	name               string
	kind               pqKind
	optional, repeated bool
	fields             []*pqNode // group: its fields; list, map: the one repeated child
	unwrap             bool      // list: each element is the repeated group's only field (3-level layout)
	key, value         int       // map: indexes of key and value in fields[0].fields
	scalar             func([]byte, parquet.Value) []byte
	first, end         int
}

// compileParquetSchema compiles a file's schema (the root group).
func compileParquetSchema(root *parquet.Schema) (*pqNode, error) {
	col := 0
	n := compileNode(root, "", &col)
	n.optional, n.repeated = false, false
	var paths [][]string
	n.leafPaths(nil, &paths)
	if !slices.EqualFunc(paths, root.Columns(), slices.Equal) {
		return nil, fmt.Errorf("unsupported Parquet schema: leaf columns %v are not in depth-first order %v", root.Columns(), paths)
	}
	if n.end == 0 {
		return nil, errors.New("Parquet schema has no columns")
	}
	return n, nil
}

func compileNode(node parquet.Node, name string, col *int) *pqNode {
	n := &pqNode{name: name, optional: node.Optional(), repeated: node.Repeated(), first: *col}
	fields := node.Fields()
	switch {
	case node.Leaf():
		n.kind, n.scalar = pqLeaf, scalarWriter(node.Type())
		*col++
	case isListNode(node):
		child := fields[0]
		n.kind = pqList
		n.fields = []*pqNode{compileNode(child, child.Name(), col)}
		// The Parquet spec's backward-compatibility rules: a repeated group of one
		// field is the 3-level layout's wrapper unless it is named "array" or
		// "<list>_tuple", in which case the group itself is the element.
		n.unwrap = !child.Leaf() && len(child.Fields()) == 1 && child.Name() != "array" && child.Name() != name+"_tuple"
	case isMapNode(node):
		kv := fields[0]
		n.kind = pqMap
		n.fields = []*pqNode{compileNode(kv, kv.Name(), col)}
		n.key, n.value = 0, 1
		if kv.Fields()[1].Name() == "key" {
			n.key, n.value = 1, 0
		}
	default:
		n.kind = pqGroup
		for _, f := range fields {
			n.fields = append(n.fields, compileNode(f, f.Name(), col))
		}
	}
	n.end = *col
	return n
}

func (n *pqNode) leafPaths(prefix []string, out *[][]string) {
	if n.kind == pqLeaf {
		*out = append(*out, slices.Clone(prefix))
		return
	}
	for _, f := range n.fields {
		f.leafPaths(append(prefix, f.name), out)
	}
}

func isListNode(node parquet.Node) bool {
	lt, ct := node.Type().LogicalType(), node.Type().ConvertedType()
	annotated := (lt != nil && isType[*format.ListType](lt.Value)) || (ct != nil && *ct == deprecated.List)
	fields := node.Fields()
	return annotated && !node.Leaf() && len(fields) == 1 && fields[0].Repeated()
}

func isMapNode(node parquet.Node) bool {
	lt, ct := node.Type().LogicalType(), node.Type().ConvertedType()
	annotated := (lt != nil && isType[*format.MapType](lt.Value)) ||
		(ct != nil && (*ct == deprecated.Map || *ct == deprecated.MapKeyValue))
	fields := node.Fields()
	return annotated && !node.Leaf() && len(fields) == 1 && fields[0].Repeated() &&
		!fields[0].Leaf() && len(fields[0].Fields()) == 2
}

func isType[T any](v any) bool {
	_, ok := v.(T)
	return ok
}

// rowJSON assembles one row (its values, in any column order) into a JSON object.
// cols is scratch space of one slice per leaf column.
func (n *pqNode) rowJSON(row parquet.Row, cols [][]parquet.Value) ([]byte, error) {
	for i := range cols {
		cols[i] = cols[i][:0]
	}
	for _, v := range row {
		c := v.Column()
		if c < 0 || c >= len(cols) {
			return nil, fmt.Errorf("value of column %d, but the schema has %d columns", c, len(cols))
		}
		cols[c] = append(cols[c], v)
	}
	return n.appendValue(nil, cols, 0, 0)
}

// errLevels reports values whose repetition and definition levels do not fit the
// schema (a corrupt file).
var errLevels = errors.New("column values do not match the schema's nesting")

// appendValue appends the JSON of one instance of n: cols holds the values of n's
// leaf columns for that instance, d and r are the definition and repetition
// levels of n's parent (Dremel record assembly).
func (n *pqNode) appendValue(b []byte, cols [][]parquet.Value, d, r int) ([]byte, error) {
	if len(cols) == 0 { // a group without columns
		return append(b, "null"...), nil
	}
	for _, c := range cols {
		if len(c) == 0 {
			return nil, errLevels
		}
	}
	switch {
	case n.repeated: // 2-level list: the field itself repeats
		return appendElements(b, cols, d, r, func(b []byte, elem [][]parquet.Value) ([]byte, error) {
			return n.appendRequired(b, elem, d+1, r+1)
		})
	case n.optional:
		if cols[0][0].DefinitionLevel() <= d {
			return append(b, "null"...), nil
		}
		return n.appendRequired(b, cols, d+1, r)
	default:
		return n.appendRequired(b, cols, d, r)
	}
}

// appendRequired appends the JSON of a present instance of n; d and r are n's
// own levels.
func (n *pqNode) appendRequired(b []byte, cols [][]parquet.Value, d, r int) ([]byte, error) {
	var err error
	switch n.kind {
	case pqLeaf:
		if len(cols[0]) != 1 {
			return nil, errLevels
		}
		if v := cols[0][0]; !v.IsNull() {
			return n.scalar(b, v), nil
		}
		return append(b, "null"...), nil
	case pqGroup:
		b = append(b, '{')
		for i, f := range n.fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, f.name)
			b = append(b, ':')
			if b, err = f.appendValue(b, cols[f.first-n.first:f.end-n.first], d, r); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case pqList:
		child := n.fields[0]
		return appendElements(b, cols, d, r, func(b []byte, elem [][]parquet.Value) ([]byte, error) {
			if n.unwrap {
				return child.fields[0].appendValue(b, elem, d+1, r+1)
			}
			return child.appendRequired(b, elem, d+1, r+1)
		})
	case pqMap:
		kv := n.fields[0]
		key, val := kv.fields[n.key], kv.fields[n.value]
		b = append(b, '{')
		if cols[0][0].DefinitionLevel() > d {
			first := true
			err = eachElement(cols, r, func(elem [][]parquet.Value) error {
				k, err := key.appendValue(nil, elem[key.first-kv.first:key.end-kv.first], d+1, r+1)
				if err != nil {
					return err
				}
				if jsonKind(k) != "string" { // object keys are strings: 7 -> "7"
					k = appendJSONString(nil, string(k))
				}
				if !first {
					b = append(b, ',')
				}
				first = false
				b = append(append(b, k...), ':')
				b, err = val.appendValue(b, elem[val.first-kv.first:val.end-kv.first], d+1, r+1)
				return err
			})
			if err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	return nil, fmt.Errorf("unknown schema node kind %d", n.kind)
}

// appendElements appends a JSON list of the elements of a repeated field whose
// parent has levels d and r; elem appends one element.
func appendElements(b []byte, cols [][]parquet.Value, d, r int, elem func([]byte, [][]parquet.Value) ([]byte, error)) ([]byte, error) {
	b = append(b, '[')
	if cols[0][0].DefinitionLevel() > d { // else: an empty list
		first := true
		err := eachElement(cols, r, func(e [][]parquet.Value) error {
			if !first {
				b = append(b, ',')
			}
			first = false
			var err error
			b, err = elem(b, e)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// eachElement splits the values of a repeated field's columns into its elements
// (an element starts at a value repeated at level r+1) and calls fn on each.
func eachElement(cols [][]parquet.Value, r int, fn func([][]parquet.Value) error) error {
	rest := slices.Clone(cols)
	elem := make([][]parquet.Value, len(cols))
	for len(rest[0]) > 0 {
		for j, c := range rest {
			if len(c) == 0 {
				return errLevels
			}
			k := 1
			for k < len(c) && c[k].RepetitionLevel() > r+1 {
				k++
			}
			elem[j], rest[j] = c[:k], c[k:]
		}
		if err := fn(elem); err != nil {
			return err
		}
	}
	for _, c := range rest {
		if len(c) > 0 {
			return errLevels
		}
	}
	return nil
}

// scalarWriter returns the JSON encoder of a leaf type: byte arrays as strings
// (JSON-typed ones embedded when valid), integers and decimals as numbers, floats
// as Python's json writes them (3.0 stays 3.0; NaN and infinities become null),
// timestamps (and legacy INT96 ones) as RFC 3339 strings in UTC, dates as
// 2006-01-02, times of day as 15:04:05.999999999, UUIDs in their usual form.
func scalarWriter(t parquet.Type) func([]byte, parquet.Value) []byte {
	var logical any
	if lt := t.LogicalType(); lt != nil {
		logical = lt.Value
	}
	conv := deprecated.ConvertedType(-1)
	if ct := t.ConvertedType(); ct != nil {
		conv = *ct
	}
	unsigned := conv >= deprecated.Uint8 && conv <= deprecated.Uint64
	if it, ok := logical.(*format.IntType); ok {
		unsigned = !it.IsSigned
	}
	switch t.Kind() {
	case parquet.Boolean:
		return func(b []byte, v parquet.Value) []byte { return strconv.AppendBool(b, v.Boolean()) }
	case parquet.Int32:
		switch lt := logical.(type) {
		case *format.DateType:
			return date
		case *format.TimeType:
			return timeOfDay(lt.Unit.Value, func(v parquet.Value) int64 { return int64(v.Int32()) })
		case *format.DecimalType:
			return decimal(lt.Scale, func(v parquet.Value) *big.Int { return big.NewInt(int64(v.Int32())) })
		}
		switch {
		case conv == deprecated.Date:
			return date
		case conv == deprecated.TimeMillis:
			return timeOfDay(&format.MilliSeconds{}, func(v parquet.Value) int64 { return int64(v.Int32()) })
		case unsigned:
			return func(b []byte, v parquet.Value) []byte { return strconv.AppendUint(b, uint64(uint32(v.Int32())), 10) }
		}
		return func(b []byte, v parquet.Value) []byte { return strconv.AppendInt(b, int64(v.Int32()), 10) }
	case parquet.Int64:
		switch lt := logical.(type) {
		case *format.TimestampType:
			return timestamp(lt.Unit.Value)
		case *format.TimeType:
			return timeOfDay(lt.Unit.Value, parquet.Value.Int64)
		case *format.DecimalType:
			return decimal(lt.Scale, func(v parquet.Value) *big.Int { return big.NewInt(v.Int64()) })
		}
		switch {
		case conv == deprecated.TimestampMillis:
			return timestamp(&format.MilliSeconds{})
		case conv == deprecated.TimestampMicros:
			return timestamp(&format.MicroSeconds{})
		case conv == deprecated.TimeMicros:
			return timeOfDay(&format.MicroSeconds{}, parquet.Value.Int64)
		case unsigned:
			return func(b []byte, v parquet.Value) []byte { return strconv.AppendUint(b, uint64(v.Int64()), 10) }
		}
		return func(b []byte, v parquet.Value) []byte { return strconv.AppendInt(b, v.Int64(), 10) }
	case parquet.Int96: // the legacy timestamp: nanoseconds of the day, then the Julian day
		return func(b []byte, v parquet.Value) []byte {
			x := v.Int96()
			nanos := int64(uint64(x[1])<<32 | uint64(x[0]))
			days := int64(x[2]) - 2440588 // Julian day of 1970-01-01
			return appendJSONString(b, time.Unix(days*86400, nanos).UTC().Format(time.RFC3339Nano))
		}
	case parquet.Float:
		return func(b []byte, v parquet.Value) []byte { return appendFloat(b, float64(v.Float()), 32) }
	case parquet.Double:
		return func(b []byte, v parquet.Value) []byte { return appendFloat(b, v.Double(), 64) }
	}
	// BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY.
	switch lt := logical.(type) {
	case *format.JsonType:
		return func(b []byte, v parquet.Value) []byte {
			if raw := bytes.TrimSpace(v.ByteArray()); json.Valid(raw) {
				return append(b, raw...)
			}
			return appendJSONString(b, string(v.ByteArray()))
		}
	case *format.UUIDType:
		return func(b []byte, v parquet.Value) []byte {
			u := v.ByteArray()
			if len(u) != 16 {
				return appendJSONString(b, string(u))
			}
			h := hex.EncodeToString(u)
			return appendJSONString(b, h[:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:])
		}
	case *format.DecimalType: // big-endian two's complement
		return decimal(lt.Scale, func(v parquet.Value) *big.Int {
			raw := v.ByteArray()
			x := new(big.Int).SetBytes(raw)
			if len(raw) > 0 && raw[0]&0x80 != 0 {
				x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
			}
			return x
		})
	}
	return func(b []byte, v parquet.Value) []byte { return appendJSONString(b, string(v.ByteArray())) }
}

// date writes days since 1970-01-01 as 2006-01-02.
func date(b []byte, v parquet.Value) []byte {
	return appendJSONString(b, time.Unix(int64(v.Int32())*86400, 0).UTC().Format(time.DateOnly))
}

func timestamp(unit format.TimeUnitValue) func([]byte, parquet.Value) []byte {
	step := unitDuration(unit)
	return func(b []byte, v parquet.Value) []byte {
		n := v.Int64()
		sec, rem := n/int64(time.Second/step), n%int64(time.Second/step)
		return appendJSONString(b, time.Unix(sec, rem*int64(step)).UTC().Format(time.RFC3339Nano))
	}
}

func timeOfDay(unit format.TimeUnitValue, get func(parquet.Value) int64) func([]byte, parquet.Value) []byte {
	step := unitDuration(unit)
	return func(b []byte, v parquet.Value) []byte {
		return appendJSONString(b, time.Unix(0, get(v)*int64(step)).UTC().Format("15:04:05.999999999"))
	}
}

func unitDuration(unit format.TimeUnitValue) time.Duration {
	if unit == nil {
		return time.Millisecond
	}
	return unit.Duration()
}

// decimal writes an unscaled integer with scale digits after the point.
func decimal(scale int32, get func(parquet.Value) *big.Int) func([]byte, parquet.Value) []byte {
	return func(b []byte, v parquet.Value) []byte {
		x := get(v)
		s := new(big.Int).Abs(x).String()
		if scale > 0 {
			if pad := int(scale) + 1 - len(s); pad > 0 {
				s = strings.Repeat("0", pad) + s
			}
			s = s[:len(s)-int(scale)] + "." + s[len(s)-int(scale):]
		}
		if x.Sign() < 0 {
			b = append(b, '-')
		}
		return append(b, s...)
	}
}

// appendFloat writes x as Python's repr does: positional from 1e-4 up to 1e16,
// with ".0" on integral values, else in exponent form; NaN and infinities, which
// JSON lacks, as null.
func appendFloat(b []byte, x float64, bits int) []byte {
	switch a := math.Abs(x); {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return append(b, "null"...)
	case a == 0 || (a >= 1e-4 && a < 1e16):
		start := len(b)
		b = strconv.AppendFloat(b, x, 'f', -1, bits)
		if !bytes.ContainsRune(b[start:], '.') {
			b = append(b, ".0"...)
		}
		return b
	default:
		return strconv.AppendFloat(b, x, 'e', -1, bits)
	}
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
