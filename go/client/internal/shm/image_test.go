package shm

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// receive reads one message from conn and fails the test on an error.
func receive(t testing.TB, conn *net.UnixConn, buf []byte) ([]byte, []int) {
	t.Helper()
	msg, fds, err := ReadMessage(conn, buf, 0)
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	return msg, fds
}

// assertClosed fails unless every fd is closed (EBADF). Only meaningful
// right after the call that should have closed them, before anything could
// reuse the numbers.
func assertClosed(t testing.TB, fds []int) {
	t.Helper()
	for _, fd := range fds {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != unix.EBADF {
			t.Errorf("descriptor %d still open (F_GETFD: %v)", fd, err)
		}
	}
}

// diskFileFD opens a new regular file in the test's temporary directory.
// onTmpfs reports whether that directory is on tmpfs (whose files support
// F_GET_SEALS and report only F_SEAL_SEAL).
func diskFileFD(t testing.TB, size int) (fd int, onTmpfs bool) {
	t.Helper()
	dir := t.TempDir()
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		t.Fatalf("statfs: %v", err)
	}
	p := filepath.Join(dir, "pixels")
	if err := os.WriteFile(p, pattern(size), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fd, sfs.Type == unix.TMPFS_MAGIC
}

func pipeFDs(t testing.TB) []int {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatalf("pipe2: %v", err)
	}
	return p[:]
}

