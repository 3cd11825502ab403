package shm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/weave-app/weave/go/protocol"
	"golang.org/x/sys/unix"
)

// inline builds a message of type 0x0002 with a payload of n bytes whose
// first 8 bytes are id.
func inline(id uint64, n int) []byte {
	msg := append(header(0x0002, uint32(n)), pattern(n)...)
	if n >= 8 {
		binary.BigEndian.PutUint64(msg[16:], id)
	}
	return msg
}

func TestReadInlineReusesBuffer(t *testing.T) {
	checkLeaks(t)
	conn, p := newPair(t)
	buf := make([]byte, 0, 4096)
	for i := 0; i < 3; i++ {
		want := inline(uint64(i+1), 100+i)
		p.send(want)
		msg, fds := receive(t, conn, buf)
		if !bytes.Equal(msg, want) || len(fds) != 0 {
			t.Fatalf("got %x, %v; want %x and no descriptors", msg, fds, want)
		}
		if &msg[:1][0] != &buf[:1][0] {
			t.Fatal("message was not read into the caller's buffer")
		}
	}
}

func TestReadAllocatesExactSizeWhenBufferTooSmall(t *testing.T) {
	checkLeaks(t)
	conn, p := newPair(t)
	want := inline(1, 1000)
	p.send(want)
	small := make([]byte, 16, 64)
	msg, _ := receive(t, conn, small)
	if !bytes.Equal(msg, want) || cap(msg) != len(want) {
		t.Fatalf("got %d bytes (cap %d), want %d", len(msg), cap(msg), len(want))
	}
	p.send(want)
	msg, _ = receive(t, conn, nil)
	if !bytes.Equal(msg, want) {
		t.Fatal("nil buffer: wrong message")
	}
}

// TestReadLargestInline reads a 10 MiB message (the cap) into a reused
// buffer and checks that doing so allocates nothing near the message size:
// the payload goes from the socket straight into the caller's buffer.
func TestReadLargestInline(t *testing.T) {
	checkLeaks(t)
	conn, p := newPair(t)
	want := inline(77, protocol.MaxPayloadSize)
	if len(want) != protocol.MaxMessageSize {
		t.Fatalf("test message is %d bytes", len(want))
	}
	buf := make([]byte, protocol.MaxMessageSize)
	for round := 0; round < 2; round++ {
		done := make(chan error, 1)
		go func() { done <- p.writeAll(want) }()
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		msg, fds, err := ReadMessage(conn, buf, 0)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("ReadMessage: %v", err)
		}
		if werr := <-done; werr != nil {
			t.Fatalf("peer write: %v", werr)
		}
		if len(fds) != 0 || !bytes.Equal(msg, want) || &msg[0] != &buf[0] {
			t.Fatal("wrong message, descriptors, or not in the caller's buffer")
		}
		// The writer goroutine and net's per-recvmsg bookkeeping allocate a
		// little; a copy of the message would be 10 MiB.
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Fatalf("reading a %d-byte message allocated %d bytes", len(want), n)
		}
	}
}

// TestReadAllocations reports what a loop of small inline reads allocates
// with a reused buffer: no message buffers, only what net's ReadMsgUnix
// allocates per recvmsg call (the sender's address). On a socketpair, whose
// peer has no address, that is nothing.
func TestReadAllocations(t *testing.T) {
	checkLeaks(t)
	conn, p := newPair(t)
	want := inline(1, 200)
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		p.send(want)
		if _, _, err := ReadMessage(conn, buf, 0); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("socketpair: %.1f allocations per message (the send included)", allocs)
	if allocs > 0 {
		t.Errorf("%.1f allocations per small inline message, want 0", allocs)
	}

	c, s := newListenerPair(t)
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := s.Write(want); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ReadMessage(c, buf, 0); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("listener socket: %.1f allocations per message (2 recvmsg calls; the send included)", allocs)
}

// TestReadStopsAtMessageEnd: two messages back to back, the descriptor sent
// with the second. Reading the first must neither consume bytes of the
// second nor take its descriptor.
func TestReadStopsAtMessageEnd(t *testing.T) {
	checkLeaks(t)
	conn, p := newPair(t)
	first := inline(1, 40)
	second := shmReply(2, 8, 8, 3)
	mfd := sealedMemfd(t, pattern(8*8*3))
	p.send(first)
	p.send(second, mfd)
	unix.Close(mfd)
	msg, fds := receive(t, conn, nil)
	if !bytes.Equal(msg, first) || len(fds) != 0 {
		t.Fatalf("first: %x with %d descriptors", msg, len(fds))
	}
	msg, fds = receive(t, conn, nil)
	if !bytes.Equal(msg, second) || len(fds) != 1 {
		t.Fatalf("second: %x with %d descriptors", msg, len(fds))
	}
	img, err := Accept(fds, imageSize(t, msg))
	if err != nil {
		t.Fatal(err)
	}
	img.Close()
}

// TestReadStrayDescriptorsOnInline: descriptors on an inline reply are
// returned for the caller to close (SPEC 11.4: closed unread).
func TestReadStrayDescriptorsOnInline(t *testing.T) {
	checkLeaks(t)
	conn, p := newPair(t)
	pp := pipeFDs(t)
	p.send(inline(1, 50), pp...)
	CloseFDs(pp)
	msg, fds := receive(t, conn, nil)
	if len(msg) != 66 || len(fds) != 2 {
		t.Fatalf("%d bytes, %d descriptors", len(msg), len(fds))
	}
	for _, fd := range fds {
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
			t.Errorf("descriptor %d not close-on-exec (0x%x, %v)", fd, fl, err)
		}
	}
	CloseFDs(fds)
	assertClosed(t, fds)
}

