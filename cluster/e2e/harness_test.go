package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin is the swerl binary every test runs, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "swerl-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "swerl")
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go list -m:", err)
		os.Exit(1)
	}
	build := exec.Command("go", "build", "-o", bin, "./cmd/swerl")
	build.Dir = strings.TrimSpace(string(root))
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building swerl: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// smallRecipe makes `swerl train` a short run that still goes through every phase
// (pretrain probe, evaluations, RFT, RL stages 1 and 2) and so many rollouts.
var smallRecipe = []string{
	"--set", "world.train_tasks=64", "--set", "pretrain.traces=50", "--set", "pretrain.probe_tasks=8",
	"--set", "pretrain.probe_samples=2", "--set", "held_out.tasks=8", "--set", "held_out.samples=2",
	"--set", "rft.tasks=8", "--set", "rft.samples=2", "--set", "stage1.iterations=4",
	"--set", "stage1.tasks_per_iteration=8", "--set", "stage1.group_size=4", "--set", "stage2.iterations=1",
	"--set", "stage2.tasks_per_iteration=4", "--set", "stage2.group_size=4",
}

// freePorts returns n ports free on 127.0.0.1 now.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// proc is one swerl process with its output in files.
type proc struct {
	t        testing.TB
	name     string
	cmd      *exec.Cmd
	out, err string
	done     chan struct{}
	waitErr  error
	mu       sync.Mutex
}

func start(t testing.TB, dir, name string, args ...string) *proc {
	t.Helper()
	return startExe(t, dir, name, bin, args...)
}

// startExe starts any program as a proc (etcd, docker).
func startExe(t testing.TB, dir, name, exe string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, out: filepath.Join(dir, name+".out"), err: filepath.Join(dir, name+".err"), done: make(chan struct{})}
	stdout, err := os.Create(p.out)
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(p.err)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(exe, args...)
	p.cmd.Stdout, p.cmd.Stderr = stdout, stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		stdout.Close()
		stderr.Close()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() || os.Getenv("SWERL_E2E_LOGS") != "" {
			for _, f := range []string{p.out, p.err} {
				b, _ := os.ReadFile(f)
				t.Logf("---- %s (last 3000 bytes)\n%s", filepath.Base(f), tail(string(b), 3000))
			}
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("%s: signal %v: %v", p.name, sig, err)
	}
}

// wait waits for the process to exit and returns its error.
func (p *proc) wait(timeout time.Duration) error {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %v", p.name, timeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// lines returns the lines of the process's stdout ("out") or stderr ("err").
func (p *proc) lines(which string) []string {
	f := p.err
	if which == "out" {
		f = p.out
	}
	b, _ := os.ReadFile(f)
	return strings.Split(string(b), "\n")
}

// count counts the lines of which holding every one of subs.
func (p *proc) count(which string, subs ...string) int {
	n := 0
	for _, l := range p.lines(which) {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			n++
		}
	}
	return n
}

