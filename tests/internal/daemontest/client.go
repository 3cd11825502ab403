package daemontest

import (
	"context"
	"testing"
	"time"

	"github.com/weave-app/weave/go/client"
)

// testTimeout bounds every client call a test makes through Context: far
// above any deadline a test configures, so it only ends a hung test.
const testTimeout = 30 * time.Second

// Client returns a client for this daemon's socket; opts come after the
// socket path and may override the timeouts.
func (d *Daemon) Client(t testing.TB, opts ...client.Option) *client.Client {
	t.Helper()
	return NewClient(t, d.SocketPath, opts...)
}

// NewClient returns a client for socketPath, failing the test on error.
func NewClient(t testing.TB, socketPath string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(append([]client.Option{client.WithSocketPath(socketPath)}, opts...)...)
	if err != nil {
		t.Fatalf("client.New(%s): %v", socketPath, err)
	}
	return c
}

// Context returns a context that ends when the test does, or after
// testTimeout.
func Context(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return c
}