func TestReadDescriptorLimit(t *testing.T) {
	for _, n := range []int{MaxDescriptors, MaxDescriptors + 1, 100} {
		checkLeaks(t)
		conn, p := newPair(t)
		pp := pipeFDs(t)
		send := make([]int, n)
		for i := range send {
			send[i] = pp[i%2]
		}
		p.send(shmReply(1, 8, 8, 3), send...)
		CloseFDs(pp)
		msg, fds, err := ReadMessage(conn, nil, 0)
		if n <= MaxDescriptors {
			if err != nil || len(fds) != n {
				t.Fatalf("%d descriptors: got %d, %v", n, len(fds), err)
			}
			img, err := Accept(fds, imageSize(t, msg))
			if img != nil || !errors.Is(err, ErrDescriptorCount) {
				t.Fatalf("Accept of %d descriptors: %v", n, err)
			}
			assertClosed(t, fds)
			continue
		}
		if !errors.Is(err, ErrControlTruncated) || msg != nil || fds != nil {
			t.Fatalf("%d descriptors: %x, %v, %v; want ErrControlTruncated", n, msg, fds, err)
		}
		t.Logf("%d descriptors: %v", n, err)
	}
}

func TestReadHeaderRefusals(t *testing.T) {
	tooLarge := header(0x0002, protocol.MaxPayloadSize+1)
	badMagic := header(0x0002, 4)
	badMagic[0] = 'X'
	small := header(0x0002, 100)
	for _, tc := range []struct {
		name string
		hdr  []byte
		max  uint32
		code protocol.ErrorCode
	}{
		{"over 10 MiB", tooLarge, 0, protocol.CodeTooLarge},
		{"over 10 MiB with a larger max", tooLarge, 1 << 30, protocol.CodeTooLarge},
		{"over the caller's max", small, 100, protocol.CodeTooLarge},
		{"bad magic", badMagic, 0, protocol.CodeInvalidMagic},
	} {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			conn, p := newPair(t)
			mfd := sealedMemfd(t, pattern(64))
			// Only the header is sent: reading any payload would block
			// until the deadline.
			p.send(tc.hdr, mfd)
			unix.Close(mfd)
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			msg, fds, err := ReadMessage(conn, nil, tc.max)
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != tc.code || msg != nil || fds != nil {
				t.Fatalf("ReadMessage: %x, %v, %v; want a protocol error %v", msg, fds, err, tc.code)
			}
			t.Logf("%v", err)
		})
	}
}

func TestReadEOF(t *testing.T) {
	reply := shmReply(0x1122334455667788, 8, 8, 3)
	for _, tc := range []struct {
		name   string
		sent   int // bytes sent before the peer shuts down its write side
		fd     bool
		wantID uint64
	}{
		{"before the first byte", 0, false, 0},
		{"inside the header", 10, true, 0},
		{"after the header", 16, true, 0},
		{"inside the payload, request id complete", 30, true, 0x1122334455667788},
		{"one byte short", len(reply) - 1, true, 0x1122334455667788},
	} {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			conn, p := newPair(t)
			if tc.sent > 0 {
				var fds []int
				if tc.fd {
					fds = []int{sealedMemfd(t, pattern(8*8*3))}
				}
				p.send(reply[:tc.sent], fds...)
				CloseFDs(fds)
			}
			p.shutdownWrite()
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			msg, fds, err := ReadMessage(conn, nil, 0)
			if msg != nil || fds != nil {
				t.Fatalf("returned %x, %v", msg, fds)
			}
			if tc.sent == 0 {
				if err != io.EOF {
					t.Fatalf("ReadMessage: %v, want io.EOF", err)
				}
				return
			}
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeMalformed || !errors.Is(err, io.ErrUnexpectedEOF) || pe.RequestID != tc.wantID {
				t.Fatalf("ReadMessage: %#v, want CodeMalformed wrapping io.ErrUnexpectedEOF with request id %x", err, tc.wantID)
			}
			t.Logf("%v", err)
		})
	}
}

// TestReadDeadline: a peer that sends part of a message with a descriptor
// and then nothing: the caller's deadline ends the read, and the descriptor
// is closed.
func TestReadDeadline(t *testing.T) {
	checkLeaks(t)
	conn, p := newPair(t)
	mfd := sealedMemfd(t, pattern(64))
	p.send(shmReply(1, 8, 8, 3)[:20], mfd)
	unix.Close(mfd)
	conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	start := time.Now()
	msg, fds, err := ReadMessage(conn, nil, 0)
	if !errors.Is(err, os.ErrDeadlineExceeded) || msg != nil || fds != nil {
		t.Fatalf("ReadMessage: %x, %v, %v; want a deadline error", msg, fds, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("returned after %v", d)
	}
}

func TestOOBBufferSize(t *testing.T) {
	if oobLen > oobArrayLen {
		t.Fatalf("CmsgSpace(%d) = %d exceeds the %d-byte array", 4*MaxDescriptors, oobLen, oobArrayLen)
	}
}
