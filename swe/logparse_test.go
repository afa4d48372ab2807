package swe

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readLog(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "logs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const (
	P = StatusPassed
	F = StatusFailed
	E = StatusError
	S = StatusSkipped
	X = StatusXFail
)

func TestParseLogFixtures(t *testing.T) {
	tests := []struct {
		parser, log string
		want        map[string]TestStatus
	}{
		{"pytest", "pytest_rA.log", map[string]TestStatus{
			"tests/test_ext.py::test_ext_basic":             P,
			"tests/test_ext.py::test_ext_with_output":       P,
			"tests/test_ext.py::test_ext_parametrized[a-b]": P,
			"tests/test_nodes.py::test_node_eq":             P,
			"tests/test_ext.py::test_ext_known_bug":         X,
			"tests/test_nodes.py::test_node_lucky":          P, // XPASS
			"tests/test_nodes.py::test_node_repr[fixture]":  E,
			"tests/test_ext.py::test_ext_loader":            F,
			// An id with a space is cut at it, as the harness (and so the datasets) do.
			"tests/test_ext.py::test_ext_param[with": F,
			// "PASSED is just a word printed by the test": the harness takes "is" as an
			// id too; it is harmless (no list names it).
			"is": P,
		}},
		// Real output of pytest 7.2.1 -rA on testdata-like tests (see the log).
		{"pytest", "pytest_real_rA.log", realPytest(false)},
		// The same run with -v --color=yes: the verbose lines add the skipped test.
		{"pytest_v2", "pytest_real_v_color.log", realPytest(true)},
		{"pytest", "pytest_real_v_color.log", realPytest(true)},
		// A module that fails to import: pytest stops, the module is an ERROR and
		// every test is missing.
		{"pytest", "pytest_real_collect_error.log", map[string]TestStatus{"tests/test_collect_error.py": E}},
		{"parse_log_pytest_v2", "pytest_v2_color.log", map[string]TestStatus{
			"astropy/io/fits/tests/test_header.py::TestHeaderFunctions::test_rename_keyword":                P,
			"astropy/io/fits/tests/test_header.py::TestHeaderFunctions::test_card_constructor_default_args": P,
			"astropy/io/fits/tests/test_header.py::TestHeaderFunctions::test_long_string_value":             F,
			"astropy/io/fits/tests/test_header.py::test_shallow_copy":                                       S,
		}},
		{"pytest", "pytest_xdist_verbose.log", map[string]TestStatus{
			"tests/unit/test_cli.py::test_help":         P,
			"tests/unit/test_cli.py::test_version":      F,
			"tests/unit/test_cli.py::test_unicode_args": X,
			"tests/unit/test_cli.py::test_windows_only": S,
			"tests/unit/test_io.py::test_read":          P,
		}},
		{"pytest_options", "pytest_options.log", map[string]TestStatus{
			"tests/test_requests.py::TestRequests::test_basic_building": P,
			"tests/test_lookup.py::test_files[/data.txt]":               P,
			"tests/test_lookup.py::test_glob[/tmp/x/*.txt]":             F, // a glob is kept whole
			"tests/test_lookup.py::test_url[//example.org/a]":           P, // so is a "//" path
		}},
		{"django", "django.log", map[string]TestStatus{
			"test_no_migrations (migrations.test_commands.MakeMigrationsTests)":                    P,
			"test_makemigrations_empty_connections (migrations.test_commands.MakeMigrationsTests)": P,
			"test_makemigrations_merge_no_conflict (migrations.test_commands.MakeMigrationsTests)": F,
			"--squashed-name specifies the new migration's name.":                                  P,
			"test_sqlmigrate_backwards (migrations.test_commands.MigrateTests)":                    E,
			"Running migrate --run-syncdb with an app_label only creates tables for":               P,
			"test_files_content (migrations.test_commands.MakeMigrationsTests)":                    S,
			"test_add_view (admin_views.tests.AdminViewBasicTest)":                                 P,
			"test_changelist_view (admin_views.tests.AdminViewBasicTest.test_changelist_view)":     P,
			"test_login (admin_views.tests.AdminViewBasicTest.test_login)":                         P,
			// The harness's "FAIL: x" / "ERROR: x" headers mark the first word.
			"test_sqlmigrate_backwards":             E,
			"test_makemigrations_merge_no_conflict": F,
		}},
		{"sympy", "sympy.log", map[string]TestStatus{
			"test__aresame":           P,
			"test_structure":          P,
			"test_preorder_traversal": F,
			"test_printmethod":        P,
			"test_latex_symbols":      P,
			"test_latex_basic":        E,
			"test_latex_builtins":     P,
			"sympy/core/tests/test_basic.py:test_preorder_traversal": F,
			"sympy/printing/tests/test_latex.py:test_latex_basic":    F,
		}},
		{"gotest", "gotest_v.log", map[string]TestStatus{
			"TestRouterStatic":                P,
			"TestRouterParams":                F,
			"TestRouterParams/single_param":   P,
			"TestRouterParams/trailing_slash": F,
			"TestRouterParams/wildcard":       S,
			"TestRouterMethodNotAllowed":      P,
			"TestServe":                       P,
			// internal/render did not build and TestShutdown timed out: both missing.
		}},
		// Real output of go1.26 test -v -count=1 ./a ./b . (./b does not build; TestPar
		// prints without a newline, so its result line is run together with that).
		{"gotest", "gotest_real_v.log", map[string]TestStatus{
			"TestOK":            P,
			"TestSub":           F,
			"TestSub/good_case": P,
			"TestSub/bad":       F,
			"TestSub/skip":      S,
			"TestSub/nest":      P,
			"TestSub/nest/deep": P,
			"TestPar":           P,
			"TestRoot":          P,
		}},
		// The same packages (less ./b) with go test -json.
		{"gotest", "gotest_real_json.log", map[string]TestStatus{
			"TestOK":            P,
			"TestSub":           F,
			"TestSub/good_case": P,
			"TestSub/bad":       F,
			"TestSub/skip":      S,
			"TestSub/nest":      P,
			"TestSub/nest/deep": P,
			"TestPar":           P,
			"TestRoot":          P,
		}},
		{"parse_log_gotest", "gotest_json.log", map[string]TestStatus{
			"TestPut":         P,
			"TestGet/missing": F,
			"TestGet":         F,
			"TestCompact":     S,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.parser+"/"+tt.log, func(t *testing.T) {
			got, err := ParseLog(tt.parser, readLog(t, tt.log))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				for k, v := range tt.want {
					if got[k] != v {
						t.Errorf("%q: got %q, want %q", k, got[k], v)
					}
				}
				for k, v := range got {
					if _, ok := tt.want[k]; !ok {
						t.Errorf("unexpected %q: %q", k, v)
					}
				}
			}
		})
	}
}