// waitFor polls until cond holds; it fails the test after timeout (generous: CI
// machines are loaded) or when the process exits first.
func (p *proc) waitFor(what string, timeout time.Duration, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: waited %v for %s", p.name, timeout, what)
		}
		if p.exited() && !cond() {
			p.t.Fatalf("%s exited while waiting for %s", p.name, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logTime is the time of the first stderr line holding every one of subs (hclog's
// 15:04:05.000 on today's date), and whether there is one.
func (p *proc) logTime(subs ...string) (time.Time, bool) {
	for _, l := range p.lines("err") {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if !ok || len(l) < 12 {
			continue
		}
		c, err := time.ParseInLocation("15:04:05.000", l[:12], time.Local)
		if err != nil {
			continue
		}
		now := time.Now()
		return time.Date(now.Year(), now.Month(), now.Day(), c.Hour(), c.Minute(), c.Second(), c.Nanosecond(), time.Local), true
	}
	return time.Time{}, false
}

// cluster is one test's cluster on 127.0.0.1: member i listens on remote[i] and
// serves membership on manage[i]; member 0 is the head.
type cluster struct {
	t              testing.TB
	name, dir      string
	remote, manage []int
	lease          time.Duration
}

func newCluster(t testing.TB, members int, lease time.Duration) *cluster {
	ports := freePorts(t, 2*members)
	return &cluster{t: t, name: fmt.Sprintf("e2e-%d", time.Now().UnixNano()), dir: t.TempDir(),
		remote: ports[:members], manage: ports[members:], lease: lease}
}

func (c *cluster) peers() string {
	var ps []string
	for _, p := range c.manage {
		ps = append(ps, "127.0.0.1:"+strconv.Itoa(p))
	}
	return strings.Join(ps, ",")
}

func (c *cluster) args(i int) []string {
	return []string{"--cluster", c.name, "--peers", c.peers(), "--manage-port", strconv.Itoa(c.manage[i]),
		"--listen", "127.0.0.1:" + strconv.Itoa(c.remote[i]), "--lease", c.lease.String()}
}

func (c *cluster) worker(i int, extra ...string) *proc {
	return c.workerNamed(i, fmt.Sprintf("worker%d", i), extra...)
}

// workerNamed starts member i as a worker whose output files are named name (a
// worker started again at the same address).
func (c *cluster) workerNamed(i int, name string, extra ...string) *proc {
	args := append([]string{"node"}, c.args(i)...)
	args = append(args, "--log-level", "debug", "--slots", "4", "--sandbox-latency", "40ms")
	return start(c.t, c.dir, name, append(args, extra...)...)
}

func (c *cluster) head(out string, extra ...string) *proc {
	args := append([]string{"train"}, c.args(0)...)
	args = append(args, "--out", out)
	args = append(args, smallRecipe...)
	return start(c.t, c.dir, "head", append(args, extra...)...)
}

// metricsLine is what the tests read of metrics.jsonl.
type metricsLine struct {
	Stage      string `json:"stage"`
	Kind       string `json:"kind"`
	Episodes   int    `json:"episodes"`
	Records    int    `json:"records"`
	Duplicates int    `json:"duplicates"`
	Abandoned  int    `json:"abandoned"`
}

// checkRecords asserts one record per requested episode at every RL barrier, none
// doubled, and returns the iteration lines.
func checkRecords(t testing.TB, out string) []metricsLine {
	t.Helper()
	f, err := os.Open(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var its []metricsLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l metricsLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("metrics.jsonl: %v", err)
		}
		if l.Kind != "iteration" {
			continue
		}
		its = append(its, l)
		if l.Records != l.Episodes || l.Duplicates != 0 {
			t.Errorf("%s iteration: %d records for %d episodes, %d duplicates: want one record per episode, none doubled",
				l.Stage, l.Records, l.Episodes, l.Duplicates)
		}
	}
	if len(its) == 0 {
		t.Fatal("metrics.jsonl has no iteration line")
	}
	return its
}

var summaryRE = regexp.MustCompile(`cluster summary: placed=(\d+) node_lost=(\d+) late_dropped=(\d+) gave_up=(\d+) workers_lost=(\d+) last_replaced=(\S+)`)

type summary struct {
	placed, nodeLost, late, gaveUp, workersLost int
	lastReplaced                                time.Duration
}

func headSummary(t testing.TB, head *proc) summary {
	t.Helper()
	for _, l := range head.lines("err") {
		if m := summaryRE.FindStringSubmatch(l); m != nil {
			var s summary
			s.placed, _ = strconv.Atoi(m[1])
			s.nodeLost, _ = strconv.Atoi(m[2])
			s.late, _ = strconv.Atoi(m[3])
			s.gaveUp, _ = strconv.Atoi(m[4])
			s.workersLost, _ = strconv.Atoi(m[5])
			s.lastReplaced, _ = time.ParseDuration(m[6])
			return s
		}
	}
	t.Fatal("the head logged no cluster summary")
	return summary{}
}

var stoppedRE = regexp.MustCompile(`worker stopped: (\d+) episodes started, (\d+) recorded, (\d+) stopped when cut off from the head, (\d+) cancelled by it; (\d+) sandboxes open`)

// stopWorker stops a worker with SIGTERM and checks that it left no sandbox open; it
// returns how many episodes it started.
func stopWorker(t testing.TB, w *proc) (started, cutOff int) {
	t.Helper()
	w.signal(syscall.SIGTERM)
	if err := w.wait(60 * time.Second); err != nil {
		t.Errorf("%s: %v", w.name, err)
	}
	for _, l := range w.lines("out") {
		if m := stoppedRE.FindStringSubmatch(l); m != nil {
			started, _ = strconv.Atoi(m[1])
			cutOff, _ = strconv.Atoi(m[3])
			if m[5] != "0" {
				t.Errorf("%s: %s sandboxes left open", w.name, m[5])
			}
			return started, cutOff
		}
	}
	t.Fatalf("%s printed no stop line", w.name)
	return 0, 0
}

func itoa(i int) string { return strconv.Itoa(i) }
