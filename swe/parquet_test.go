package swe

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// sweBenchRow is a row of princeton-nlp/SWE-bench(_Verified)'s Parquet files on the
// Hugging Face hub: every column a string, FAIL_TO_PASS and PASS_TO_PASS JSON
// strings holding lists. The json tags write the same row as JSON Lines.
type sweBenchRow struct {
	Repo                   string `parquet:"repo" json:"repo"`
	InstanceID             string `parquet:"instance_id" json:"instance_id"`
	BaseCommit             string `parquet:"base_commit" json:"base_commit"`
	Patch                  string `parquet:"patch" json:"patch"`
	TestPatch              string `parquet:"test_patch" json:"test_patch"`
	ProblemStatement       string `parquet:"problem_statement" json:"problem_statement"`
	HintsText              string `parquet:"hints_text" json:"hints_text"`
	CreatedAt              string `parquet:"created_at" json:"created_at"`
	Version                string `parquet:"version" json:"version"`
	FailToPass             string `parquet:"FAIL_TO_PASS" json:"FAIL_TO_PASS"`
	PassToPass             string `parquet:"PASS_TO_PASS" json:"PASS_TO_PASS"`
	EnvironmentSetupCommit string `parquet:"environment_setup_commit" json:"environment_setup_commit"`
}

// rebenchRow is a row of nebius/SWE-rebench's Parquet files: test lists as
// list<string> (pyarrow's 3-level LIST), install_config and meta as structs, env a
// map<string,string>, created_at a timestamp, problem_statement nullable.
type rebenchRow struct {
	InstanceID       string           `parquet:"instance_id" json:"instance_id"`
	Repo             string           `parquet:"repo" json:"repo"`
	BaseCommit       string           `parquet:"base_commit" json:"base_commit"`
	Patch            string           `parquet:"patch" json:"patch"`
	TestPatch        string           `parquet:"test_patch" json:"test_patch"`
	ProblemStatement *string          `parquet:"problem_statement,optional" json:"problem_statement"`
	HintsText        string           `parquet:"hints_text" json:"hints_text"`
	CreatedAt        time.Time        `parquet:"created_at,timestamp(microsecond)" json:"created_at"`
	Version          string           `parquet:"version" json:"version"`
	FailToPass       []string         `parquet:"FAIL_TO_PASS,list" json:"FAIL_TO_PASS"`
	PassToPass       []string         `parquet:"PASS_TO_PASS,list" json:"PASS_TO_PASS"`
	EnvSetupCommit   string           `parquet:"environment_setup_commit" json:"environment_setup_commit"`
	DockerImage      string           `parquet:"docker_image" json:"docker_image"`
	InstallConfig    rebenchInstall   `parquet:"install_config" json:"install_config"`
	Meta             rebenchMeta      `parquet:"meta" json:"meta"`
	RequirementsPath *string          `parquet:"requirements,optional" json:"requirements"`
	LLMScore         map[string]int64 `parquet:"llm_score" json:"llm_score"`
}

type rebenchInstall struct {
	TestCmd     string            `parquet:"test_cmd" json:"test_cmd"`
	LogParser   string            `parquet:"log_parser" json:"log_parser"`
	Install     string            `parquet:"install" json:"install"`
	PreInstall  []string          `parquet:"pre_install,list" json:"pre_install"`
	Env         map[string]string `parquet:"env" json:"env"`
	Python      string            `parquet:"python" json:"python"`
	PipPackages []string          `parquet:"pip_packages,list" json:"pip_packages"`
	ReqsPath    []string          `parquet:"reqs_path,list" json:"reqs_path"`
}

type rebenchMeta struct {
	Language   string `parquet:"language" json:"language"`
	Difficulty string `parquet:"difficulty" json:"difficulty"`
	NumFiles   int32  `parquet:"num_modified_files" json:"num_modified_files"`
	HasTests   bool   `parquet:"has_test_patch" json:"has_test_patch"`
}

