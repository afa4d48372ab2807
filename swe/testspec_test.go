package swe

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const djangoTestPatch = `diff --git a/tests/migrations/test_commands.py b/tests/migrations/test_commands.py
index 1c6c5d7..a3f0b2e 100644
--- a/tests/migrations/test_commands.py
+++ b/tests/migrations/test_commands.py
@@ -1400,6 +1400,12 @@ class MakeMigrationsTests(MigrationTestBase):
+    def test_makemigrations_merge_no_conflict(self):
+        pass
diff --git a/tests/migrations/test_migrations_conflict/0003_third.py b/tests/migrations/test_migrations_conflict/0003_third.py
new file mode 100644
index 0000000..9c8a1d2
--- /dev/null
+++ b/tests/migrations/test_migrations_conflict/0003_third.py
@@ -0,0 +1,3 @@
+from django.db import migrations
diff --git a/tests/migrations/fixtures/data.json b/tests/migrations/fixtures/data.json
index 1111111..2222222 100644
--- a/tests/migrations/fixtures/data.json
+++ b/tests/migrations/fixtures/data.json
@@ -1 +1 @@
-[]
+[{}]
diff --git a/tests/migrations/test_old.py b/tests/migrations/test_old.py
deleted file mode 100644
index 3333333..0000000
--- a/tests/migrations/test_old.py
+++ /dev/null
@@ -1,2 +0,0 @@
-def test_x():
-    pass
`

