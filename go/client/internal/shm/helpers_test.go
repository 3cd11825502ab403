package shm

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// testMemfdName names every memfd the tests create, so /proc/self/maps
// shows which mappings are theirs.
const testMemfdName = "weave-shm-test"

func TestMain(m *testing.M) {
	// Let the runtime open whatever it opens on first network use (the
	// netpoller's epoll descriptor and wakeup), so that the per-test
	// descriptor counts compare like with like.
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "socketpair:", err)
		os.Exit(1)
	}
	f := os.NewFile(uintptr(fds[0]), "warmup")
	c, err := net.FileConn(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FileConn:", err)
		os.Exit(1)
	}
	f.Close()
	c.Close()
	unix.Close(fds[1])
	os.Exit(m.Run())
}

// openFDs lists this process's descriptors, each with what it refers to.
func openFDs(t testing.TB) map[string]string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("read /proc/self/fd: %v", err)
	}
	m := make(map[string]string, len(ents))
	for _, e := range ents {
		// The listing's own descriptor is closed by now: readlink fails
		// for it, and it is left out.
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err == nil {
			m[e.Name()] = target
		}
	}
	return m
}

// testMappings returns the lines of /proc/self/maps that map a test memfd.
func testMappings(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatalf("read /proc/self/maps: %v", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "/memfd:"+testMemfdName) {
			out = append(out, l)
		}
	}
	return out
}

// checkLeaks records the open descriptors now and, when the test ends (after
// every cleanup registered later), fails it if any descriptor was added or
// any test memfd is still mapped. Call it first in a test.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := openFDs(t)
	if m := testMappings(t); len(m) != 0 {
		t.Fatalf("test memfd mappings exist before the test: %q", m)
	}
	t.Cleanup(func() {
		after := openFDs(t)
		var leaked []string
		for fd, target := range after {
			if _, ok := before[fd]; !ok {
				leaked = append(leaked, fd+" -> "+target)
			}
		}
		sort.Strings(leaked)
		if len(leaked) != 0 {
			t.Errorf("leaked descriptors: %q", leaked)
		}
		if len(after) != len(before) {
			t.Errorf("%d descriptors open after the test, %d before", len(after), len(before))
		}
		if m := testMappings(t); len(m) != 0 {
			t.Errorf("mappings left: %q", m)
		}
	})
}

// peer is the daemon's end of a connection, driven by hand: a raw blocking
// descriptor, so each send is exactly one sendmsg.
type peer struct {
	t  testing.TB
	fd int
}

// newPair returns the client end as a *net.UnixConn and the peer's raw end of
// a socketpair; both are closed when the test ends.
func newPair(t testing.TB) (*net.UnixConn, *peer) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	f := os.NewFile(uintptr(fds[0]), "client")
	c, err := net.FileConn(f) // dups the descriptor
	f.Close()
	if err != nil {
		unix.Close(fds[1])
		t.Fatalf("FileConn: %v", err)
	}
	p := &peer{t: t, fd: fds[1]}
	t.Cleanup(func() {
		c.Close()
		p.close()
	})
	return c.(*net.UnixConn), p
}

var abstractSeq int64

// newListenerPair connects a client to a real listening Unix socket (in the
// abstract namespace, so no path length limit) and returns the client's
// *net.UnixConn and the accepted connection, both closed when the test ends.
func newListenerPair(t testing.TB) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	name := "@weave-shm-test-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(atomic.AddInt64(&abstractSeq, 1), 10)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	c, err := net.DialUnix("unix", nil, l.Addr().(*net.UnixAddr))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	s, err := l.AcceptUnix()
	if err != nil {
		c.Close()
		t.Fatalf("accept: %v", err)
	}
	t.Cleanup(func() {
		c.Close()
		s.Close()
	})
	return c, s
}

// send writes data in one sendmsg, with fds as SCM_RIGHTS when given.
func (p *peer) send(data []byte, fds ...int) {
	p.t.Helper()
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	n, err := unix.SendmsgN(p.fd, data, oob, nil, 0)
	if err != nil {
		p.t.Fatalf("sendmsg: %v", err)
	}
	if n != len(data) {
		p.t.Fatalf("sendmsg sent %d of %d bytes", n, len(data))
	}
}

