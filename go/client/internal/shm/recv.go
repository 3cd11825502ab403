package shm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"

	"github.com/weave-app/weave/go/protocol"
)

// MaxDescriptors is how many descriptors one recvmsg has room for. The SPEC
// allows one per message; the room for more makes a peer that sends extras
// visible (they arrive and are closed, or Accept refuses them) instead of
// having them silently cut off. More than this in one control message sets
// MSG_CTRUNC, which ReadMessage reports as ErrControlTruncated (the kernel
// itself closes the descriptors that did not fit).
const MaxDescriptors = 16

// oobArrayLen bounds syscall.CmsgSpace(4*MaxDescriptors) on every Linux
// architecture (a cmsghdr is at most 16 bytes, alignment at most 8).
const oobArrayLen = 16 + 4*MaxDescriptors + 8

// oobLen is the exact control buffer size for MaxDescriptors descriptors:
// the kernel fits as many whole descriptors as the buffer holds, so a
// larger buffer would accept more than MaxDescriptors.
var oobLen = syscall.CmsgSpace(4 * MaxDescriptors)

// oobPool recycles control buffers: ReadMsgUnix's buffer escapes, so a
// buffer on ReadMessage's stack would be one allocation per call.
var oobPool = sync.Pool{New: func() interface{} { return new([oobArrayLen]byte) }}

// ReadMessage reads one complete message, header and payload, from conn with
// ReadMsgUnix, and returns it together with every descriptor that arrived
// with any part of it (in arrival order; close-on-exec: Go passes
// MSG_CMSG_CLOEXEC on Linux).
//
// The header is read first (exactly 16 bytes, never more, so nothing of a
// following message is consumed). Its magic is checked, then the message
// size against max (the largest whole message accepted, header included; 0
// or anything above protocol.MaxMessageSize means protocol.MaxMessageSize),
// before the payload is read or any buffer allocated. Version and message
// type are the decoder's business (protocol), not this function's. Then
// exactly payload_len bytes are read.
//
// The message is read into buf when cap(buf) is large enough (the returned
// msg then aliases buf), else into one new slice of exactly the message
// size. Passing the previous msg back in, or a buffer with capacity
// protocol.MaxMessageSize, makes a loop of requests allocate no message
// buffers; the payload goes from the socket into that buffer directly.
//
// Deadlines are the caller's: ReadMessage uses whatever read deadline is set
// on conn, and returns the net error of an expired deadline unchanged.
//
// Descriptors: the caller owns the returned fds and must hand them to
// Accept (a 0x0006 reply) or close them with CloseFDs (any other message:
// SPEC 11.4 says to close them unread). On every error ReadMessage has
// already closed all descriptors it received, with one exception to the
// "no message on error" rule: when descriptors arrived after the part of the
// message holding its first byte (a peer breaking SPEC 11.4) it reads the
// whole message, closes every descriptor and returns the complete msg with
// an error matching ErrLateDescriptor; a caller may still use a reply that
// needs no descriptor. (What counts as "the part holding the first byte" is
// what one recvmsg returned: bytes the peer sent with separate sendmsg
// calls can arrive together, so this check catches descriptors clearly
// attached later, not every way a sender can misplace them.) Descriptors
// attached to bytes after this message are not read here; they stay in the
// socket, and closing the connection releases them.
//
// Errors: io.EOF when the stream ends before the first byte; a
// *protocol.Error with CodeMalformed wrapping io.ErrUnexpectedEOF when it
// ends inside the message; a *protocol.Error with CodeInvalidMagic or
// CodeTooLarge for a refused header; an *Error for descriptor problems
// (ErrLateDescriptor, ErrControlTruncated, ErrControlData); other read errors
// (deadline, reset) unchanged.
func ReadMessage(conn *net.UnixConn, buf []byte, max uint32) (msg []byte, fds []int, err error) {
	oob := oobPool.Get().(*[oobArrayLen]byte)
	defer oobPool.Put(oob)
	r := receiver{conn: conn, oob: oob[:oobLen]}
	return r.readMessage(buf, max)
}