func sweBenchRows() []sweBenchRow {
	row := func(id, f2p string) sweBenchRow {
		return sweBenchRow{Repo: "octo/widgets", InstanceID: id, BaseCommit: "0123456789abcdef0123456789abcdef01234567",
			Patch: "diff --git a/w.py b/w.py\n", TestPatch: "diff --git a/tests/test_w.py b/tests/test_w.py\n",
			ProblemStatement: "Widget.resize drops the border <b>.", CreatedAt: "2023-05-01T12:00:00Z", Version: "3.0",
			FailToPass: f2p, PassToPass: `["tests/test_w.py::test_resize"]`, EnvironmentSetupCommit: "89abcdef0123456789abcdef0123456789abcdef"}
	}
	noStatement := row("octo__widgets-4", `["t"]`)
	noStatement.ProblemStatement = ""
	return []sweBenchRow{
		row("octo__widgets-1", `["tests/test_w.py::test_resize_keeps_border", "tests/test_w.py::test_ünïcode"]`),
		row("octo__widgets-2", "[]"),                      // empty FAIL_TO_PASS
		row("octo__widgets-3", "tests/test_w.py::test_x"), // not a JSON list
		noStatement,
		row("octo__widgets-1", `["t"]`), // duplicate
		row("octo__widgets-5", `["tests/test_w.py::test_five"]`),
	}
}

func rebenchRows() []rebenchRow {
	statement := "Cron spec `@every 0s` loops forever."
	reqs := "requirements.txt"
	row := func(id string, f2p []string) rebenchRow {
		return rebenchRow{InstanceID: id, Repo: "octo/cron", BaseCommit: "fedcba9876543210fedcba9876543210fedcba98",
			Patch: "diff --git a/c.go b/c.go\n", TestPatch: "diff --git a/c_test.go b/c_test.go\n", ProblemStatement: &statement,
			CreatedAt: time.Date(2024, 2, 29, 23, 59, 58, 123456000, time.UTC), Version: "0.1",
			FailToPass: f2p, PassToPass: []string{"TestParse", "TestNext/hourly"}, EnvSetupCommit: "fedcba9876543210fedcba9876543210fedcba98",
			DockerImage: "swerebench/sweb.eval.x86_64.octo_1776_cron-" + id,
			InstallConfig: rebenchInstall{TestCmd: "go test -v ./...", LogParser: "gotest", Install: "go mod download",
				PreInstall: []string{"apt-get update", "apt-get install -y tzdata"}, Env: map[string]string{"TZ": "UTC", "CGO_ENABLED": "0"},
				Python: "3.11", PipPackages: []string{}, ReqsPath: []string{"requirements.txt", "dev.txt"}},
			Meta:             rebenchMeta{Language: "go", Difficulty: "easy", NumFiles: 2, HasTests: true},
			RequirementsPath: &reqs, LLMScore: map[string]int64{"difficulty_score": 1},
		}
	}
	noStatement := row("octo__cron-3", []string{"TestEvery"})
	noStatement.ProblemStatement = nil
	noReqs := row("octo__cron-4", []string{"TestEvery"})
	noReqs.RequirementsPath, noReqs.InstallConfig.PreInstall = nil, []string{}
	return []rebenchRow{
		row("octo__cron-1", []string{"TestEvery", "TestEvery/zero"}),
		row("octo__cron-2", []string{}), // empty FAIL_TO_PASS
		noStatement,
		row("octo__cron-1", []string{"TestOther"}), // duplicate
		noReqs,
	}
}

