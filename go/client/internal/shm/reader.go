package shm

import (
	"net"
	"syscall"
	"unsafe"
)

// Reader reads messages from one connection exactly as ReadMessage does
// (same checks, same descriptor rules, same errors), but calls recvmsg(2)
// itself on the socket (through its syscall.RawConn, so deadlines and the
// netpoller work as for any net.Conn) instead of going through
// net.UnixConn.ReadMsgUnix. That saves the sender's address, which
// ReadMsgUnix decodes and allocates on every recvmsg when the peer is a
// listening socket's connection (a daemon): a 10 MB reply arrives in
// dozens of recvmsg calls. recvmsg is called with MSG_CMSG_CLOEXEC, so every
// descriptor is close-on-exec from the moment it exists in this process.
//
// A Reader is for one goroutine at a time. It allocates nothing per
// message beyond what the message itself needs (a buffer when the caller's
// is too small, the descriptor slice when descriptors arrive).
type Reader struct {
	raw syscall.RawConn
	r   receiver
	oob [oobArrayLen]byte
	fn  func(fd uintptr) bool // rd.recvOnce, bound once

	// One recvmsg call's arguments and results (fn has a fixed signature).
	p, cbuf        []byte
	n, oobn, flags int
	errno          syscall.Errno
	// The recvmsg arguments live here, in the Reader (heap memory that
	// never moves), not on a goroutine stack.
	iov syscall.Iovec
	msg syscall.Msghdr
}

// NewReader returns a Reader for conn.
func NewReader(conn *net.UnixConn) (*Reader, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	rd := &Reader{raw: raw}
	rd.fn = rd.recvOnce
	return rd, nil
}

// ReadMessage is the package's ReadMessage on the Reader's connection; n is
// the number of bytes of the message read from the connection, on success
// and on error alike (a caller tells "nothing arrived" from "cut off after
// n bytes" with it).
func (rd *Reader) ReadMessage(buf []byte, max uint32) (msg []byte, fds []int, n int, err error) {
	rd.r = receiver{rd: rd, oob: rd.oob[:oobLen]}
	msg, fds, err = rd.r.readMessage(buf, max)
	n = rd.r.read
	rd.r = receiver{}
	return msg, fds, n, err
}

// recvmsg reads into p with control buffer oob, waiting through the
// netpoller (and the connection's read deadline) while nothing is there.
func (rd *Reader) recvmsg(p, oob []byte) (n, oobn, flags int, err error) {
	rd.p, rd.cbuf = p, oob
	rd.n, rd.oobn, rd.flags, rd.errno = 0, 0, 0, 0
	if err := rd.raw.Read(rd.fn); err != nil {
		return 0, 0, 0, err
	}
	if rd.errno != 0 {
		return 0, 0, 0, rd.errno
	}
	return rd.n, rd.oobn, rd.flags, nil
}

// recvOnce is one recvmsg attempt; false asks the netpoller to wait for
// readability (EAGAIN).
func (rd *Reader) recvOnce(fd uintptr) bool {
	rd.iov = syscall.Iovec{}
	if len(rd.p) > 0 {
		rd.iov.Base = &rd.p[0]
		rd.iov.SetLen(len(rd.p))
	}
	rd.msg = syscall.Msghdr{Iov: &rd.iov, Iovlen: 1}
	if len(rd.cbuf) > 0 {
		rd.msg.Control = &rd.cbuf[0]
		rd.msg.SetControllen(len(rd.cbuf))
	}
	for {
		n, _, e := syscall.Syscall(syscall.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&rd.msg)), syscall.MSG_CMSG_CLOEXEC)
		switch e {
		case 0:
			rd.n, rd.oobn, rd.flags = int(n), int(rd.msg.Controllen), int(rd.msg.Flags)
			rd.iov, rd.msg = syscall.Iovec{}, syscall.Msghdr{} // drop the pointers
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			rd.errno = e
			return true
		}
	}
}