func realPytest(verbose bool) map[string]TestStatus {
	m := map[string]TestStatus{
		"tests/test_ops.py::test_ok":                     P,
		"tests/test_ops.py::test_fail":                   F,
		"tests/test_ops.py::test_param[a":                P, // "[a b]" cut at the space
		"tests/test_ops.py::test_param[c]":               F,
		"tests/test_ops.py::test_param[/tmp/data/x.txt]": P,
		"tests/test_ops.py::test_xfail":                  X,
		"tests/test_ops.py::test_xpass":                  P,
		"tests/test_ops.py::test_error":                  E,
		"tests/test_ops.py::test_prints":                 P,
		"tests/fake.py::nothing":                         P, // printed by test_prints, read as the harness would
	}
	if verbose {
		m["tests/test_ops.py::test_skipped"] = S
	}
	return m
}

func TestParseLogInline(t *testing.T) {
	tests := []struct {
		name, parser, log string
		want              map[string]TestStatus
	}{
		{"empty", "pytest", "", map[string]TestStatus{}},
		{"status alone", "pytest", "PASSED\nFAILED \n", map[string]TestStatus{}},
		{"skip without id", "pytest", "SKIPPED [2] tests/test_a.py:10: no network\n", map[string]TestStatus{}},
		{"skip with id", "pytest", "SKIPPED tests/test_a.py::test_net\n", map[string]TestStatus{"tests/test_a.py::test_net": S}},
		{"crlf", "pytest", "PASSED a.py::t1\r\nFAILED a.py::t2 - x\r\n", map[string]TestStatus{"a.py::t1": P, "a.py::t2": F}},
		{"verbose needs ::", "pytest", "    assert status == PASSED\n", map[string]TestStatus{}},
		{"verbose xpass", "pytest", "a.py::t XPASS (flaky)                  [100%]\n", map[string]TestStatus{"a.py::t": P}},
		{"no escape byte", "pytest_v2", "[32mPASSED[0m a.py::t1\n", map[string]TestStatus{"a.py::t1": P}},
		{"v1 keeps bracket params", "pytest", "PASSED a.py::t[m] \nPASSED a.py::t[1m]\n", map[string]TestStatus{"a.py::t[m]": P, "a.py::t[1m]": P}},
		{"worst wins: verbose pass, summary error", "pytest",
			"a.py::t PASSED [ 50%]\nPASSED a.py::t\nERROR a.py::t - teardown failed\n", map[string]TestStatus{"a.py::t": E}},
		{"worst wins: error then later pass", "pytest",
			"ERROR a.py::t\nPASSED a.py::t\n", map[string]TestStatus{"a.py::t": E}},
		{"matplotlib mouse buttons", "matplotlib",
			"PASSED lib/matplotlib/tests/test_widgets.py::test_span[MouseButton.LEFT]\n",
			map[string]TestStatus{"lib/matplotlib/tests/test_widgets.py::test_span[1]": P}},
		{"seaborn", "seaborn",
			"tests/test_core.py::TestHue::test_map PASSED [ 10%]\nFAILED tests/test_core.py::TestHue::test_norm - x\nPASSED tests/test_a.py::t\n",
			map[string]TestStatus{"tests/test_core.py::TestHue::test_map": P, "tests/test_core.py::TestHue::test_norm": F, "tests/test_a.py::t": P}},
		{"django ok on later line", "django",
			"test_a (m.T) ... some output\nmore output\nok\n", map[string]TestStatus{"test_a (m.T)": P}},
		{"django stray ok after FAIL does not pass it", "django",
			"test_a (m.T) ... FAIL\nTraceback:\n    ok = compute()\n", map[string]TestStatus{"test_a (m.T)": F}},
		{"django system check interruption", "django",
			"test_b (m.T) ... System check identified no issues (0 silenced)\nok\n", map[string]TestStatus{"test_b (m.T)": P}},
		{"django --version", "django",
			"test_version (admin_scripts.tests.CommandTypes)\n--version is equivalent to version ... ok\n",
			map[string]TestStatus{"--version is equivalent to version": P}},
		{"sympy timing and markers", "sympy",
			"test_a ok\ntest_b f\ntest_c s\ntest_d F\n  test_e E\nnot_a_test ok\n",
			map[string]TestStatus{"test_a": P, "test_d": F, "test_e": E}},
		{"gotest same name in two packages: worst wins", "gotest",
			"--- FAIL: TestConfig (0.00s)\nFAIL\tex/a\n--- PASS: TestConfig (0.00s)\nok  \tex/b\n",
			map[string]TestStatus{"TestConfig": F}},
		{"gotest build failure only", "gotest",
			"# ex/a\n./a.go:3:1: syntax error: non-declaration statement outside function body\nFAIL\tex/a [build failed]\n",
			map[string]TestStatus{}},
		{"gotest deep subtest", "gotest",
			"        --- PASS: TestA/b/c#01 (0.00s)\n", map[string]TestStatus{"TestA/b/c#01": P}},
		{"gotest output containing a result line mid-text", "gotest",
			"    main_test.go:12: expected --- PASS: TestFake (0.00s)\n", map[string]TestStatus{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLog(tt.parser, tt.log)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseLogUnknownParser(t *testing.T) {
	_, err := ParseLog("parse_log_js_4", "PASSED a")
	if err == nil {
		t.Fatal("want an error")
	}
	for _, name := range []string{"parse_log_js_4", "pytest", "parse_log_pytest", "django", "sympy", "gotest", "pytest_v2"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not mention %q", err, name)
		}
	}
}

func TestLogParserNamesAllResolve(t *testing.T) {
	names := LogParserNames()
	for _, want := range []string{"pytest", "parse_log_pytest", "pytest_v2", "parse_log_pytest_v2", "django",
		"parse_log_django", "sympy", "parse_log_sympy", "gotest", "parse_log_gotest"} {
		if _, ok := LookupLogParser(want); !ok {
			t.Errorf("parser %q not registered", want)
		}
	}
	for _, n := range names {
		if _, err := ParseLog(n, ""); err != nil {
			t.Errorf("ParseLog(%q): %v", n, err)
		}
	}
}

// FuzzParseLog: no parser panics, and every status a parser reports is one of the
// five.
func FuzzParseLog(f *testing.F) {
	for _, n := range []string{"pytest_rA.log", "django.log", "sympy.log", "gotest_v.log", "gotest_json.log"} {
		b, err := os.ReadFile(filepath.Join("testdata", "logs", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("PASSED\x1b[\n[gw0] [ 5%] a::b XPASS\n{\"Action\":\"pass\"}\n")
	valid := map[TestStatus]bool{P: true, F: true, E: true, S: true, X: true}
	f.Fuzz(func(t *testing.T, log string) {
		for _, n := range LogParserNames() {
			got, _ := ParseLog(n, log)
			for id, s := range got {
				if id == "" || !valid[s] {
					t.Fatalf("%s: %q -> %q", n, id, s)
				}
			}
		}
	})
}