// writeParquet writes rows with parquet-go's struct schema (as the hub's files are
// laid out) and returns the file's bytes.
func writeParquet[T any](t testing.TB, path string, rows []T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, parquet.Compression(&parquet.Snappy))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeJSONL writes rows as JSON Lines, the way a dataset dump writes them.
func writeJSONL[T any](t testing.TB, path string, rows []T) {
	t.Helper()
	var buf bytes.Buffer
	for _, r := range rows {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(append(line, '\n'))
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// loadBoth loads the same rows from Parquet and JSON Lines files and checks they
// give equal tasks and equal line errors (file name aside). It returns the Parquet
// result.
func loadBoth[T any](t *testing.T, rows []T) ([]Task, *LoadError, string) {
	t.Helper()
	dir := t.TempDir()
	pq, jl := filepath.Join(dir, "tasks.parquet"), filepath.Join(dir, "tasks.jsonl")
	writeParquet(t, pq, rows)
	writeJSONL(t, jl, rows)
	fromPQ, pqErr := LoadTasks(pq)
	fromJL, jlErr := LoadTasks(jl)
	if !reflect.DeepEqual(fromPQ, fromJL) {
		t.Errorf("Parquet and JSON Lines give different tasks:\nparquet %+v\njsonl   %+v", fromPQ, fromJL)
		for i := range min(len(fromPQ), len(fromJL)) {
			a, _ := json.Marshal(fromPQ[i])
			b, _ := json.Marshal(fromJL[i])
			if !bytes.Equal(a, b) {
				t.Errorf("task %d:\nparquet %s\njsonl   %s", i, a, b)
			}
		}
	}
	var pqLE, jlLE *LoadError
	if (pqErr == nil) != (jlErr == nil) || (pqErr != nil && (!errors.As(pqErr, &pqLE) || !errors.As(jlErr, &jlLE))) {
		t.Fatalf("errors differ in kind:\nparquet %v\njsonl   %v", pqErr, jlErr)
	}
	if pqLE != nil {
		if got, want := strings.ReplaceAll(pqErr.Error(), pq, "FILE"), strings.ReplaceAll(jlErr.Error(), jl, "FILE"); got != want {
			t.Errorf("line errors differ:\nparquet %s\njsonl   %s", got, want)
		}
	}
	return fromPQ, pqLE, pq
}

func TestLoadTasksParquetSWEBench(t *testing.T) {
	tasks, le, path := loadBoth(t, sweBenchRows())
	want := Task{
		InstanceID: "octo__widgets-1", Repo: "octo/widgets", BaseCommit: "0123456789abcdef0123456789abcdef01234567",
		Patch: "diff --git a/w.py b/w.py\n", TestPatch: "diff --git a/tests/test_w.py b/tests/test_w.py\n",
		ProblemStatement: "Widget.resize drops the border <b>.", Version: "3.0",
		FailToPass: TestList{"tests/test_w.py::test_resize_keeps_border", "tests/test_w.py::test_ünïcode"},
		PassToPass: TestList{"tests/test_w.py::test_resize"}, EnvironmentSetupCommit: "89abcdef0123456789abcdef0123456789abcdef",
		CreatedAt: "2023-05-01T12:00:00Z",
	}
	if len(tasks) != 2 || !reflect.DeepEqual(tasks[0], want) || tasks[1].InstanceID != "octo__widgets-5" {
		t.Fatalf("tasks:\n%+v\nwant the first to be\n%+v", tasks, want)
	}
	if le == nil {
		t.Fatal("no *LoadError for the bad rows")
	}
	wantErrs := []LineError{
		{path, 2, "FAIL_TO_PASS", "empty; fix: every task needs at least one FAIL_TO_PASS test"},
		{path, 3, "FAIL_TO_PASS", `want a list of strings or a JSON string holding one, got a string that is not a JSON list: "tests/test_w.py::test_x"`},
		{path, 4, "problem_statement", "empty (required)"},
		{path, 5, "instance_id", `duplicate "octo__widgets-1": already on line 1 (the first is kept)`},
	}
	if !reflect.DeepEqual(le.Errs, wantErrs) {
		t.Errorf("row errors:\n%s\nwant %+v", le, wantErrs)
	}
	if msg := le.Error(); !strings.Contains(msg, path+":2: FAIL_TO_PASS: empty") {
		t.Errorf("Error() does not name file and row: %s", msg)
	}
}

func TestLoadTasksParquetSWERebench(t *testing.T) {
	tasks, le, path := loadBoth(t, rebenchRows())
	if len(tasks) != 2 || tasks[0].InstanceID != "octo__cron-1" || tasks[1].InstanceID != "octo__cron-4" {
		t.Fatalf("tasks: %+v", tasks)
	}
	task := tasks[0]
	if !reflect.DeepEqual(task.FailToPass, TestList{"TestEvery", "TestEvery/zero"}) ||
		!reflect.DeepEqual(task.PassToPass, TestList{"TestParse", "TestNext/hourly"}) {
		t.Errorf("lists: %q %q", task.FailToPass, task.PassToPass)
	}
	if task.CreatedAt != "2024-02-29T23:59:58.123456Z" || task.DockerImage != "swerebench/sweb.eval.x86_64.octo_1776_cron-octo__cron-1" {
		t.Errorf("created_at %q docker_image %q", task.CreatedAt, task.DockerImage)
	}
	ic := task.InstallConfig
	if ic == nil || ic.TestCmd != "go test -v ./..." || ic.LogParser != "gotest" || ic.Install != "go mod download" ||
		ic.PreInstall != "apt-get update && apt-get install -y tzdata" ||
		!reflect.DeepEqual(ic.Env, map[string]string{"TZ": "UTC", "CGO_ENABLED": "0"}) {
		t.Fatalf("install_config: %+v", ic)
	}
	for k, want := range map[string]string{"python": `"3.11"`, "pip_packages": `[]`, "reqs_path": `["requirements.txt","dev.txt"]`} {
		if got := string(ic.Extra[k]); got != want {
			t.Errorf("install_config.%s = %s, want %s", k, got, want)
		}
	}
	if got := string(task.Meta); got != `{"language":"go","difficulty":"easy","num_modified_files":2,"has_test_patch":true}` {
		t.Errorf("meta = %s", got)
	}
	if ic := tasks[1].InstallConfig; ic.PreInstall != "" {
		t.Errorf("empty pre_install list: %q", ic.PreInstall)
	}
	wantErrs := []LineError{
		{path, 2, "FAIL_TO_PASS", "empty; fix: every task needs at least one FAIL_TO_PASS test"},
		{path, 3, "problem_statement", "missing (required, got null)"},
		{path, 4, "instance_id", `duplicate "octo__cron-1": already on line 1 (the first is kept)`},
	}
	if le == nil || !reflect.DeepEqual(le.Errs, wantErrs) {
		t.Errorf("row errors: %v\nwant %+v", le, wantErrs)
	}
}

// Parquet is recognised by its magic, whatever the name, and read from any
// io.Reader; a .json array is read too.
func TestLoadTasksParquetDetection(t *testing.T) {
	dir := t.TempDir()
	rows := sweBenchRows()[:1]
	data := writeParquet(t, filepath.Join(dir, "train-00000-of-00001.jsonl"), rows)
	fromMisnamed, err := LoadTasks(filepath.Join(dir, "train-00000-of-00001.jsonl"))
	if err != nil || len(fromMisnamed) != 1 {
		t.Fatalf("Parquet named .jsonl: %v %v", fromMisnamed, err)
	}
	fromReader, err := ReadTasks(bytes.NewReader(data), "stdin")
	if err != nil || !reflect.DeepEqual(fromReader, fromMisnamed) {
		t.Errorf("ReadTasks on Parquet bytes: %v %v", fromReader, err)
	}
	arr, _ := json.Marshal(rows)
	if err := os.WriteFile(filepath.Join(dir, "tasks.json"), arr, 0o644); err != nil {
		t.Fatal(err)
	}
	fromArray, err := LoadTasks(filepath.Join(dir, "tasks.json"))
	if err != nil || !reflect.DeepEqual(fromArray, fromMisnamed) {
		t.Errorf(".json array: %v %v, want %v", fromArray, err, fromMisnamed)
	}
}

func TestLoadTasksParquetInvalid(t *testing.T) {
	dir := t.TempDir()
	good := writeParquet(t, filepath.Join(dir, "good.parquet"), sweBenchRows())
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", good[:len(good)/2], "not a valid Parquet file"},
		{"footer cut", good[:len(good)-3], "not a valid Parquet file"},
		{"magic only", []byte("PAR1"), "not a valid Parquet file"},
		{"footer length damaged", func() []byte { // asks for a 2 GiB footer: refused before it is allocated
			d := bytes.Clone(good)
			d[len(d)-5] = 0x7f
			return d
		}(), "its footer claims"},
		{"garbage after magic", append([]byte("PAR1"), bytes.Repeat([]byte{0xff}, 64)...), "not a valid Parquet file"},
		{"not parquet at all", []byte(`{"instance_id": "x"}` + "\n"), `not a Parquet file: it does not start with "PAR1"`},
		{"empty", nil, `not a Parquet file: it does not start with "PAR1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".parquet")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			tasks, err := LoadTasks(path)
			if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one starting with %q and containing %q", err, path+": ", tt.want)
			}
			var le *LoadError
			if len(tasks) != 0 || errors.As(err, &le) {
				t.Errorf("tasks %v, error %T: want no tasks and a plain error", tasks, err)
			}
		})
	}
}

// layoutRow covers the column shapes rowJSON converts: 2-level repeated fields,
// nullable list elements, lists of structs, nested lists, maps with integer keys,
// byte arrays, integers, floats, dates and nulls.
type layoutRow struct {
	Tags      []string         `parquet:"tags"` // 2-level: repeated binary
	Maybe     []*string        `parquet:"maybe,list" parquet-element:",optional"`
	Steps     []layoutStep     `parquet:"steps,list"`
	Grid      [][]int32        `parquet:"grid,list"`
	ByNumber  map[int32]string `parquet:"by_number"`
	Blob      []byte           `parquet:"blob"`
	Small     int32            `parquet:"small"`
	Big       uint64           `parquet:"big"`
	Ratio     float64          `parquet:"ratio"`
	Whole     float64          `parquet:"whole"`
	Single    float32          `parquet:"single"`
	Day       int32            `parquet:"day,date"` // days since 1970 (parquet-go v0.32 mis-writes a time.Time as DATE)
	Stamp     time.Time        `parquet:"stamp,timestamp(nanosecond)"`
	Missing   *int64           `parquet:"missing,optional"`
	NoStruct  *layoutStep      `parquet:"no_struct,optional"`
	EmptyList []string         `parquet:"empty_list,list"`
}

type layoutStep struct {
	Cmd  string `parquet:"cmd"`
	Args []string
}

func TestParquetRowJSON(t *testing.T) {
	x := "x"
	row := layoutRow{
		Tags: []string{"a", "b"}, Maybe: []*string{&x, nil}, Grid: [][]int32{{1, 2}, {}, {3}},
		Steps:    []layoutStep{{Cmd: "make", Args: []string{"-j2"}}, {Cmd: "test"}},
		ByNumber: map[int32]string{7: "seven"}, Blob: []byte("héllo"), Small: -3, Big: 1 << 63,
		Ratio: 0.25, Whole: 3, Single: 1.5,
		Day: int32(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC).Unix() / 86400), Stamp: time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	path := filepath.Join(t.TempDir(), "layout.parquet")
	writeParquet(t, path, []layoutRow{row})
	got := []byte(parquetRowsJSON(t, path, 1)[0])
	want := `{"tags":["a","b"],"maybe":["x",null],"steps":[{"cmd":"make","Args":["-j2"]},{"cmd":"test","Args":[]}],` +
		`"grid":[[1,2],[],[3]],"by_number":{"7":"seven"},"blob":"héllo","small":-3,"big":9223372036854775808,` +
		`"ratio":0.25,"whole":3.0,"single":1.5,"day":"2024-02-29","stamp":"1969-12-31T23:59:59.999999999Z",` +
		`"missing":null,"no_struct":null,"empty_list":[]}`
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("row JSON:\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(string(got), `"whole":3.0,`) {
		t.Errorf("a whole float lost its .0 (Python writes 3.0): %s", got)
	}
}

// parquetRowsJSON returns the JSON objects of a Parquet file's first n rows.
func parquetRowsJSON(t *testing.T, path string, n int) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	schema, err := compileParquetSchema(f.Schema())
	if err != nil {
		t.Fatal(err)
	}
	cols := make([][]parquet.Value, schema.end)
	var out []string
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		buf := make([]parquet.Row, n)
		k, err := rows.ReadRows(buf)
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		for _, row := range buf[:k] {
			if len(out) < n {
				j, err := schema.rowJSON(row, cols)
				if err != nil {
					t.Fatalf("%s row %d: %v", path, len(out)+1, err)
				}
				out = append(out, string(j))
			}
		}
		rows.Close()
	}
	if len(out) < n {
		t.Fatalf("%s: %d rows, want %d", path, len(out), n)
	}
	return out
}

// Files written by other Parquet writers (Arrow C++, which pyarrow wraps;
// parquet-mr from Spark; Impala's legacy INT96 timestamps and "map" groups), from
// the apache/parquet-testing files that parquet-go ships in its module, with the
// contents that suite documents.
func TestParquetRowJSONOtherWriters(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/parquet-go/parquet-go").Output()
	dir := filepath.Join(strings.TrimSpace(string(out)), "testdata")
	if _, statErr := os.Stat(filepath.Join(dir, "list_columns.parquet")); err != nil || statErr != nil {
		t.Skipf("parquet-go's testdata not found (go list: %v, %v)", err, statErr)
	}
	tests := []struct {
		file, writer string
		want         []string
	}{
		{"list_columns.parquet", "parquet-cpp (pyarrow)", []string{
			`{"int64_list":[1,2,3],"utf8_list":["abc","efg","hij"]}`,
			`{"int64_list":[null,1],"utf8_list":null}`,
			`{"int64_list":[4],"utf8_list":["efg",null,"hij","xyz"]}`}},
		{"nested_lists.snappy.parquet", "parquet-mr", []string{`{"a":[[["a","b"],["c"]],[null,["d"]]],"b":1}`}},
		{"nested_maps.snappy.parquet", "parquet-mr", []string{
			`{"a":{"a":{"1":true,"2":false}},"b":1,"c":1.0}`, `{"a":{"b":{"1":true}},"b":1,"c":1.0}`,
			`{"a":{"c":null},"b":1,"c":1.0}`, `{"a":{"d":{}},"b":1,"c":1.0}`}},
		{"nullable.impala.parquet", "parquet-mr (Impala)", []string{
			`{"id":1,"int_array":[1,2,3],"int_array_Array":[[1,2],[3,4]],"int_map":{"k1":1,"k2":100},"int_Map_Array":[{"k1":1}],` +
				`"nested_struct":{"A":1,"b":[1],"C":{"d":[[{"E":10,"F":"aaa"},{"E":-10,"F":"bbb"}],[{"E":11,"F":"c"}]]},"g":{"foo":{"H":{"i":[1.1]}}}}}`}},
		{"alltypes_plain.parquet", "Impala", []string{
			`{"id":4,"bool_col":true,"tinyint_col":0,"smallint_col":0,"int_col":0,"bigint_col":0,"float_col":0.0,"double_col":0.0,` +
				`"date_string_col":"03/01/09","string_col":"0","timestamp_col":"2009-03-01T00:00:00Z"}`,
			`{"id":5,"bool_col":false,"tinyint_col":1,"smallint_col":1,"int_col":1,"bigint_col":10,"float_col":1.1,"double_col":10.1,` +
				`"date_string_col":"03/01/09","string_col":"1","timestamp_col":"2009-03-01T00:01:00Z"}`}},
		{"datapage_v2.snappy.parquet", "parquet-mr", []string{
			`{"a":"abc","b":1,"c":2.0,"d":true,"e":[1,2,3]}`, `{"a":"abc","b":2,"c":3.0,"d":true,"e":null}`,
			`{"a":"abc","b":3,"c":4.0,"d":true,"e":null}`, `{"a":null,"b":4,"c":5.0,"d":false,"e":[1,2,3]}`}},
		{"fixed_length_decimal.parquet", "parquet-mr", []string{`{"value":1.00}`, `{"value":2.00}`}},
		{"byte_array_decimal.parquet", "HVR", []string{`{"value":1.00}`, `{"value":2.00}`}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := parquetRowsJSON(t, filepath.Join(dir, tt.file), len(tt.want))
			for i := range tt.want {
				if got[i] != tt.want[i] {
					t.Errorf("row %d (written by %s):\n got %s\nwant %s", i+1, tt.writer, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestAppendFloat(t *testing.T) {
	tests := []struct {
		x    float64
		want string
	}{
		{0, "0.0"}, {3, "3.0"}, {-2.5, "-2.5"}, {0.1, "0.1"}, {1e-4, "0.0001"}, {1.5e-5, "1.5e-05"},
		{1e15, "1000000000000000.0"}, {1e16, "1e+16"}, {math.Inf(1), "null"}, {math.NaN(), "null"},
	}
	for _, tt := range tests {
		if got := string(appendFloat(nil, tt.x, 64)); got != tt.want {
			t.Errorf("appendFloat(%v) = %s, want %s (as Python's json writes it)", tt.x, got, tt.want)
		}
	}
}

// FuzzReadTasksParquet: a damaged Parquet file gives tasks or an error, never a
// panic.
func FuzzReadTasksParquet(f *testing.F) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[sweBenchRow](&buf)
	if _, err := w.Write(sweBenchRows()); err != nil {
		f.Fatal(err)
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	good := buf.Bytes()
	f.Add(good)
	f.Add(good[:len(good)-10])
	f.Add(append([]byte("PAR1"), good[len(good)-8:]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		tasks, err := ReadTasks(bytes.NewReader(data), "fuzz.parquet")
		if err == nil && len(tasks) == 0 {
			t.Fatal("no tasks and no error")
		}
	})
}
