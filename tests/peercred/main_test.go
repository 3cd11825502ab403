package peercred_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/weave-app/weave/tests/internal/daemontest"
)

// envPeerHelper switches the test binary into "peer helper" mode: it is
// re-executed as another user (uid 65534) to connect to the daemon, since
// SO_PEERCRED records the credentials of the process that calls connect().
const envPeerHelper = "WEAVE_TEST_PEER_HELPER_SOCKET"

func TestMain(m *testing.M) {
	if sock := os.Getenv(envPeerHelper); sock != "" {
		os.Exit(peerHelper(sock))
	}
	os.Exit(m.Run())
}

// peerHelper connects to sock, sends a status request and reads until the
// daemon closes the connection. It prints one line:
//
//	uid=U bytes=N end=eof|reset|timeout|error:... write=ok|error:...
//
// and exits 0, or exits 2 when it cannot connect.
func peerHelper(sock string) int {
	conn, err := net.Dial("unix", sock)
	if err != nil {
		fmt.Printf("uid=%d connect-error=%v\n", os.Getuid(), err)
		return 2
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	write := "ok"
	if _, err := conn.Write(daemontest.StatusRequest(42)); err != nil {
		write = "error:" + err.Error()
	}
	n, err := io.Copy(io.Discard, conn)
	end := "eof"
	switch {
	case err == nil:
	case isReset(err):
		end = "reset"
	case os.IsTimeout(err):
		end = "timeout"
	default:
		end = "error:" + err.Error()
	}
	fmt.Printf("uid=%d bytes=%d end=%s write=%s\n", os.Getuid(), n, end, write)
	return 0
}