// TestAcceptRefuses sends each kind of bad descriptor set from a hostile peer
// with a well-formed 0x0006 reply and checks that Accept refuses it with the
// right sentinel, maps nothing and closes everything that arrived.
func TestAcceptRefuses(t *testing.T) {
	const w, h, c = 64, 32, 3
	const size = w * h * c
	all := RequiredSeals
	cases := []struct {
		name string
		// fds builds the descriptors the peer sends; the peer closes its
		// copies after sending. want is the sentinel expected.
		fds  func(t *testing.T) ([]int, error)
		text string // expected in the error text
	}{
		{"memfd without seals", func(t *testing.T) ([]int, error) {
			return []int{newMemfd(t, memfdSpec{size: size, seals: 0})}, ErrUnsealed
		}, "missing F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE|F_SEAL_SEAL (has none)"},
		{"memfd created without MFD_ALLOW_SEALING", func(t *testing.T) ([]int, error) {
			return []int{newMemfd(t, memfdSpec{size: size, noSealing: true})}, ErrUnsealed
		}, "(has F_SEAL_SEAL)"},
		{"missing F_SEAL_SHRINK", func(t *testing.T) ([]int, error) {
			return []int{newMemfd(t, memfdSpec{size: size, seals: all &^ unix.F_SEAL_SHRINK})}, ErrUnsealed
		}, "missing F_SEAL_SHRINK "},
		{"missing F_SEAL_GROW", func(t *testing.T) ([]int, error) {
			return []int{newMemfd(t, memfdSpec{size: size, seals: all &^ unix.F_SEAL_GROW})}, ErrUnsealed
		}, "missing F_SEAL_GROW "},
		{"missing F_SEAL_WRITE", func(t *testing.T) ([]int, error) {
			return []int{newMemfd(t, memfdSpec{size: size, seals: all &^ unix.F_SEAL_WRITE})}, ErrUnsealed
		}, "missing F_SEAL_WRITE "},
		{"missing F_SEAL_SEAL", func(t *testing.T) ([]int, error) {
			return []int{newMemfd(t, memfdSpec{size: size, seals: all &^ unix.F_SEAL_SEAL})}, ErrUnsealed
		}, "missing F_SEAL_SEAL "},
		{"F_SEAL_FUTURE_WRITE instead of F_SEAL_WRITE", func(t *testing.T) ([]int, error) {
			return []int{newMemfd(t, memfdSpec{size: size, seals: all&^unix.F_SEAL_WRITE | unix.F_SEAL_FUTURE_WRITE})}, ErrUnsealed
		}, "missing F_SEAL_WRITE "},
		{"sealed but one byte too small", func(t *testing.T) ([]int, error) {
			return []int{newMemfd(t, memfdSpec{size: size - 1, seals: all})}, ErrTooSmall
		}, "it holds 6143 bytes, the image needs 6144"},
		{"sealed but empty", func(t *testing.T) ([]int, error) {
			return []int{newMemfd(t, memfdSpec{size: 0, seals: all})}, ErrTooSmall
		}, "it holds 0 bytes"},
		{"regular file", func(t *testing.T) ([]int, error) {
			fd, tmpfs := diskFileFD(t, size)
			if tmpfs {
				return []int{fd}, ErrUnsealed
			}
			return []int{fd}, ErrNotMemfd
		}, ""},
		{"file on /dev/shm (tmpfs)", func(t *testing.T) ([]int, error) {
			var sfs unix.Statfs_t
			if err := unix.Statfs("/dev/shm", &sfs); err != nil || sfs.Type != unix.TMPFS_MAGIC {
				t.Skip("/dev/shm is not a tmpfs here")
			}
			f, err := os.CreateTemp("/dev/shm", "weave-shm-test-")
			if err != nil {
				t.Skipf("cannot create a file in /dev/shm: %v", err)
			}
			os.Remove(f.Name())
			defer f.Close()
			if err := f.Truncate(size); err != nil {
				t.Fatal(err)
			}
			fd, err := unix.Dup(int(f.Fd()))
			if err != nil {
				t.Fatal(err)
			}
			return []int{fd}, ErrUnsealed
		}, "(has F_SEAL_SEAL)"},
		{"pipe", func(t *testing.T) ([]int, error) {
			p := pipeFDs(t)
			unix.Close(p[1])
			return p[:1], ErrNotMemfd
		}, "does not support sealing (a pipe)"},
		{"socket", func(t *testing.T) ([]int, error) {
			s, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			unix.Close(s[1])
			return s[:1], ErrNotMemfd
		}, "(a socket)"},
		{"character device", func(t *testing.T) ([]int, error) {
			fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			return []int{fd}, ErrNotMemfd
		}, "(a character device)"},
		{"directory", func(t *testing.T) ([]int, error) {
			fd, err := unix.Open(t.TempDir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			return []int{fd}, ErrNotMemfd
		}, "(a directory)"},
		{"sealed memfd reopened write-only", func(t *testing.T) ([]int, error) {
			mfd := sealedMemfd(t, pattern(size))
			defer unix.Close(mfd)
			fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(mfd), unix.O_WRONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Skipf("cannot reopen the memfd: %v", err)
			}
			return []int{fd}, ErrMap
		}, "mmap of 6144 bytes"},
		{"two valid memfds", func(t *testing.T) ([]int, error) {
			return []int{sealedMemfd(t, pattern(size)), sealedMemfd(t, pattern(size))}, ErrDescriptorCount
		}, "the reply carried 2, want 1"},
		{"no descriptor", func(t *testing.T) ([]int, error) {
			return nil, ErrDescriptorCount
		}, "the reply carried 0, want 1"},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			conn, p := newPair(t)
			sent, want := tc.fds(t)
			p.send(shmReply(7, w, h, c), sent...)
			CloseFDs(sent)

			msg, got := receive(t, conn, nil)
			if len(got) != len(sent) {
				t.Fatalf("received %d descriptors, sent %d", len(got), len(sent))
			}
			img, err := Accept(got, imageSize(t, msg))
			assertClosed(t, got)
			if img != nil {
				img.Close()
				t.Fatalf("Accept returned an image")
			}
			if !errors.Is(err, want) {
				t.Fatalf("Accept: %v, want %v", err, want)
			}
			if !strings.HasPrefix(err.Error(), "shm: "+want.Error()+": ") || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error text %q: want prefix %q and %q in it", err, "shm: "+want.Error()+": ", tc.text)
			}
			var se *Error
			if !errors.As(err, &se) || se.Kind != want {
				t.Fatalf("error %#v is not an *Error of kind %v", err, want)
			}
			t.Logf("%v", err)
		})
	}
}

