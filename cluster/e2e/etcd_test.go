package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestEtcdProvider runs the cluster with its membership in a real etcd (Debian's
// etcd-server; .ci/run installs it and sets SWERL_REQUIRE_ETCD=1, which turns the skip
// for a missing etcd into a failure): workers join through etcd and get the head's
// episodes, and one killed mid-run is detected and its episodes placed again.
func TestEtcdProvider(t *testing.T) {
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		if os.Getenv("SWERL_REQUIRE_ETCD") != "" {
			t.Fatal("etcd is not installed and SWERL_REQUIRE_ETCD is set: apt-get install etcd-server")
		}
		t.Skip("etcd is not installed (apt-get install etcd-server); set SWERL_REQUIRE_ETCD=1 to fail instead")
	}
	dir := t.TempDir()
	ports := freePorts(t, 5)
	client := "127.0.0.1:" + strconv.Itoa(ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	etcd := startExe(t, dir, "etcd", etcdBin, "--name", "e2e", "--data-dir", filepath.Join(dir, "etcd-data"),
		"--listen-client-urls", "http://"+client, "--advertise-client-urls", "http://"+client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "e2e="+peer)
	dialable(t, client, startWait)

	name := fmt.Sprintf("etcd-e2e-%d", time.Now().UnixNano())
	member := func(i int) []string {
		return []string{"--cluster", name, "--provider", "etcd", "--etcd", client,
			"--listen", "127.0.0.1:" + strconv.Itoa(ports[2+i]), "--lease", lease.String()}
	}
	w1 := start(t, dir, "worker1", append(append([]string{"node"}, member(1)...), "--log-level", "debug", "--slots", "4", "--sandbox-latency", "40ms")...)
	w2 := start(t, dir, "worker2", append(append([]string{"node"}, member(2)...), "--log-level", "debug", "--slots", "4", "--sandbox-latency", "40ms")...)
	out := filepath.Join(dir, "run")
	head := start(t, dir, "head", append(append(append([]string{"train"}, member(0)...), "--out", out), smallRecipe...)...)
	waitEpisodesOn(head, w1, 2)
	killed := time.Now()
	w1.signal(syscall.SIGKILL)
	if err := head.wait(runWait); err != nil {
		t.Fatalf("head: %v", err)
	}
	checkRecords(t, out)
	s := headSummary(t, head)
	if s.nodeLost == 0 {
		t.Errorf("summary %+v: want the killed worker's episodes counted as node_lost", s)
	}
	if at, ok := head.logTime("worker lost"); ok {
		t.Logf("etcd provider: loss detected %v after SIGKILL; summary %+v", at.Sub(killed).Round(time.Millisecond), s)
	}
	if started, _ := stopWorker(t, w2); started == 0 {
		t.Error("the surviving worker ran no episode")
	}
	etcd.signal(syscall.SIGTERM)
	_ = etcd.wait(30 * time.Second)
}

// dialable waits until addr accepts TCP connections.
func dialable(t *testing.T, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not accept connections within %v: %v", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