// writeAll writes data with as many write calls as it takes.
func (p *peer) writeAll(data []byte) error {
	for len(data) > 0 {
		n, err := unix.Write(p.fd, data)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

func (p *peer) shutdownWrite() {
	if err := unix.Shutdown(p.fd, unix.SHUT_WR); err != nil {
		p.t.Fatalf("shutdown: %v", err)
	}
}

func (p *peer) close() {
	if p.fd >= 0 {
		unix.Close(p.fd)
		p.fd = -1
	}
}

// header builds a message header (version 2) for a payload of n bytes.
func header(msgType uint16, n uint32) []byte {
	h := make([]byte, 16)
	binary.BigEndian.PutUint32(h[0:], 0x57455645)
	binary.BigEndian.PutUint16(h[4:], 2)
	binary.BigEndian.PutUint16(h[6:], msgType)
	binary.BigEndian.PutUint32(h[8:], n)
	return h
}

// shmReply builds a 0x0006 message (SPEC 11.4) for a width x height image
// with the given channels.
func shmReply(id uint64, width, height, channels uint32) []byte {
	msg := header(0x0006, 44)
	p := make([]byte, 44)
	binary.BigEndian.PutUint64(p[0:], id)
	binary.BigEndian.PutUint32(p[8:], 200)
	binary.BigEndian.PutUint32(p[12:], 1234)
	binary.BigEndian.PutUint32(p[16:], width)
	binary.BigEndian.PutUint32(p[20:], height)
	binary.BigEndian.PutUint32(p[24:], channels)
	binary.BigEndian.PutUint64(p[28:], uint64(width)*uint64(height)*uint64(channels))
	binary.BigEndian.PutUint64(p[36:], 42)
	return append(msg, p...)
}

// imageSize reads image_size back from a 0x0006 message.
func imageSize(t testing.TB, msg []byte) uint64 {
	t.Helper()
	if len(msg) != 60 || binary.BigEndian.Uint16(msg[6:]) != 0x0006 {
		t.Fatalf("not a 0x0006 message: %x", msg)
	}
	return binary.BigEndian.Uint64(msg[16+28:])
}

// pattern is deterministic, position-dependent image content.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>10)
	}
	return b
}

// memfdSpec says how to build a test memfd.
type memfdSpec struct {
	size      int64  // file size (ftruncate)
	content   []byte // written from offset 0 (may be shorter than size)
	noSealing bool   // create without MFD_ALLOW_SEALING
	seals     int    // added with F_ADD_SEALS (after writing)
}

// newMemfd creates a memfd as spec says and returns its descriptor, owned by
// the caller (normally handed to the peer and closed after sending).
func newMemfd(t testing.TB, spec memfdSpec) int {
	t.Helper()
	flags := unix.MFD_CLOEXEC
	if !spec.noSealing {
		flags |= unix.MFD_ALLOW_SEALING
	}
	fd, err := unix.MemfdCreate(testMemfdName, flags)
	if err != nil {
		t.Fatalf("memfd_create: %v", err)
	}
	if err := unix.Ftruncate(fd, spec.size); err != nil {
		unix.Close(fd)
		t.Fatalf("ftruncate: %v", err)
	}
	for off := 0; off < len(spec.content); {
		n, err := unix.Pwrite(fd, spec.content[off:], int64(off))
		if err != nil {
			unix.Close(fd)
			t.Fatalf("pwrite: %v", err)
		}
		off += n
	}
	if spec.seals != 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, spec.seals); err != nil {
			unix.Close(fd)
			t.Fatalf("F_ADD_SEALS 0x%x: %v", spec.seals, err)
		}
	}
	return fd
}

// sealedMemfd is a valid memfd holding content.
func sealedMemfd(t testing.TB, content []byte) int {
	return newMemfd(t, memfdSpec{size: int64(len(content)), content: content, seals: RequiredSeals})
}
