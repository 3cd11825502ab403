package client

import (
	"os"
	"path/filepath"
)

// SocketDirName, SocketName and LogName are the names under
// $XDG_RUNTIME_DIR that the daemon and the CLI agree on.
const (
	SocketDirName = "weave"
	SocketName    = "weave.sock"
	LogName       = "weave-compute.log"
)

// SocketPath returns $XDG_RUNTIME_DIR/weave/weave.sock. It returns
// ErrXDGNotSet when the variable is unset or empty.
func SocketPath() (string, error) {
	return SocketPathFromEnv(os.Getenv("XDG_RUNTIME_DIR"))
}

// SocketPathFromEnv is SocketPath for a given value of $XDG_RUNTIME_DIR.
func SocketPathFromEnv(xdgRuntimeDir string) (string, error) {
	if xdgRuntimeDir == "" {
		return "", ErrXDGNotSet
	}
	return filepath.Join(xdgRuntimeDir, SocketDirName, SocketName), nil
}
