package shm

import "errors"

// Sentinel errors. Every error this package returns for one of these
// conditions is an *Error that satisfies errors.Is(err, Sentinel); its text
// is "shm: " + the sentinel's text + ": " + details.
var (
	// ErrDescriptorCount: a shared-memory reply came with no descriptor or
	// with more than one (SPEC 11.4: exactly one).
	ErrDescriptorCount = errors.New("not exactly one descriptor")
	// ErrNotMemfd: the descriptor is not a sealable regular file (a pipe, a
	// socket, a file on a disk file system, ...).
	ErrNotMemfd = errors.New("descriptor is not a sealed memfd")
	// ErrUnsealed: the memfd lacks at least one of F_SEAL_SHRINK,
	// F_SEAL_GROW, F_SEAL_WRITE, F_SEAL_SEAL.
	ErrUnsealed = errors.New("memfd is not fully sealed")
	// ErrTooSmall: the memfd holds fewer bytes than the image needs.
	ErrTooSmall = errors.New("memfd is smaller than the image")
	// ErrImageSize: the expected image size given to Accept is 0 or above
	// MaxImageSize.
	ErrImageSize = errors.New("invalid image size")
	// ErrMap: mmap of an accepted memfd failed.
	ErrMap = errors.New("cannot map the memfd")

	// ErrLateDescriptor: descriptors arrived with a part of the message
	// after the part that held its first byte (SPEC 11.4 puts the
	// descriptor on the sendmsg of the first byte). ReadMessage has closed
	// them and still returns the complete message.
	ErrLateDescriptor = errors.New("descriptor arrived after the message's first byte")
	// ErrControlTruncated: the kernel truncated the control data (MSG_CTRUNC):
	// the peer sent more descriptors than MaxDescriptors at once.
	ErrControlTruncated = errors.New("too many descriptors (control data truncated)")
	// ErrControlData: the control data could not be parsed.
	ErrControlData = errors.New("malformed control data")
)

// Error is the error type behind the sentinels. errors.Is matches Kind, and
// errors.Is/As also see Err, the underlying cause (a syscall.Errno, a
// *protocol.Error, a deadline error, ...) when there is one.
type Error struct {
	Kind   error  // one of the Err* sentinels
	Detail string // for people; may be empty
	Err    error  // underlying cause; may be nil
}

func (e *Error) Error() string {
	s := "shm: " + e.Kind.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is e's sentinel.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }
