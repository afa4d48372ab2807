package swe

import "encoding/json"

// Task is one SWE-bench / SWE-rebench instance, with the public dumps' field names.
type Task struct {
	InstanceID             string   `json:"instance_id"`
	Repo                   string   `json:"repo"`
	BaseCommit             string   `json:"base_commit"`
	Patch                  string   `json:"patch"`      // gold patch (never shown to the agent)
	TestPatch              string   `json:"test_patch"` // applied by the grader over the agent's diff
	ProblemStatement       string   `json:"problem_statement"`
	HintsText              string   `json:"hints_text"`
	Version                string   `json:"version"`
	FailToPass             TestList `json:"FAIL_TO_PASS"`
	PassToPass             TestList `json:"PASS_TO_PASS"`
	EnvironmentSetupCommit string   `json:"environment_setup_commit"`
	CreatedAt              string   `json:"created_at"`

	// SWE-rebench additions.
	DockerImage   string          `json:"docker_image,omitempty"`
	InstallConfig *InstallConfig  `json:"install_config,omitempty"`
	Meta          json.RawMessage `json:"meta,omitempty"`
}

// TestList is a list of test ids. In the public dumps it is either a JSON list or a
// JSON-encoded string holding one; both decode.
type TestList []string

// InstallConfig is SWE-rebench's per-task environment description. swerl decodes
// TestCmd, LogParser, Install, PreInstall, EvalCommands and Env; the other keys
// (python, packages, pip_packages, reqs_path, ...) are kept in Extra. The grader
// runs them as the SWE-bench harness's eval script does (make_eval_script_list):
// EvalCommands, then Install, then the test files reset and the test patch
// applied, then the tests with Env exported. PreInstall belongs to building an
// environment (the harness runs it when it builds the image); grading does not run
// it, and a task image already has it done.
type InstallConfig struct {
	TestCmd    string `json:"test_cmd,omitempty"`
	LogParser  string `json:"log_parser,omitempty"`
	Install    string `json:"install,omitempty"`
	PreInstall string `json:"pre_install,omitempty"` // install_config.pre_install, a list joined with " && "
	// EvalCommands is install_config.eval_commands, a list joined with newlines:
	// the harness runs each as a line of its eval script, a failing one not
	// stopping the rest.
	EvalCommands string                     `json:"eval_commands,omitempty"`
	Env          map[string]string          `json:"env,omitempty"`
	Extra        map[string]json.RawMessage `json:"-"`
}