func TestAcceptRefusesImageSize(t *testing.T) {
	for _, size := range []uint64{0, MaxImageSize + 1, 1 << 63} {
		checkLeaks(t)
		fd := sealedMemfd(t, pattern(16))
		img, err := Accept([]int{fd}, size)
		assertClosed(t, []int{fd})
		if img != nil || !errors.Is(err, ErrImageSize) {
			t.Fatalf("Accept(size %d) = %v, %v; want ErrImageSize", size, img, err)
		}
	}
}

// TestAcceptValid receives and maps 2048x2048 RGB and RGBA images over a
// socketpair and over a real listening socket, and checks the pixels, the
// read-only shared mapping, that the descriptor is gone once mapped, and
// that Close unmaps once.
func TestAcceptValid(t *testing.T) {
	for _, tc := range []struct {
		name     string
		channels uint32
		listener bool
	}{
		{"RGB socketpair", 3, false},
		{"RGBA socketpair", 4, false},
		{"RGB listener", 3, true},
		{"RGBA listener", 4, true},
	} {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			const w, h = 2048, 2048
			size := w * h * int(tc.channels)
			pix := pattern(size)
			mfd := sealedMemfd(t, pix)
			reply := shmReply(99, w, h, tc.channels)
			var conn *net.UnixConn
			if tc.listener {
				c, s := newListenerPair(t)
				n, oobn, err := s.WriteMsgUnix(reply, unix.UnixRights(mfd), nil)
				if err != nil || n != len(reply) || oobn == 0 {
					t.Fatalf("WriteMsgUnix: %d, %d, %v", n, oobn, err)
				}
				conn = c
			} else {
				c, p := newPair(t)
				p.send(reply, mfd)
				conn = c
			}
			unix.Close(mfd)
			fdsBefore := len(openFDs(t))

			msg, fds := receive(t, conn, nil)
			if !bytes.Equal(msg, reply) {
				t.Fatalf("message %x, want %x", msg, reply)
			}
			if len(fds) != 1 {
				t.Fatalf("%d descriptors, want 1", len(fds))
			}
			if fl, err := unix.FcntlInt(uintptr(fds[0]), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
				t.Fatalf("received descriptor flags 0x%x (%v): not close-on-exec", fl, err)
			}
			img, err := Accept(fds, imageSize(t, msg))
			if err != nil {
				t.Fatalf("Accept: %v", err)
			}
			defer img.Close()
			assertClosed(t, fds)
			if n := len(openFDs(t)); n != fdsBefore {
				t.Fatalf("%d descriptors open with the image mapped, %d before receiving: the memfd was not closed after mapping", n, fdsBefore)
			}
			maps := testMappings(t)
			if len(maps) != 1 {
				t.Fatalf("mappings of the memfd: %q, want exactly one", maps)
			}
			if f := strings.Fields(maps[0]); len(f) < 2 || f[1] != "r--s" {
				t.Fatalf("mapping %q is not read-only shared (r--s)", maps[0])
			}
			if img.Len() != size || len(img.Pixels()) != size || cap(img.Pixels()) != size {
				t.Fatalf("image of %d bytes (cap %d), want %d", img.Len(), cap(img.Pixels()), size)
			}
			if !bytes.Equal(img.Pixels(), pix) {
				t.Fatal("pixels differ from what the peer wrote")
			}
			if err := img.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if m := testMappings(t); len(m) != 0 {
				t.Fatalf("mapping left after Close: %q", m)
			}
			if img.Pixels() != nil || img.Len() != 0 {
				t.Fatal("Pixels not nil after Close")
			}
			if err := img.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
		})
	}
}

// TestAcceptLargerMemfd: a memfd larger than the image is fine; only the
// image bytes are mapped.
func TestAcceptLargerMemfd(t *testing.T) {
	checkLeaks(t)
	conn, p := newPair(t)
	const w, h, c = 64, 64, 4
	pix := pattern(w * h * c)
	mfd := newMemfd(t, memfdSpec{size: 1 << 20, content: pix, seals: RequiredSeals})
	p.send(shmReply(1, w, h, c), mfd)
	unix.Close(mfd)
	msg, fds := receive(t, conn, nil)
	img, err := Accept(fds, imageSize(t, msg))
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	defer img.Close()
	if !bytes.Equal(img.Pixels(), pix) {
		t.Fatal("pixels differ")
	}
}

