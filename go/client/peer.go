package client

import (
	"context"
	"net"
)

// Peer is the process at the other end of a connection to the socket, as
// the kernel reports it (SO_PEERCRED). For a daemon that created its own
// socket this is the daemon; under systemd socket activation it is the
// process that created the listening socket (the service manager), so
// callers that signal PID should check what it is first.
type Peer struct {
	PID int
	UID int
	GID int
}

// Peer connects to the socket, reads the credentials of the process that
// serves it and closes the connection without sending a request. It works
// even when the daemon is stopped (SIGSTOP): the kernel completes the
// connection from the listen backlog. It fails with the connection
// sentinels of Send.
func (c *Client) Peer(ctx context.Context) (*Peer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return peerOf(conn)
}

// peerPID is the pid of conn's peer, 0 when unknown.
func peerPID(conn net.Conn) int {
	p, err := peerOf(conn)
	if err != nil {
		return 0
	}
	return p.PID
}
