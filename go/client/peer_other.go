//go:build !linux

package client

import (
	"errors"
	"net"
)

// peerOf is not implemented outside Linux.
func peerOf(conn net.Conn) (*Peer, error) {
	return nil, errors.New("client: SO_PEERCRED is only available on Linux")
}