// TestSealsHoldAfterAccept: the sender keeps its copy of the memfd and tries
// to shrink, grow and overwrite it after the client mapped it; the kernel
// refuses all three, and the client's pixels stay readable and unchanged.
// This is the property that keeps the mapping from faulting (SIGBUS).
func TestSealsHoldAfterAccept(t *testing.T) {
	checkLeaks(t)
	conn, p := newPair(t)
	const w, h, c = 256, 256, 3
	pix := pattern(w * h * c)
	mfd := sealedMemfd(t, pix)
	defer unix.Close(mfd)
	p.send(shmReply(1, w, h, c), mfd)
	msg, fds := receive(t, conn, nil)
	img, err := Accept(fds, imageSize(t, msg))
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	defer img.Close()

	if err := unix.Ftruncate(mfd, 0); err != unix.EPERM {
		t.Errorf("sender's ftruncate(0): %v, want EPERM", err)
	}
	if err := unix.Ftruncate(mfd, int64(len(pix))*2); err != unix.EPERM {
		t.Errorf("sender's ftruncate(grow): %v, want EPERM", err)
	}
	if _, err := unix.Pwrite(mfd, []byte{0xff}, 0); err != unix.EPERM {
		t.Errorf("sender's pwrite: %v, want EPERM", err)
	}
	if _, err := unix.Mmap(mfd, 0, len(pix), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != unix.EPERM {
		t.Errorf("sender's writable shared mmap: %v, want EPERM", err)
	}
	if _, err := unix.FcntlInt(uintptr(mfd), unix.F_ADD_SEALS, 0); err != unix.EPERM {
		t.Errorf("sender's F_ADD_SEALS after F_SEAL_SEAL: %v, want EPERM", err)
	}
	if !bytes.Equal(img.Pixels(), pix) {
		t.Fatal("pixels changed")
	}
}

// TestCloseConcurrent: Close from many goroutines at once unmaps once and
// every call succeeds (run with -race).
func TestCloseConcurrent(t *testing.T) {
	checkLeaks(t)
	fd := sealedMemfd(t, pattern(4096))
	img, err := Accept([]int{fd}, 4096)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = img.Close()
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Close %d: %v", i, err)
		}
	}
	if img.Pixels() != nil {
		t.Error("Pixels not nil after Close")
	}
}

// TestLateDescriptor: a peer that sends the header alone and attaches the
// descriptor to the payload breaks SPEC 11.4. ReadMessage still returns the
// whole message, closes the descriptor and says why.
func TestLateDescriptor(t *testing.T) {
	checkLeaks(t)
	conn, p := newPair(t)
	reply := shmReply(5, 64, 64, 3)
	mfd := sealedMemfd(t, pattern(64*64*3))
	p.send(reply[:16])
	p.send(reply[16:], mfd)
	unix.Close(mfd)
	msg, fds, err := ReadMessage(conn, nil, 0)
	if !errors.Is(err, ErrLateDescriptor) {
		t.Fatalf("ReadMessage: %v, want ErrLateDescriptor", err)
	}
	if fds != nil {
		t.Fatalf("descriptors returned: %v", fds)
	}
	if !bytes.Equal(msg, reply) {
		t.Fatalf("message %x, want %x", msg, reply)
	}
	t.Logf("%v", err)
}

// TestLateDescriptorLastByte: the descriptor on the message's last byte.
func TestLateDescriptorLastByte(t *testing.T) {
	checkLeaks(t)
	conn, p := newPair(t)
	reply := shmReply(5, 64, 64, 3)
	mfd := sealedMemfd(t, pattern(64*64*3))
	p.send(reply[:len(reply)-1])
	p.send(reply[len(reply)-1:], mfd)
	unix.Close(mfd)
	msg, _, err := ReadMessage(conn, nil, 0)
	if !errors.Is(err, ErrLateDescriptor) || !bytes.Equal(msg, reply) {
		t.Fatalf("ReadMessage: %x, %v; want the message and ErrLateDescriptor", msg, err)
	}
}
