package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// CPU placement of the sequential workloads (--cpus).
//
// A sequential request/reply between two blocking processes is mostly
// wake-up latency. When the scheduler puts client and server on different
// vCPUs, every request pays a cross-CPU wake-up (an IPI, on these VMs
// ~20 µs, and only sometimes: it depends on where each process last ran);
// the Go clients, whose runtime keeps a thread spinning for a moment,
// mostly do not. Left to the scheduler ("free") the C floor is then
// sometimes slower than the contestants it is the floor of. So:
//
//	same   client and every server on one CPU: the cost of the work itself,
//	       no cross-CPU wake-up (the placement of the targets)
//	split  client on one CPU, every server on the other: what a user with an
//	       idle second core sees, every request crossing CPUs
//	free   no affinity: the scheduler's choice (the bench before placement)
//
// The bench pins itself (every thread of the process, so the Go clients
// and the floor_client processes it starts, which inherit the mask of the
// forking thread) and every server process (all its threads and children,
// re-pinned before each phase; threads created later inherit the mask).
// While pinned to one CPU the bench runs with GOMAXPROCS 1, so that no
// second P spins on the CPU the client shares with the server.
const (
	cpusSame  = "same"
	cpusSplit = "split"
	cpusFree  = "free"
)

// parsePlacements parses --cpus: a comma-separated list of same, split,
// free, without repetitions.
func parsePlacements(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		switch p {
		case cpusSame, cpusSplit, cpusFree:
		default:
			return nil, fmt.Errorf("bad --cpus %q: want a comma-separated list of same, split, free", s)
		}
		if seen[p] {
			return nil, fmt.Errorf("bad --cpus %q: %s given twice", s, p)
		}
		seen[p] = true
		out = append(out, p)
	}
	return out, nil
}

// cpuPlan is where the client side and the servers run in one placement;
// nil means every allowed CPU.
type cpuPlan struct {
	name   string
	client []int
	server []int
}

// planFor maps a placement onto the CPUs the bench may use: the first
// allowed CPU for the client, the same or the second one for the servers.
func planFor(name string, allowed []int) (cpuPlan, error) {
	switch name {
	case cpusFree:
		return cpuPlan{name: name}, nil
	case cpusSame:
		if len(allowed) < 1 {
			return cpuPlan{}, errors.New("no CPU allowed")
		}
		return cpuPlan{name: name, client: allowed[:1], server: allowed[:1]}, nil
	case cpusSplit:
		if len(allowed) < 2 {
			return cpuPlan{}, fmt.Errorf("--cpus=split needs two CPUs, the bench may use %v", allowed)
		}
		return cpuPlan{name: name, client: allowed[:1], server: allowed[1:2]}, nil
	}
	return cpuPlan{}, fmt.Errorf("unknown placement %q", name)
}

// describe is the placement for the table header.
func (p cpuPlan) describe() string {
	switch p.name {
	case cpusSame:
		return fmt.Sprintf("same = client and every server on CPU %d", p.client[0])
	case cpusSplit:
		return fmt.Sprintf("split = client on CPU %d, every server (threads, children) on CPU %d", p.client[0], p.server[0])
	}
	return "free = no affinity, the scheduler's choice"
}

// allowedCPUs is the affinity mask the bench was started with.
func allowedCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, err
	}
	var cpus []int
	for i := 0; i < len(set)*64; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	if len(cpus) == 0 {
		return nil, errors.New("empty affinity mask")
	}
	return cpus, nil
}

func cpuSet(cpus []int) *unix.CPUSet {
	var set unix.CPUSet
	set.Zero()
	for _, c := range cpus {
		set.Set(c)
	}
	return &set
}

// pinTree sets the affinity of every thread of pid and, with children,
// recursively of its child processes (/proc/PID/task/TID/children). Threads and processes that
// exit meanwhile are skipped. The task list is read again until a pass
// finds no thread it had not pinned yet, so a thread created during the
// first pass (by a thread not pinned yet) is caught too.
func pinTree(pid int, cpus []int, children bool) error {
	set := cpuSet(cpus)
	done := map[int]bool{}
	for pass := 0; pass < 10; pass++ {
		tids, err := listInts(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			if pass == 0 {
				return fmt.Errorf("pid %d: %v", pid, err)
			}
			return nil // exited
		}
		fresh := false
		for _, tid := range tids {
			if done[tid] {
				continue
			}
			fresh = true
			done[tid] = true
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != syscall.ESRCH {
				return fmt.Errorf("sched_setaffinity(%d): %v", tid, err)
			}
			if !children {
				continue
			}
			for _, child := range childrenOf(pid, tid) {
				if err := pinTree(child, cpus, true); err != nil {
					if _, serr := os.Stat(fmt.Sprintf("/proc/%d", child)); serr == nil {
						return err
					}
				}
			}
		}
		if !fresh {
			return nil
		}
	}
	return nil
}

func listInts(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

func childrenOf(pid, tid int) []int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", strconv.Itoa(tid), "children"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// placer applies placements to the bench process and the servers.
type placer struct {
	allowed    []int
	maxProcs   int // GOMAXPROCS at start
	current    string
	serverPIDs func() []int
}

// apply pins the bench and every server for plan p (free: every allowed
// CPU) and sets GOMAXPROCS to the number of CPUs the client side has.
func (pl *placer) apply(p cpuPlan) error {
	client, server := p.client, p.server
	if client == nil {
		client = pl.allowed
	}
	if server == nil {
		server = pl.allowed
	}
	for _, pid := range pl.serverPIDs() {
		if err := pinTree(pid, server, true); err != nil {
			return fmt.Errorf("placement %s: server: %v", p.name, err)
		}
	}
	// Not its children: those are the servers.
	if err := pinTree(os.Getpid(), client, false); err != nil {
		return fmt.Errorf("placement %s: bench: %v", p.name, err)
	}
	procs := len(client)
	if procs > pl.maxProcs {
		procs = pl.maxProcs
	}
	runtime.GOMAXPROCS(procs)
	pl.current = p.name
	return nil
}
