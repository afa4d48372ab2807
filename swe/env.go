package swe

import (
	"maps"
	"slices"
	"strings"

	"github.com/swerl/swerl/sandbox"
)

// The per-repository environments, like the SWE-bench harness's per-repo/version
// specifications (harness/constants), met with what Debian bookworm ships: python3
// 3.11 and the python3-* packages. The harness builds a conda env per repository
// and version with pinned PyPI packages; swerl works offline, so each entry says
// what it cannot meet (Offline), and a task whose runner cannot start with what is
// here comes back as an infrastructure failure naming the log, never as reward 0.
//
// Every entry links `python` to the sandbox's python3: the repositories' scripts
// (sympy's bin/test, Django's tests/runtests.py) start with
// `#!/usr/bin/env python`, and Debian ships no `python` command. Entries run by
// pytest link `pytest` to `python3 -m pytest`, so the runner is the interpreter
// the local backend picked (the one that imports PythonModules).
var repoEnvs = map[string]sandbox.Env{
	"sympy/sympy": {
		Packages:      []string{"python3-mpmath"},
		PythonModules: []string{"mpmath"},
		Offline:       "the harness pins mpmath 1.3.0; bookworm ships 1.2.1 (the 1.4-1.13 test suites pass with it)",
	},
	"django/django": {
		Packages:      []string{"python3-asgiref", "python3-sqlparse", "python3-tz"},
		PythonModules: []string{"sqlparse"},
		Offline:       "versions before 3.0 want Python 3.5-3.6 and older sqlparse; optional test deps (Pillow, bcrypt, docutils, selenium, memcached) are not installed",
	},
	"astropy/astropy": {
		Packages:      []string{"python3-numpy", "python3-erfa", "python3-yaml", "python3-packaging", "python3-hypothesis", "python3-pytest-astropy"},
		PythonModules: []string{"pytest", "numpy"},
		Offline:       "its C extensions must be built in place (pip install -e .[test], needs extension-helpers and setuptools_scm from PyPI); versions 4.x-5.x want numpy < 1.25 (bookworm has 1.24)",
	},
	"scikit-learn/scikit-learn": {
		Packages:      []string{"python3-numpy", "python3-scipy", "python3-joblib", "python3-threadpoolctl"},
		PythonModules: []string{"pytest", "numpy", "scipy"},
		Offline:       "its Cython extensions must be built in place (pip install -e ., needs Cython and a compiler); old versions want numpy 1.19 and scipy 1.5",
	},
	"sphinx-doc/sphinx": {
		Packages:      []string{"tox", "python3-docutils", "python3-jinja2", "python3-pygments", "python3-babel", "python3-alabaster", "python3-imagesize", "python3-requests", "python3-snowballstemmer", "python3-packaging", "python3-html5lib"},
		PythonModules: []string{"pytest", "docutils", "jinja2"},
		Offline:       "the harness runs `tox --current-env`, and the tox-current-env plugin is not in Debian; old versions want Jinja2 < 3.0 and docutils < 0.18",
	},
	"matplotlib/matplotlib": {
		Packages:      []string{"python3-numpy", "python3-cycler", "python3-kiwisolver", "python3-pyparsing", "python3-dateutil", "python3-pil", "python3-fonttools", "python3-packaging"},
		PythonModules: []string{"pytest", "numpy"},
		Offline:       "its C++ extensions must be built in place (pip install -e ., pinned FreeType for image comparisons); image tests compare against baselines made with that FreeType",
	},
	"mwaskom/seaborn": {
		Packages:      []string{"python3-numpy", "python3-pandas", "python3-matplotlib", "python3-scipy"},
		PythonModules: []string{"pytest", "numpy", "pandas", "matplotlib"},
		Offline:       "the harness pins pandas 1.x and matplotlib 3.x versions per release; bookworm has pandas 1.5.3 and matplotlib 3.6.3",
	},
	"psf/requests": {
		Packages:      []string{"python3-urllib3", "python3-idna", "python3-chardet", "python3-certifi", "python3-pytest-httpbin", "python3-pytest-mock", "python3-socks"},
		PythonModules: []string{"pytest", "urllib3"},
		Offline:       "tests that reach the internet (httpbin.org and others) fail without a network; old versions want urllib3 < 1.25",
	},
	"pylint-dev/pylint": {
		Packages:      []string{"python3-astroid", "python3-isort", "python3-mccabe", "python3-tomlkit", "python3-platformdirs", "python3-dill", "python3-typing-extensions"},
		PythonModules: []string{"pytest", "astroid"},
		Offline:       "each pylint version pins an astroid version; bookworm's python3-astroid (2.14) matches only pylint 2.16",
	},
	"pydicom/pydicom": {
		Packages:      []string{"python3-numpy"},
		PythonModules: []string{"pytest"},
		Offline:       "optional image handlers (pylibjpeg, gdcm) are not installed; tests that need them skip",
	},
	"pytest-dev/pytest": {
		Packages:      []string{"python3-attr", "python3-iniconfig", "python3-pluggy", "python3-py", "python3-packaging", "python3-hypothesis", "python3-xmlschema", "python3-setuptools-scm"},
		PythonModules: []string{"pytest"},
		Offline:       "the repository must be installed over Debian's pytest (pip install -e ., setuptools_scm writes src/_pytest/_version.py); old versions want pluggy < 1.0",
	},
	"pallets/flask": {
		Packages:      []string{"python3-werkzeug", "python3-jinja2", "python3-itsdangerous", "python3-click", "python3-blinker"},
		PythonModules: []string{"pytest", "werkzeug"},
		Offline:       "each flask version pins a Werkzeug version; bookworm has Werkzeug 2.2",
	},
	"pydata/xarray": {
		Packages:      []string{"python3-numpy", "python3-pandas", "python3-packaging", "python3-scipy"},
		PythonModules: []string{"pytest", "numpy", "pandas"},
		Offline:       "optional backends (netCDF4, dask, zarr) are partly missing; the harness pins numpy/pandas per version",
	},
	"pylint-dev/astroid": {
		Packages:      []string{"python3-lazy-object-proxy", "python3-wrapt", "python3-typing-extensions"},
		PythonModules: []string{"pytest", "wrapt"},
		Offline:       "old versions want wrapt < 1.13 and Python < 3.10",
	},
	"marshmallow-code/marshmallow": {
		Packages:      []string{"python3-dateutil", "python3-simplejson", "python3-tz"},
		PythonModules: []string{"pytest"},
		Offline:       "none known: its tests need only pure-Python packages Debian ships",
	},
	"pvlib/pvlib-python": {
		Packages:      []string{"python3-numpy", "python3-pandas", "python3-scipy", "python3-requests", "python3-h5py"},
		PythonModules: []string{"pytest", "numpy", "pandas"},
		Offline:       "tests marked remote_data need the network; optional deps (numba, pvfactors) are not installed",
	},
	"pyvista/pyvista": {
		Packages:      []string{"python3-vtk9", "python3-numpy", "python3-pil", "python3-imageio", "python3-matplotlib"},
		PythonModules: []string{"pytest", "numpy"},
		Offline:       "scooby is not in Debian; plotting tests need an X server or OSMesa (not set up); the harness pins a vtk version per release",
	},
	"sqlfluff/sqlfluff": {
		Packages:      []string{"python3-click", "python3-colorama", "python3-jinja2", "python3-yaml", "python3-regex", "python3-tblib", "python3-pathspec", "python3-chardet", "python3-appdirs", "python3-tqdm", "python3-typing-extensions"},
		PythonModules: []string{"pytest", "jinja2"},
		Offline:       "diff-cover is not in Debian; the repository must be installed (pip install -e .) for its plugin entry points",
	},
}

