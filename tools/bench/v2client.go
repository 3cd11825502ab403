package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weave-app/weave/internal/wire"
)

// A raw version-2 client (SPEC section 11) on the net package: one request
// per connection, the daemon's queued/progress/heartbeat messages counted
// and timed, the final reply inline (0x0002) or in shared memory (0x0006:
// one memfd in SCM_RIGHTS, accepted only with all four seals and room for
// the image, mapped read-only, as go/client does). It depends on nothing
// but the SPEC's bytes, like the bench's other raw clients.

// v2Outcome is one v2 request's timeline, every time since the start of
// the request (before connect).
type v2Outcome struct {
	wall       time.Duration // the whole request (SHM: image ready and unmapped)
	started    time.Duration // first heartbeat with phase 2 (or first progress): the job started; 0 if none came
	firstStep  time.Duration // first progress message; 0 if none
	finalFirst time.Duration // the read that brought the final reply's first byte
	finalLast  time.Duration // inline: the last reply byte; SHM: the 0x0006 message and its fd received
	ready      time.Duration // SHM: the fd checked (seals, size) and mapped; inline: = finalLast
	touched    time.Duration // SHM: ready + one read per 4 KiB page of the mapping; inline: = finalLast
	genMS      uint32
	progress   int // 0x0011 messages
	heartbeats int // 0x0012
	queued     int // 0x0010
	shm        bool
	imageSize  int
}

// v2Client sends v2 requests to one socket. Not for concurrent use: it
// keeps one receive buffer (large enough for any inline reply).
type v2Client struct {
	path  string
	buf   []byte
	oob   []byte
	touch bool // SHM: read every page of the mapping before unmapping it
	// stopAfterStep > 0: hang up once that many progress messages came
	// (cancellation); the outcome then has only the times until then.
	stopAfterStep int
}

func newV2Client(path string) *v2Client {
	return &v2Client{path: path, buf: make([]byte, wire.MaxMessageSize+4096), oob: make([]byte, unix.CmsgSpace(4*4))}
}

// errHungUp is roundTrip's result when it hung up on purpose
// (stopAfterStep).
var errHungUp = errors.New("hung up on purpose")

