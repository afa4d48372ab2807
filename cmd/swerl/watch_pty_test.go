//go:build linux

package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// openPTY opens a pseudo-terminal: the master (what a terminal emulator reads) and
// the slave (what a program writes to as its stderr).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		m.Close()
		t.Skipf("TIOCGPTN: %v", e)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		m.Close()
		t.Skipf("TIOCSPTLCK: %v", e)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open the pty's slave: %v", err)
	}
	return m, s
}

// TestTrainDrawsALiveLineOnATerminal: with stderr a terminal, `swerl train` draws one
// live line per phase (redrawn in place, ended with a newline), while its plain
// lines go to stdout (here a file: no escapes in it).
func TestTrainDrawsALiveLineOnATerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small recipe")
	}
	master, slave := openPTY(t)
	defer master.Close()
	screen := make(chan string)
	go func() { // a pty holds a few KiB: read while the command writes
		b, _ := io.ReadAll(master) // ends with EIO once the slave is closed
		screen <- string(b)
	}()
	var stdout bytes.Buffer
	err := run(context.Background(), smallTrainArgs(t.TempDir()), &stdout, slave)
	slave.Close()
	got := <-screen
	if err != nil {
		t.Fatalf("train: %v\nterminal:\n%q", err, got)
	}
	for _, stage := range []string{"pretrain_probe", "eval", "rft_collect", "stage1", "stage2"} {
		if !strings.Contains(got, "\r["+stage+"] episodes 0/") {
			t.Errorf("no live line of %s drawn in place:\n%q", stage, got)
		}
		if !strings.Contains(got, "\r\x1b[K["+stage+"] episodes ") || !strings.Contains(got, "done in") {
			t.Errorf("no final line of %s:\n%q", stage, got)
		}
	}
	if !strings.Contains(got, "\x1b[K") {
		t.Errorf("the line is never cleared to its end:\n%q", got)
	}
	if strings.Contains(stdout.String(), "\x1b") || !strings.Contains(stdout.String(), "held-out") {
		t.Errorf("stdout (a file) got escapes or lost its lines:\n%q", stdout.String())
	}
}
