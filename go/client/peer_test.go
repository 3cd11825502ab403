package client

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// silentListener listens on a short socket path and accepts connections
// without ever answering, like a daemon stopped with SIGSTOP.
func silentListener(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "wvc")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return path
}

func TestNotResponding(t *testing.T) {
	path := silentListener(t)
	c := newTestClient(t, path, WithReadTimeout(200*time.Millisecond))
	start := time.Now()
	_, peer, err := c.StatusWithPeer(context.Background())
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.True(t, errors.Is(err, ErrReadTimeout), "still a read timeout: %v", err)
	assert.True(t, errors.Is(err, ErrNotResponding), "%v", err)
	assert.True(t, IsUnavailable(err))
	assert.True(t, strings.HasPrefix(err.Error(), ErrReadTimeout.Error()+": "), err.Error())
	assert.Contains(t, err.Error(), "is not responding")
	var ce *Error
	require.True(t, errors.As(err, &ce))
	assert.Equal(t, os.Getpid(), ce.PeerPID, "the listener is this process")
	require.NotNil(t, peer)
	assert.Equal(t, os.Getpid(), peer.PID)
	assert.Equal(t, os.Getuid(), peer.UID)
}

func TestIncompleteReplyIsNotNotResponding(t *testing.T) {
	e := &Error{Sentinel: ErrReadTimeout, Detail: "reply incomplete"}
	assert.False(t, errors.Is(e, ErrNotResponding))
	assert.True(t, errors.Is(e, ErrReadTimeout))
}

func TestPeer(t *testing.T) {
	path := silentListener(t)
	c := newTestClient(t, path)
	p, err := c.Peer(context.Background())
	require.NoError(t, err)
	assert.Equal(t, os.Getpid(), p.PID)
	assert.Equal(t, os.Getuid(), p.UID)
	assert.Equal(t, os.Getgid(), p.GID)

	_, err = newTestClient(t, path+".none").Peer(context.Background())
	assert.True(t, errors.Is(err, ErrDaemonNotRunning), "%v", err)
}

func TestSocketPathTooLong(t *testing.T) {
	long := "/tmp/" + strings.Repeat("x", 120) + "/weave/weave.sock"
	c := newTestClient(t, long)
	_, err := c.Status(context.Background())
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrSocketPathTooLong), "%v", err)
	assert.True(t, errors.Is(err, syscall.EINVAL))
	assert.False(t, IsUnavailable(err))
	assert.Equal(t, "socket path too long (142 bytes, max 107): "+long, err.Error())
	_, err = c.Peer(context.Background())
	assert.True(t, errors.Is(err, ErrSocketPathTooLong))

	assert.NoError(t, CheckSocketPath(strings.Repeat("a", MaxSocketPathLen)))
	assert.Error(t, CheckSocketPath(strings.Repeat("a", MaxSocketPathLen+1)))
}