// request sends req and reads until the final reply (or hangs up, see
// stopAfterStep). wantType is the final reply type expected (0x0002 or
// 0x0006); wantImage the image bytes.
func (c *v2Client) request(req []byte, wantType uint16, wantImage int) (v2Outcome, error) {
	var o v2Outcome
	t0 := time.Now()
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: c.path, Net: "unix"})
	if err != nil {
		return o, err
	}
	var fds []int
	closeFDs := func() {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
		fds = nil
	}
	defer func() { closeFDs(); conn.Close() }()
	if _, err := conn.Write(req); err != nil {
		return o, err
	}
	r, w := 0, 0 // unread bytes are c.buf[r:w]
	// readMore reads once; it returns the time of the read.
	readMore := func() (time.Duration, error) {
		if w == len(c.buf) {
			copy(c.buf, c.buf[r:w])
			w -= r
			r = 0
		}
		n, oobn, _, _, err := conn.ReadMsgUnix(c.buf[w:], c.oob)
		at := time.Since(t0)
		if oobn > 0 {
			if cms, perr := unix.ParseSocketControlMessage(c.oob[:oobn]); perr == nil {
				for _, cm := range cms {
					if got, rerr := unix.ParseUnixRights(&cm); rerr == nil {
						fds = append(fds, got...)
					}
				}
			}
		}
		if n == 0 && err == nil {
			err = errors.New("connection closed before the final reply")
		}
		w += n
		return at, err
	}
	for {
		// One message: its header, then its payload.
		var firstAt time.Duration
		for w-r < headerSize {
			at, err := readMore()
			if err != nil {
				return o, err
			}
			if firstAt == 0 {
				firstAt = at
			}
		}
		h, _ := wire.ParseHeader(c.buf[r:])
		if h.Magic != wire.Magic || h.PayloadLen > maxPayloadLen {
			return o, errors.New("bad message header")
		}
		if r > 0 && len(c.buf)-r < headerSize+int(h.PayloadLen) {
			copy(c.buf, c.buf[r:w])
			w -= r
			r = 0
		}
		for w-r < headerSize+int(h.PayloadLen) {
			if _, err := readMore(); err != nil {
				return o, err
			}
		}
		lastAt := time.Since(t0)
		p := c.buf[r+headerSize : r+headerSize+int(h.PayloadLen)]
		r += headerSize + int(h.PayloadLen)
		switch h.Type {
		case typeQueued:
			o.queued++
			continue
		case typeHeartbeat:
			o.heartbeats++
			if len(p) >= wire.HeartbeatSize && u32(p, wire.HeartbeatPhase) == wire.PhaseRunning && o.started == 0 {
				o.started = lastAt
			}
			continue
		case typeProgress:
			o.progress++
			if o.firstStep == 0 {
				o.firstStep = lastAt
				if o.started == 0 {
					o.started = lastAt
				}
			}
			if c.stopAfterStep > 0 && o.progress >= c.stopAfterStep {
				o.wall = time.Since(t0)
				return o, errHungUp
			}
			continue
		}
		// The final reply.
		if firstAt == 0 {
			firstAt = lastAt
		}
		o.finalFirst, o.finalLast = firstAt, lastAt
		if h.Type != wantType {
			if h.Type == typeGenResp && wantType == typeSHMResp {
				return o, errors.New("the daemon answered a shared-memory request inline (0x0002)")
			}
			if h.Type == typeError && len(p) >= wire.ErrRespFixedSize {
				return o, fmt.Errorf("error reply: status %d code %d", u32(p, wire.ErrRespStatus), u32(p, wire.ErrRespCode))
			}
			return o, fmt.Errorf("final reply msg_type %#x, want %#x", h.Type, wantType)
		}
		switch h.Type {
		case typeGenResp:
			if len(p) < wire.GenRespFixedSize || int(u32(p, wire.GenRespImageDataLen)) != wantImage || len(fds) != 0 {
				return o, fmt.Errorf("inline reply: %d payload bytes, %d descriptors", len(p), len(fds))
			}
			o.genMS = u32(p, wire.GenRespGenTimeMS)
			o.ready, o.touched, o.imageSize = lastAt, lastAt, wantImage
		case typeSHMResp:
			if len(p) < wire.SHMRespSize || u32(p, wire.SHMRespStatus) != wire.StatusOK {
				return o, errors.New("bad shared-memory reply")
			}
			size := be.Uint64(p[wire.SHMRespImageSize:])
			if size != uint64(wantImage) || size > wire.MaxSHMImageSize ||
				uint64(u32(p, wire.SHMRespWidth))*uint64(u32(p, wire.SHMRespHeight))*uint64(u32(p, wire.SHMRespChannels)) != size {
				return o, fmt.Errorf("shared-memory reply announces %d bytes, want %d", size, wantImage)
			}
			o.genMS, o.shm, o.imageSize = u32(p, wire.SHMRespGenTimeMS), true, int(size)
			if len(fds) != 1 {
				return o, fmt.Errorf("shared-memory reply with %d descriptors", len(fds))
			}
			data, err := mapSealed(fds[0], int(size))
			closeFDs() // the mapping keeps the memfd
			if err != nil {
				return o, err
			}
			o.ready = time.Since(t0)
			o.touched = o.ready
			if c.touch {
				var sum byte
				for i := 0; i < len(data); i += 4096 {
					sum += data[i]
				}
				touchSink += sum
				o.touched = time.Since(t0)
			}
			if err := unix.Munmap(data); err != nil {
				return o, err
			}
		default:
			return o, fmt.Errorf("final reply msg_type %#x", h.Type)
		}
		o.wall = time.Since(t0)
		return o, nil
	}
}

// touchSink keeps the page reads from being optimised away.
var touchSink byte

// sealsRequired are the seals SPEC 11.4 requires on a reply's memfd.
const sealsRequired = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL

// mapSealed checks fd the way SPEC 11.4 asks a receiver to (a file that
// supports sealing, all four seals, a regular file of at least size bytes)
// and maps size bytes of it read-only.
func mapSealed(fd, size int) ([]byte, error) {
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, fmt.Errorf("F_GET_SEALS: %v (not a memfd)", err)
	}
	if seals&sealsRequired != sealsRequired {
		return nil, fmt.Errorf("memfd seals %#x, want %#x", seals, sealsRequired)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size < int64(size) {
		return nil, fmt.Errorf("memfd of %d bytes for a %d-byte image", st.Size, size)
	}
	return unix.Mmap(fd, 0, size, unix.PROT_READ, unix.MAP_SHARED)
}

// openFDs counts the entries of /proc/PID/fd (-1 when unreadable).
func openFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// mapCount counts the lines of /proc/PID/maps (-1 when unreadable).
func mapCount(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return -1
	}
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}