// pythonLinks are every Python entry's links.
var pythonLinks = map[string]string{"python": "python3", "pytest": "python3 -m pytest"}

// defaultPythonEnv is the environment of a Python task whose repository has no
// entry: python3 must import pytest.
var defaultPythonEnv = sandbox.Env{Name: "python", PythonModules: []string{"pytest"}}

// EnvFor returns the environment task's repository needs: its entry in the
// per-repository table, else, for a task whose tests are Python, python3 with
// pytest, else nothing. (install_config.env is not here: the test command exports
// it, see TestSpec.) The Env returned is the caller's.
func EnvFor(task Task) sandbox.Env {
	env, ok := repoEnvs[task.Repo]
	switch {
	case ok:
		env.Name = task.Repo
		env.Links = pythonLinks
	case isPythonTask(task):
		env = defaultPythonEnv
	default:
		env = sandbox.Env{}
	}
	env.Packages = slices.Clone(env.Packages)
	env.PythonModules = slices.Clone(env.PythonModules)
	env.Links = maps.Clone(env.Links)
	env.Vars = nil
	return env
}

// RepoEnvNames lists the repositories with an entry, sorted.
func RepoEnvNames() []string { return slices.Sorted(maps.Keys(repoEnvs)) }

// isPythonTask reports whether the task's tests run under Python: by its test
// command's parser, or by what its test patch touches.
func isPythonTask(task Task) bool {
	spec, err := TestSpec(task)
	if err != nil {
		return slices.ContainsFunc(PatchFiles(task.TestPatch), func(f string) bool { return strings.HasSuffix(f, ".py") })
	}
	return !goParserNames[spec.Parser]
}
