package client

import (
	"errors"
	"net"
	"syscall"
)

// peerOf reads SO_PEERCRED of a Unix connection.
func peerOf(conn net.Conn) (*Peer, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return nil, errors.New("client: not a Unix connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	if credErr != nil {
		return nil, credErr
	}
	return &Peer{PID: int(cred.Pid), UID: int(cred.Uid), GID: int(cred.Gid)}, nil
}
