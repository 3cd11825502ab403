package main

import (
	"os/exec"
	"reflect"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestPlacements(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"same,split", []string{"same", "split"}, true},
		{"free", []string{"free"}, true},
		{" split , same ", []string{"split", "same"}, true},
		{"same,same", nil, false},
		{"both", nil, false},
		{"", nil, false},
	} {
		got, err := parsePlacements(tt.in)
		if (err == nil) != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parsePlacements(%q) = %v, %v", tt.in, got, err)
		}
	}
	two := []int{0, 1}
	if p, err := planFor("same", two); err != nil || !reflect.DeepEqual(p.client, []int{0}) || !reflect.DeepEqual(p.server, []int{0}) {
		t.Errorf("same: %+v %v", p, err)
	}
	if p, err := planFor("split", []int{2, 5, 7}); err != nil || !reflect.DeepEqual(p.client, []int{2}) || !reflect.DeepEqual(p.server, []int{5}) {
		t.Errorf("split: %+v %v", p, err)
	}
	if p, err := planFor("free", two); err != nil || p.client != nil || p.server != nil {
		t.Errorf("free: %+v %v", p, err)
	}
	if _, err := planFor("split", []int{0}); err == nil {
		t.Error("split on one CPU: no error")
	}
}

// pinTree on a real child process and its own child: every thread and the
// grandchild get the mask.
func TestPinTree(t *testing.T) {
	allowed, err := allowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	// sh forks sleep and waits: a process with a child.
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var kids []int
	for i := 0; i < 500 && len(kids) == 0; i++ {
		kids = childrenOf(cmd.Process.Pid, cmd.Process.Pid)
		time.Sleep(10 * time.Millisecond)
	}
	if len(kids) == 0 {
		t.Fatal("sh started no child within 5 s")
	}
	defer func() { _ = syscall.Kill(kids[0], syscall.SIGKILL) }()
	want := allowed[len(allowed)-1]
	if err := pinTree(cmd.Process.Pid, []int{want}, true); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{cmd.Process.Pid, kids[0]} {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(pid, &set); err != nil {
			t.Fatal(err)
		}
		if set.Count() != 1 || !set.IsSet(want) {
			t.Errorf("pid %d: affinity %v, want only CPU %d", pid, set, want)
		}
	}
	// Without children: the child keeps its mask.
	if err := pinTree(cmd.Process.Pid, allowed, false); err != nil {
		t.Fatal(err)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(kids[0], &set); err != nil {
		t.Fatal(err)
	}
	if set.Count() != 1 {
		t.Errorf("child re-pinned without children: %v", set)
	}
}
