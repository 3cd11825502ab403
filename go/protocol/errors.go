package protocol

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// sentinel is the type of the Err* values: one per error code. It is
// comparable and immutable, and *Error and *ErrorResponse match it with
// errors.Is by code.
type sentinel ErrorCode

func (s sentinel) Error() string { return ErrorCode(s).String() }

// Sentinel errors, one per SPEC error code. errors.Is(err, ErrX) is true for
// an *Error or *ErrorResponse (or anything wrapping one) with that code.
var (
	ErrInvalidMagic       error = sentinel(CodeInvalidMagic)
	ErrUnsupportedVersion error = sentinel(CodeUnsupportedVersion)
	ErrInvalidModel       error = sentinel(CodeInvalidModel)
	ErrInvalidPrompt      error = sentinel(CodeInvalidPrompt)
	ErrInvalidDimensions  error = sentinel(CodeInvalidDimensions)
	ErrInvalidSteps       error = sentinel(CodeInvalidSteps)
	ErrInvalidCFG         error = sentinel(CodeInvalidCFG)
	ErrOutOfMemory        error = sentinel(CodeOutOfMemory)
	ErrGPU                error = sentinel(CodeGPU)
	ErrTimeout            error = sentinel(CodeTimeout)
	ErrMalformed          error = sentinel(CodeMalformed)
	ErrUnknownType        error = sentinel(CodeUnknownType)
	ErrTooLarge           error = sentinel(CodeTooLarge)
	ErrBusy               error = sentinel(CodeBusy)
	ErrInternal           error = sentinel(CodeInternal)
)

// Sentinel returns the Err* value for a code, or nil for CodeNone and
// unknown codes.
func Sentinel(c ErrorCode) error {
	if c == CodeNone || !c.Known() {
		return nil
	}
	return sentinel(c)
}

// Error is a local decode or validation failure, in the shape of the error
// reply a daemon sends for it: Code (and so Code.Status()) and the
// request_id the reply echoes (0 when it could not be read).
type Error struct {
	Code      ErrorCode
	RequestID uint64
	Msg       string // details for people; may be empty
	Err       error  // underlying cause (e.g. io.ErrUnexpectedEOF), may be nil
}

// NewError returns an *Error with a formatted message.
func NewError(code ErrorCode, requestID uint64, format string, args ...interface{}) *Error {
	return newError(code, requestID, format, args...)
}

func newError(code ErrorCode, requestID uint64, format string, args ...interface{}) *Error {
	return &Error{Code: code, RequestID: requestID, Msg: fmt.Sprintf(format, args...)}
}

// Error returns "weave protocol: <code name>: <details>".
func (e *Error) Error() string {
	if e.Msg == "" {
		return "weave protocol: " + e.Code.String()
	}
	return "weave protocol: " + e.Code.String() + ": " + e.Msg
}

// Status is the status of the error reply for this failure (Code.Status()).
func (e *Error) Status() uint32 { return e.Code.Status() }

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	s, ok := target.(sentinel)
	return ok && ErrorCode(s) == e.Code
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// ErrorResponse is the error message (0x00FF) a daemon sends. It is an
// error itself; errors.Is(resp, ErrX) matches the sentinel of its Code.
type ErrorResponse struct {
	Version   uint16 // header version; 0 encodes as 1
	RequestID uint64
	Status    uint32
	Code      ErrorCode
	Message   string
}

// Error describes the reply for people, e.g.
// "weave-compute rejected the request (400, invalid dimensions): width 100 is
// not a multiple of 64". Control characters and invalid UTF-8 in the
// daemon's message are replaced by U+FFFD.
func (r *ErrorResponse) Error() string {
	var b strings.Builder
	switch r.Status {
	case StatusBadRequest:
		b.WriteString("weave-compute rejected the request")
	case StatusServerError:
		b.WriteString("weave-compute failed the request")
	default:
		b.WriteString("weave-compute returned an error")
	}
	fmt.Fprintf(&b, " (%d, %s)", r.Status, r.Code)
	if r.Message != "" {
		b.WriteString(": ")
		b.WriteString(sanitize(r.Message))
	}
	return b.String()
}

// Is reports whether target is the sentinel of r's code.
func (r *ErrorResponse) Is(target error) bool {
	s, ok := target.(sentinel)
	return ok && ErrorCode(s) == r.Code
}

// CodeOf returns the protocol error code carried by err (an *Error, an
// *ErrorResponse, a sentinel, or anything wrapping one), or CodeNone.
func CodeOf(err error) ErrorCode {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	var re *ErrorResponse
	if errors.As(err, &re) {
		return re.Code
	}
	var s sentinel
	if errors.As(err, &s) {
		return ErrorCode(s)
	}
	return CodeNone
}

// sanitize makes daemon-supplied text safe to print on a terminal.
func sanitize(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsControl(r) {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
