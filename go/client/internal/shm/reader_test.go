package shm

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The Reader reads what ReadMessage reads, descriptors included, and on a
// listening socket's connection (where net's ReadMsgUnix allocates the
// peer's address on every recvmsg) allocates nothing per message.
func TestReaderMatchesReadMessage(t *testing.T) {
	checkLeaks(t)
	c, s := newListenerPair(t)
	rd, err := NewReader(c)
	if err != nil {
		t.Fatal(err)
	}
	want := inline(7, 300)
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := s.Write(want); err != nil {
			t.Fatal(err)
		}
		msg, fds, n, err := rd.ReadMessage(buf, 0)
		if err != nil || len(fds) != 0 || n != len(want) || !bytes.Equal(msg, want) {
			t.Fatalf("got %d bytes, %d fds, n %d, %v", len(msg), len(fds), n, err)
		}
	})
	if allocs > 0 {
		t.Errorf("%.1f allocations per message through the Reader, want 0", allocs)
	}

	// A descriptor with the first byte is returned, as by ReadMessage.
	mfd := sealedMemfd(t, pattern(64))
	if _, _, err := s.WriteMsgUnix(want[:1], unix.UnixRights(mfd), nil); err != nil {
		t.Fatal(err)
	}
	unix.Close(mfd)
	if _, err := s.Write(want[1:]); err != nil {
		t.Fatal(err)
	}
	msg, fds, _, err := rd.ReadMessage(buf, 0)
	if err != nil || len(fds) != 1 || !bytes.Equal(msg, want) {
		t.Fatalf("got %d bytes, %d fds, %v", len(msg), len(fds), err)
	}
	CloseFDs(fds)

	// The connection's read deadline applies; n counts what arrived.
	if _, err := s.Write(want[:10]); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, _, n, err := rd.ReadMessage(buf, 0)
	var ne interface{ Timeout() bool }
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() || n != 10 {
		t.Fatalf("want a timeout after 10 bytes, got n %d, %v", n, err)
	}
}
