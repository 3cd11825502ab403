package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/weave-app/weave/go/client"
	"github.com/weave-app/weave/go/protocol"
)

// daemonUnavailableError means weave-compute could not be started or did
// not become ready (autostart). It maps to exit code 3.
type daemonUnavailableError struct {
	msg string
	err error
}

func (e *daemonUnavailableError) Error() string { return e.msg }
func (e *daemonUnavailableError) Unwrap() error { return e.err }

// outputError is a failure to write the output file (exit code 1).
type outputError struct {
	path string
	err  error
}

func (e *outputError) Error() string {
	return fmt.Sprintf("cannot write %s: %v", e.path, e.err)
}
func (e *outputError) Unwrap() error { return e.err }

// exitCode maps an error to the exit codes of docs/DEVELOPMENT.md.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, context.Canceled) {
		return exitInterrupted
	}
	var du *daemonUnavailableError
	var be *busyError
	if errors.As(err, &du) || errors.As(err, &be) || client.IsUnavailable(err) {
		return exitUnavailable
	}
	var ue *usageErr
	if errors.As(err, &ue) {
		return exitUsage
	}
	if errors.Is(err, client.ErrV1Only) {
		// The daemon cannot send an image this large: the request, not
		// the daemon, must change.
		return exitRejected
	}
	var reply *client.ReplyError
	if errors.As(err, &reply) {
		// The daemon's reply was unreadable: not a verdict on the request.
		return exitFailure
	}
	var er *protocol.ErrorResponse
	if errors.As(err, &er) {
		return statusExit(er.Status, er.Code)
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		// Local validation: exactly what the daemon would have answered.
		return statusExit(pe.Status(), pe.Code)
	}
	return exitFailure
}

func statusExit(status uint32, code protocol.ErrorCode) int {
	switch {
	case status >= 400 && status < 500:
		return exitRejected
	case status >= 500 && status < 600:
		return exitDaemonError
	}
	switch code.Status() {
	case protocol.StatusBadRequest:
		return exitRejected
	case protocol.StatusServerError:
		return exitDaemonError
	}
	return exitFailure
}

// errorMessage is the one line printed after "weave: " for err.
func errorMessage(err error) string {
	if errors.Is(err, client.ErrXDGNotSet) {
		return client.ErrXDGNotSet.Error() + " (set it to your private runtime directory, e.g. export XDG_RUNTIME_DIR=/run/user/$(id -u))"
	}
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	var pe *protocol.Error
	var er *protocol.ErrorResponse
	var reply *client.ReplyError
	if errors.As(err, &pe) && !errors.As(err, &er) && !errors.As(err, &reply) {
		// Local validation failure: "invalid dimensions: width 100 is not a
		// multiple of 64 in 64..2048".
		if pe.Msg == "" {
			return "invalid request: " + pe.Code.String()
		}
		return pe.Code.String() + ": " + pe.Msg
	}
	return err.Error()
}

// fail prints err as one line on stderr and returns its exit code.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "weave: %s\n", errorMessage(err))
	return exitCode(err)
}

// failHint is fail followed by the lines that say how to fix err.
func failHint(stderr io.Writer, err error, h hintContext) int {
	fmt.Fprintf(stderr, "weave: %s\n", errorMessage(err))
	fmt.Fprint(stderr, errorHint(err, h))
	return exitCode(err)
}