// readMessage is ReadMessage on r (conn or rd set, oob set, the rest zero).
func (r *receiver) readMessage(buf []byte, max uint32) (msg []byte, fds []int, err error) {
	if max == 0 || max > protocol.MaxMessageSize {
		max = protocol.MaxMessageSize
	}

	if cap(buf) < protocol.HeaderSize {
		buf = make([]byte, protocol.HeaderSize)
	}
	hdr := buf[:protocol.HeaderSize]
	if err := r.fill(hdr); err != nil {
		r.closeAll()
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, &protocol.Error{Code: protocol.CodeMalformed,
				Msg: "stream ended after " + strconv.Itoa(r.read) + " of 16 header bytes", Err: io.ErrUnexpectedEOF}
		}
		return nil, nil, err
	}
	if m := binary.BigEndian.Uint32(hdr[0:]); m != protocol.Magic {
		r.closeAll()
		return nil, nil, protocol.NewError(protocol.CodeInvalidMagic, 0, "magic 0x%08x, want 0x%08x", m, protocol.Magic)
	}
	payloadLen := binary.BigEndian.Uint32(hdr[8:])
	size := uint64(protocol.HeaderSize) + uint64(payloadLen)
	if size > uint64(max) {
		r.closeAll()
		return nil, nil, protocol.NewError(protocol.CodeTooLarge, 0, "message of %d bytes exceeds the limit of %d", size, max)
	}
	if uint64(cap(buf)) < size {
		nb := make([]byte, size)
		copy(nb, hdr)
		buf = nb
	}
	msg = buf[:size]
	if err := r.fill(msg[protocol.HeaderSize:]); err != nil {
		r.closeAll()
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			got := r.read - protocol.HeaderSize
			var id uint64
			if got >= 8 {
				id = binary.BigEndian.Uint64(msg[protocol.HeaderSize:])
			}
			return nil, nil, &protocol.Error{Code: protocol.CodeMalformed, RequestID: id,
				Msg: "stream ended after " + strconv.Itoa(got) + " of " + strconv.FormatUint(uint64(payloadLen), 10) + " payload bytes",
				Err: io.ErrUnexpectedEOF}
		}
		return nil, nil, err
	}
	switch {
	case r.parseErr != nil:
		r.closeAll()
		return nil, nil, &Error{Kind: ErrControlData, Err: r.parseErr}
	case r.truncated:
		n := len(r.fds)
		r.closeAll()
		return nil, nil, &Error{Kind: ErrControlTruncated,
			Detail: fmt.Sprintf("more than %d descriptors sent at once (%d received, all closed)", MaxDescriptors, n)}
	case r.late:
		n := len(r.fds)
		r.closeAll()
		return msg, nil, &Error{Kind: ErrLateDescriptor,
			Detail: fmt.Sprintf("%d descriptor(s) closed unread", n)}
	}
	return msg, r.fds, nil
}

// CloseFDs closes every descriptor in fds (errors are ignored: on Linux
// close releases the descriptor even when it reports one).
func CloseFDs(fds []int) {
	for _, fd := range fds {
		_ = syscall.Close(fd)
	}
}

// receiver is the state of one ReadMessage call.
type receiver struct {
	conn      *net.UnixConn // ReadMessage: net's ReadMsgUnix
	rd        *Reader       // Reader: recvmsg on the raw socket
	oob       []byte
	read      int   // message bytes read so far
	chunks    int   // recvmsg calls that returned data
	fds       []int // every descriptor received
	late      bool  // some arrived with a chunk after the first
	truncated bool  // MSG_CTRUNC was seen
	parseErr  error // control data that could not be parsed
}

// fill reads exactly len(p) bytes. A stream that ends first gives
// io.ErrUnexpectedEOF, or io.EOF when no byte of the message was read yet.
func (r *receiver) fill(p []byte) error {
	for got := 0; got < len(p); {
		var n, oobn, flags int
		var err error
		if r.rd != nil {
			n, oobn, flags, err = r.rd.recvmsg(p[got:], r.oob)
		} else {
			n, oobn, flags, _, err = r.conn.ReadMsgUnix(p[got:], r.oob)
		}
		if n < 0 {
			n = 0 // a failed recvmsg can report -1
		}
		if oobn > 0 {
			r.collect(r.oob[:oobn], n)
		}
		if flags&syscall.MSG_CTRUNC != 0 {
			r.truncated = true
		}
		if n > 0 {
			r.chunks++
		}
		got += n
		r.read += n
		if err == nil && n == 0 {
			err = io.EOF
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if r.read == 0 {
					return io.EOF
				}
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// collect takes the descriptors out of one recvmsg's control data. n is the
// number of data bytes that recvmsg returned.
func (r *receiver) collect(oob []byte, n int) {
	cmsgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		// The kernel wrote this buffer, so this cannot happen short of a
		// kernel bug; nothing in it can be trusted to name descriptors.
		r.parseErr = err
		return
	}
	for i := range cmsgs {
		m := &cmsgs[i]
		if m.Header.Level != syscall.SOL_SOCKET || m.Header.Type != syscall.SCM_RIGHTS {
			continue
		}
		fds, err := syscall.ParseUnixRights(m)
		if err != nil {
			r.parseErr = err
			continue
		}
		if len(fds) == 0 {
			continue
		}
		// Descriptors come with the data of the recvmsg that returns them:
		// the first byte of the message is in chunk 0.
		if r.chunks > 0 || n == 0 {
			r.late = true
		}
		r.fds = append(r.fds, fds...)
	}
}

// closeAll closes every descriptor received so far.
func (r *receiver) closeAll() {
	CloseFDs(r.fds)
	r.fds = nil
}