func TestPatchFiles(t *testing.T) {
	tests := []struct {
		name, patch string
		want        []string
	}{
		{"django patch", djangoTestPatch, []string{
			"tests/migrations/test_commands.py",
			"tests/migrations/test_migrations_conflict/0003_third.py",
			"tests/migrations/fixtures/data.json",
		}},
		{"empty", "", nil},
		{"not a git diff", "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n", nil},
		{"rename", "diff --git a/old/t.py b/new/t.py\nsimilarity index 100%\nrename from old/t.py\nrename to new/t.py\n", []string{"new/t.py"}},
		{"rename with edits", "diff --git a/a_test.go b/b_test.go\nsimilarity index 90%\nrename from a_test.go\nrename to b_test.go\n--- a/a_test.go\n+++ b/b_test.go\n@@ -1 +1 @@\n-x\n+y\n", []string{"b_test.go"}},
		{"space in name", "diff --git a/tests/my dir/test a.py b/tests/my dir/test a.py\n--- a/tests/my dir/test a.py\n+++ b/tests/my dir/test a.py\n@@ -1 +1 @@\n-x\n+y\n", []string{"tests/my dir/test a.py"}},
		{"space in name, no +++ (mode change)", "diff --git a/t b/x.sh b/t b/x.sh\nold mode 100644\nnew mode 100755\n", []string{"t b/x.sh"}},
		{"quoted name", "diff --git \"a/tests/caf\\303\\251.py\" \"b/tests/caf\\303\\251.py\"\n--- \"a/tests/caf\\303\\251.py\"\n+++ \"b/tests/caf\\303\\251.py\"\n@@ -1 +1 @@\n-x\n+y\n", []string{"tests/café.py"}},
		{"quoted tab name, header only", "diff --git \"a/t\\tx.py\" \"b/t\\tx.py\"\nnew file mode 100644\nindex 0000000..e69de29\n", []string{"t\tx.py"}},
		{"+++ inside a hunk is content", "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n-x\n+++ b/evil.py\n", []string{"a.py"}},
		{"binary", "diff --git a/img.png b/img.png\nnew file mode 100644\nindex 0000000..1b2c3d4\nGIT binary patch\nliteral 5\nMcmZ?wbh9Xd0\n\nliteral 0\nHcmV?d00001\n\n", []string{"img.png"}},
		{"same file twice", "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x\n+y\ndiff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -2 +2 @@\n-x\n+y\n", []string{"a.py"}},
		{"crlf", "diff --git a/a.py b/a.py\r\n--- a/a.py\r\n+++ b/a.py\r\n", []string{"a.py"}},
		{"deleted only", "diff --git a/a.py b/a.py\ndeleted file mode 100644\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PatchFiles(tt.patch); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("PatchFiles = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTestSpec(t *testing.T) {
	goPatch := "diff --git a/internal/router/router_test.go b/internal/router/router_test.go\n--- a/internal/router/router_test.go\n+++ b/internal/router/router_test.go\n" +
		"diff --git a/internal/router/testdata/routes.txt b/internal/router/testdata/routes.txt\n--- a/internal/router/testdata/routes.txt\n+++ b/internal/router/testdata/routes.txt\n" +
		"diff --git a/main_test.go b/main_test.go\n--- a/main_test.go\n+++ b/main_test.go\n" +
		"diff --git a/internal/router/params_test.go b/internal/router/params_test.go\nnew file mode 100644\n--- /dev/null\n+++ b/internal/router/params_test.go\n" +
		"diff --git a/internal/old/old_test.go b/internal/old/old_test.go\ndeleted file mode 100644\n--- a/internal/old/old_test.go\n+++ /dev/null\n"
	pyPatch := "diff --git a/tests/test_widget.py b/tests/test_widget.py\n--- a/tests/test_widget.py\n+++ b/tests/test_widget.py\n" +
		"diff --git a/tests/data/expected output.txt b/tests/data/expected output.txt\n--- a/tests/data/expected output.txt\n+++ b/tests/data/expected output.txt\n" +
		"diff --git a/tests/test it's.py b/tests/test it's.py\n--- a/tests/test it's.py\n+++ b/tests/test it's.py\n" +
		"diff --git a/docs/usage.rst b/docs/usage.rst\n--- a/docs/usage.rst\n+++ b/docs/usage.rst\n"
	meta := func(lang string) json.RawMessage {
		return json.RawMessage(`{"language":"` + lang + `","llm_score":{"difficulty_score":1}}`)
	}

	tests := []struct {
		name string
		task Task
		want Spec
	}{
		{"install_config test_cmd + log_parser: harness directives appended",
			Task{Repo: "octo/widgets", TestPatch: pyPatch, InstallConfig: &InstallConfig{
				TestCmd: "pytest --no-header -rA --tb=line --color=no -p no:cacheprovider -W ignore::DeprecationWarning", LogParser: "parse_log_pytest_v2",
				Install: "pip install -e .", Env: map[string]string{"TZ": "UTC", "DJANGO_SETTINGS": "a b'c"}}},
			Spec{
				Command: `export DJANGO_SETTINGS='a b'\''c' TZ=UTC && pytest --no-header -rA --tb=line --color=no -p no:cacheprovider -W ignore::DeprecationWarning tests/test_widget.py 'tests/test it'\''s.py' docs/usage.rst`,
				Parser:  "parse_log_pytest_v2",
				Tests:   []string{"tests/test_widget.py", "tests/test it's.py", "docs/usage.rst"},
				Install: "pip install -e .",
			}},
		{"install_config test_cmd without log_parser: pytest",
			Task{Repo: "octo/widgets", TestPatch: pyPatch, InstallConfig: &InstallConfig{TestCmd: "pytest -rA"}},
			Spec{Command: `pytest -rA tests/test_widget.py 'tests/test it'\''s.py' docs/usage.rst`, Parser: "pytest",
				Tests: []string{"tests/test_widget.py", "tests/test it's.py", "docs/usage.rst"}}},
		{"install_config go command runs as written",
			Task{Repo: "pactus-project/pactus", TestPatch: goPatch, InstallConfig: &InstallConfig{TestCmd: "go test -v ./...", LogParser: "parse_log_gotest"}},
			Spec{Command: "go test -v ./...", Parser: "parse_log_gotest"}},
		{"install_config test_cmd on a table repo keeps the repo's directives",
			Task{Repo: "django/django", TestPatch: djangoTestPatch, InstallConfig: &InstallConfig{TestCmd: "./tests/runtests.py --verbosity 2"}},
			Spec{Command: "./tests/runtests.py --verbosity 2 migrations.test_commands migrations.test_migrations_conflict.0003_third", Parser: "django",
				Tests: []string{"migrations.test_commands", "migrations.test_migrations_conflict.0003_third"}}},
		{"install_config log_parser alone overrides the table's parser",
			Task{Repo: "sympy/sympy", TestPatch: "diff --git a/sympy/core/tests/test_basic.py b/sympy/core/tests/test_basic.py\n", InstallConfig: &InstallConfig{LogParser: "parse_log_pytest"}},
			Spec{Command: cmdSympy + " sympy/core/tests/test_basic.py", Parser: "parse_log_pytest", Tests: []string{"sympy/core/tests/test_basic.py"}}},
		{"django table",
			Task{Repo: "django/django", TestPatch: djangoTestPatch},
			Spec{Command: cmdDjango + " migrations.test_commands migrations.test_migrations_conflict.0003_third", Parser: "django",
				Tests: []string{"migrations.test_commands", "migrations.test_migrations_conflict.0003_third"}}},
		{"sympy table",
			Task{Repo: "sympy/sympy", TestPatch: "diff --git a/sympy/printing/tests/test_latex.py b/sympy/printing/tests/test_latex.py\n"},
			Spec{Command: `PYTHONWARNINGS='ignore::UserWarning,ignore::SyntaxWarning' bin/test -C --verbose sympy/printing/tests/test_latex.py`, Parser: "sympy",
				Tests: []string{"sympy/printing/tests/test_latex.py"}}},
		{"astropy table",
			Task{Repo: "astropy/astropy", TestPatch: "diff --git a/astropy/io/fits/tests/test_header.py b/astropy/io/fits/tests/test_header.py\n"},
			Spec{Command: cmdAstropy + " astropy/io/fits/tests/test_header.py", Parser: "pytest_v2", Tests: []string{"astropy/io/fits/tests/test_header.py"}}},
		{"table beats meta.language",
			Task{Repo: "pallets/flask", TestPatch: pyPatch, Meta: meta("go")},
			Spec{Command: `pytest -rA tests/test_widget.py 'tests/test it'\''s.py' docs/usage.rst`, Parser: "pytest",
				Tests: []string{"tests/test_widget.py", "tests/test it's.py", "docs/usage.rst"}}},
		{"meta.language go",
			Task{Repo: "octo/router", TestPatch: goPatch, Meta: meta("Go")},
			Spec{Command: "go test -v -count=1 ./internal/router . ", Parser: "gotest", Tests: []string{"./internal/router", "."}}},
		{"meta.language go, no test files",
			Task{Repo: "octo/router", TestPatch: "diff --git a/testdata/x.txt b/testdata/x.txt\n", Meta: meta("go")},
			Spec{Command: "go test -v -count=1 ./...", Parser: "gotest", Tests: []string{"./..."}}},
		{"meta.language python: .py files only",
			Task{Repo: "octo/widgets", TestPatch: pyPatch, Meta: meta("python")},
			Spec{Command: `python3 -m pytest -rA -p no:cacheprovider tests/test_widget.py 'tests/test it'\''s.py'`, Parser: "pytest",
				Tests: []string{"tests/test_widget.py", "tests/test it's.py"}}},
		{"no language: python inferred from the patch",
			Task{Repo: "octo/widgets", TestPatch: pyPatch},
			Spec{Command: `pytest -rA tests/test_widget.py 'tests/test it'\''s.py'`, Parser: "pytest",
				Tests: []string{"tests/test_widget.py", "tests/test it's.py"}}},
		{"no language: go inferred from the patch",
			Task{Repo: "octo/router", TestPatch: goPatch},
			Spec{Command: "go test -v -count=1 ./internal/router .", Parser: "gotest", Tests: []string{"./internal/router", "."}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.Command = strings.TrimSpace(tt.want.Command)
			got, err := TestSpec(tt.task)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
			if _, err := ParseLog(got.Parser, ""); err != nil {
				t.Errorf("parser %q: %v", got.Parser, err)
			}
		})
	}
}

func TestTestSpecErrors(t *testing.T) {
	tests := []struct {
		name, want string
		task       Task
	}{
		{"unknown log_parser", `install_config.log_parser "parse_log_js_4" is not a known parser (known: `,
			Task{InstanceID: "x-1", InstallConfig: &InstallConfig{TestCmd: "npm test", LogParser: "parse_log_js_4"}}},
		{"bad env name", `install_config.env: "A-B" is not a variable name`,
			Task{InstanceID: "x-1", InstallConfig: &InstallConfig{TestCmd: "pytest", Env: map[string]string{"A-B": "1"}}}},
		{"nothing applies", "task x-1: no test command",
			Task{InstanceID: "x-1", Repo: "octo/site", TestPatch: "diff --git a/src/app.test.js b/src/app.test.js\n", Meta: json.RawMessage(`{"language":"js"}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := TestSpec(tt.task)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"tests/test_a.py":           "tests/test_a.py",
		"a.py::T::test[x-1]":        "'a.py::T::test[x-1]'",
		"":                          "''",
		"it's":                      `'it'\''s'`,
		"$(rm -rf /)":               "'$(rm -rf /)'",
		"ignore::UserWarning,x=1.5": "ignore::UserWarning,x=1.5",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
