package client

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// Sentinel errors. Their messages are part of the contract (docs/DEVELOPMENT.md)
// and must not change. Errors returned by this package that stand for one of
// these conditions satisfy errors.Is(err, Sentinel), and their Error() text
// starts with the sentinel's text, optionally followed by ": detail".
var (
	// ErrXDGNotSet: $XDG_RUNTIME_DIR is unset or empty.
	ErrXDGNotSet = errors.New("XDG_RUNTIME_DIR not set")
	// ErrDaemonNotRunning: the socket file does not exist (ENOENT, ENOTDIR).
	ErrDaemonNotRunning = errors.New("weave-compute daemon not running (socket not found)")
	// ErrConnectionRefused: the socket file exists but nothing listens on it
	// (ECONNREFUSED; typically a stale socket left by a crashed daemon).
	ErrConnectionRefused = errors.New("weave-compute daemon not accepting connections")
	// ErrConnectTimeout: the connection was not established within the
	// connect timeout (including a listen backlog that stayed full).
	ErrConnectTimeout = errors.New("weave-compute daemon connection timeout")
	// ErrReadTimeout: no complete reply arrived within the read timeout
	// (with progress: no message for that long).
	ErrReadTimeout = errors.New("weave-compute daemon response timeout")
	// ErrConnectionClosed: the daemon closed the connection before a whole
	// reply arrived. A client of another UID, which the daemon rejects
	// silently, sees this too.
	ErrConnectionClosed = errors.New("weave-compute daemon closed the connection without a response")
)

// Further sentinels. ErrNotResponding is reported together with
// ErrReadTimeout or ErrConnectTimeout (an error matches both with errors.Is;
// its text starts with theirs), so code written against those keeps
// working.
var (
	// ErrNotResponding: a daemon holds the socket but answered nothing at
	// all within the deadline (no reply byte, request not read, or a listen
	// backlog that stayed full): it is stopped (SIGSTOP) or wedged.
	ErrNotResponding = errors.New("weave-compute daemon is not responding")
	// ErrSocketPathTooLong: the socket path does not fit in sun_path
	// (MaxSocketPathLen bytes). The error is a *SocketPathError.
	ErrSocketPathTooLong = errors.New("socket path too long")
)

// Sentinels of protocol version 2 (SPEC section 11).
var (
	// ErrV1Only: the request needs protocol version 2 (an image whose
	// reply does not fit in a 10 MiB version-1 message, e.g. 2048x2048)
	// and the daemon speaks version 1 only. The error is a *V1OnlyError,
	// which also matches protocol.ErrInvalidDimensions.
	ErrV1Only = errors.New("weave-compute daemon speaks protocol version 1 only")
	// ErrSharedMemory: the daemon's shared-memory reply came with a
	// descriptor this client does not trust or cannot map (see
	// GenerateImage); it was closed. The error is a *SharedMemoryError.
	ErrSharedMemory = errors.New("unusable shared-memory image from weave-compute")
)

// MaxSocketPathLen is the longest socket path a Unix socket address holds
// on Linux (sun_path is 108 bytes including the terminating NUL).
const MaxSocketPathLen = 107

// SocketPathError is a socket path longer than MaxSocketPathLen. Its text is
// "socket path too long (N bytes, max 107): PATH"; it matches
// ErrSocketPathTooLong and syscall.EINVAL with errors.Is.
type SocketPathError struct {
	Path string
}

func (e *SocketPathError) Error() string {
	return fmt.Sprintf("%s (%d bytes, max %d): %s", ErrSocketPathTooLong.Error(), len(e.Path), MaxSocketPathLen, e.Path)
}

// Is matches ErrSocketPathTooLong.
func (e *SocketPathError) Is(target error) bool { return target == ErrSocketPathTooLong }

// Unwrap returns syscall.EINVAL, what connect(2) would have said.
func (e *SocketPathError) Unwrap() error { return syscall.EINVAL }

// CheckSocketPath returns a *SocketPathError when path does not fit in a
// Unix socket address, nil otherwise.
func CheckSocketPath(path string) error {
	if len(path) > MaxSocketPathLen {
		return &SocketPathError{Path: path}
	}
	return nil
}

// ErrStatusNotSupported is returned by Status when the daemon answers the
// status request with an error reply: it is up but does not serve the status
// extension (SPEC section 7). The *protocol.ErrorResponse is wrapped.
var ErrStatusNotSupported = errors.New("weave-compute daemon does not support the status request")

// IsUnavailable reports whether err means the daemon could not be reached or
// did not answer (one of the connection sentinels). ErrXDGNotSet is not
// included: that is a configuration problem of the caller.
func IsUnavailable(err error) bool {
	for _, s := range []error{ErrDaemonNotRunning, ErrConnectionRefused, ErrConnectTimeout, ErrReadTimeout, ErrConnectionClosed} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// Error is the error type behind the sentinels: Error() is the sentinel's text
// plus ": Detail" when Detail is set. errors.Is matches the sentinel, and
// errors.Is/As also see the underlying cause (e.g. syscall.ECONNREFUSED).
type Error struct {
	Sentinel error  // one of the Err* variables above
	Detail   string // extra context for people; may be empty
	Cause    error  // the low-level error, if any
	// Also is a second sentinel the error matches (ErrNotResponding next
	// to ErrReadTimeout or ErrConnectTimeout); it does not change Error().
	Also error
	// PeerPID is the pid of the process serving the socket (SO_PEERCRED)
	// when a connection was made, 0 when unknown.
	PeerPID int
}

func (e *Error) Error() string {
	msg := "weave-compute client error"
	if e.Sentinel != nil {
		msg = e.Sentinel.Error()
	}
	if e.Detail == "" {
		return msg
	}
	return msg + ": " + e.Detail
}

// Is reports whether target is the sentinel of e (or its Also sentinel).
func (e *Error) Is(target error) bool {
	return target == e.Sentinel || (e.Also != nil && target == e.Also)
}

// Unwrap returns the low-level cause.
func (e *Error) Unwrap() error { return e.Cause }

func newError(sentinel error, detail string, cause error) error {
	return &Error{Sentinel: sentinel, Detail: detail, Cause: cause}
}

// isTimeout reports whether err is a deadline expiry of a net.Conn operation.
func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isClosedByPeer reports whether err means the peer went away.
func isClosedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
