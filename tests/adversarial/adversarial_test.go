// Package adversarial_test attacks the real weave-compute daemon with
// misbehaving clients (silent, trickling, disconnecting, never reading,
// malformed, flooding) and checks that well-behaved clients keep being
// served promptly and that the daemon leaks no file descriptor.
package adversarial_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/weave-app/weave/go/client"
	"github.com/weave-app/weave/go/protocol"
	"github.com/weave-app/weave/go/protocol/vecfile"
	"github.com/weave-app/weave/internal/wire"
	"github.com/weave-app/weave/tests/internal/daemontest"
)

// prompt is the bound for "served promptly": far below the daemon's 60 s
// read deadline, far above what a 64x64 generate takes.
const prompt = 5 * time.Second

// baseline waits until the daemon holds no client connection and returns
// its fd count.
func baseline(t *testing.T, d *daemontest.Daemon) int {
	t.Helper()
	n, err := d.WaitIdle(5 * time.Second)
	require.NoError(t, err)
	return n
}

// requireFDsBack checks the daemon's fd count returns to base (no leak).
func requireFDsBack(t *testing.T, d *daemontest.Daemon, base int) {
	t.Helper()
	require.NoError(t, d.WaitFDs(base, 10*time.Second), "fd leak")
	require.False(t, d.Exited(), "daemon died")
}

// servedPromptly runs one small generate with a normal client and checks it
// completes within the bound.
func servedPromptly(t *testing.T, d *daemontest.Daemon, seed uint64) {
	t.Helper()
	c := d.Client(t, client.WithReadTimeout(prompt+time.Second))
	start := time.Now()
	resp, err := c.Generate(daemontest.Context(t), protocol.NewGenerateRequest(0, "well behaved", 64, 64, 1, 3, seed))
	elapsed := time.Since(start)
	require.NoError(t, err)
	require.Len(t, resp.Pixels, 64*64*3)
	require.Less(t, elapsed, prompt, "a well-behaved client waited %v", elapsed)
}

// waitConns polls until the daemon holds n accepted client connections.
func waitConns(t *testing.T, d *daemontest.Daemon, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := d.ConnFDs()
		require.NoError(t, err)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon holds %d client connections, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// --- scenarios, each usable on its own daemon or on a shared one ---------

// silentConnections holds n connections open without sending a byte while a
// normal client is served promptly.
func silentConnections(t *testing.T, d *daemontest.Daemon, n int) {
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		conns = append(conns, d.DialRaw(t))
	}
	// The daemon really holds them (they are not waiting in the backlog).
	waitConns(t, d, n, prompt)
	servedPromptly(t, d, 1)
	servedPromptly(t, d, 2)
	for _, c := range conns {
		c.Close()
	}
}

// trickle sends a status request one byte per 100 ms while other clients
// are served promptly; the trickler gets its reply in the end.
func trickle(t *testing.T, d *daemontest.Daemon) {
	conn := d.DialRaw(t)
	req := daemontest.StatusRequest(0x7121C1E)
	done := make(chan error, 1)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := range req {
			<-tick.C
			if _, err := conn.Write(req[i : i+1]); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < 5; i++ {
		servedPromptly(t, d, uint64(10+i))
		_, err := d.Client(t).Status(daemontest.Context(t))
		require.NoError(t, err)
	}
	require.NoError(t, <-done, "trickle write")
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(prompt)))
	msg, err := protocol.ReadMessage(conn, protocol.MaxMessageSize)
	require.NoError(t, err, "the trickling client gets its reply")
	m, err := protocol.DecodeResponse(msg)
	require.NoError(t, err)
	st, ok := m.(*protocol.StatusResponse)
	require.True(t, ok, "got %T", m)
	assert.EqualValues(t, 0x7121C1E, st.RequestID)
}

// disconnectMidRequest: clients that vanish in the middle of a request, or
// right after sending it (the daemon's reply then hits a closed socket: it
// must survive EPIPE/SIGPIPE).
func disconnectMidRequest(t *testing.T, d *daemontest.Daemon) {
	msg, err := protocol.EncodeGenerateRequest(protocol.NewGenerateRequest(3, "vanishing", 512, 512, 4, 3, 3))
	require.NoError(t, err)
	for _, cut := range []int{1, 15, 16, 40, len(msg) - 1} {
		conn := d.DialRaw(t)
		_, err := conn.Write(msg[:cut])
		require.NoError(t, err)
		require.NoError(t, conn.Close())
	}
	for i := 0; i < 5; i++ {
		conn := d.DialRaw(t)
		_, err := conn.Write(msg)
		require.NoError(t, err)
		require.NoError(t, conn.Close()) // gone before the reply
	}
	servedPromptly(t, d, 4)
}

// neverReadSmall: clients that send a request with a small reply and never
// read it, holding their end open; the reply fits in the socket buffer so
// the daemon finishes and closes its side.
func neverReadSmall(t *testing.T, d *daemontest.Daemon) []net.Conn {
	var held []net.Conn
	for i := 0; i < 5; i++ {
		conn := d.DialRaw(t)
		msg, err := protocol.EncodeGenerateRequest(protocol.NewGenerateRequest(uint64(i+1), "unread", 64, 64, 1, 3, 5))
		require.NoError(t, err)
		_, err = conn.Write(msg)
		require.NoError(t, err)
		held = append(held, conn)
	}
	servedPromptly(t, d, 6)
	return held
}

// neverReadBig: a client that asks for a ~10 MiB reply and never reads it
// is dropped after the write timeout; others are served meanwhile.
func neverReadBig(t *testing.T, d *daemontest.Daemon) net.Conn {
	conn := d.DialRaw(t)
	msg, err := protocol.EncodeGenerateRequest(protocol.NewGenerateRequest(7, "unread big",
		protocol.MaxSquareDimension, protocol.MaxSquareDimension, 1, 3, 7))
	require.NoError(t, err)
	_, err = conn.Write(msg)
	require.NoError(t, err)
	servedPromptly(t, d, 8)
	servedPromptly(t, d, 9)
	return conn
}

// flood opens max silent holders (the daemon accepts them all), then extra
// connections past --max-connections: each extra one gets 500/14 "server
// busy" or is closed, promptly, and none hangs. After the holders go away,
// service resumes.
func flood(t *testing.T, d *daemontest.Daemon, max int) {
	holders := make([]net.Conn, 0, max)
	for i := 0; i < max; i++ {
		holders = append(holders, d.DialRaw(t))
	}
	waitConns(t, d, max, prompt)

	const extra = 12
	var wg sync.WaitGroup
	results := make([]string, extra)
	for i := 0; i < extra; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = tryExtra(d.SocketPath)
		}(i)
	}
	wg.Wait()
	for i, r := range results {
		assert.Contains(t, []string{"busy", "closed"}, r, "extra connection %d", i)
	}

	// The client library sees "busy" as a daemon error reply (or a closed
	// connection), not a hang.
	c := d.Client(t, client.WithReadTimeout(prompt))
	_, err := c.Status(daemontest.Context(t))
	require.Error(t, err)
	assert.True(t, errors.Is(err, protocol.ErrBusy) || errors.Is(err, client.ErrConnectionClosed),
		"status past the connection limit: %v", err)

	// The holders are still accepted connections: they can make requests.
	for i := 0; i < 2; i++ {
		conn := holders[i]
		_, err := conn.Write(daemontest.StatusRequest(uint64(100 + i)))
		require.NoError(t, err)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(prompt)))
		msg, err := protocol.ReadMessage(conn, protocol.MaxMessageSize)
		require.NoError(t, err, "holder %d gets its reply", i)
		m, err := protocol.DecodeResponse(msg)
		require.NoError(t, err)
		st, ok := m.(*protocol.StatusResponse)
		require.True(t, ok, "got %T", m)
		assert.EqualValues(t, max, st.MaxConnections)
	}
	for _, c := range holders {
		c.Close()
	}
	_, err = d.WaitIdle(prompt)
	require.NoError(t, err)
	st, err := d.Client(t).Status(daemontest.Context(t))
	require.NoError(t, err, "service resumes after the flood")
	assert.EqualValues(t, max, st.MaxConnections)
	servedPromptly(t, d, 11)
}

// tryExtra connects past the limit and sends a status request: "busy" for a
// 500/14 reply, "closed" for a close with no byte, anything else is a
// failure description.
func tryExtra(path string) string {
	conn, err := net.DialTimeout("unix", path, prompt)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(prompt))
	_, _ = conn.Write(daemontest.StatusRequest(77)) // may fail: the daemon may close first
	msg, err := protocol.ReadMessage(conn, protocol.MaxMessageSize)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			return "closed"
		}
		return "read: " + err.Error()
	}
	m, err := protocol.DecodeResponse(msg)
	if err != nil {
		return "decode: " + err.Error()
	}
	if er, ok := m.(*protocol.ErrorResponse); ok && er.Status == 500 && er.Code == protocol.CodeBusy {
		return "busy"
	}
	return "unexpected reply: " + describe(m)
}

func describe(m protocol.Message) string {
	if er, ok := m.(*protocol.ErrorResponse); ok {
		return er.Error()
	}
	return m.MsgType().String()
}

// --- tests ---------------------------------------------------------------

// TestSilentConnectionsDoNotBlock: 50 connections that never send a byte do
// not delay a normal client (served well within 5 s, not after the 60 s
// read deadline); no fd leaks once they go away.
func TestSilentConnectionsDoNotBlock(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	base := baseline(t, d)
	silentConnections(t, d, 50)
	requireFDsBack(t, d, base)
}

// TestTrickleClient: one byte per 100 ms from one client; others are served
// meanwhile; the trickler is answered at the end.
func TestTrickleClient(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	base := baseline(t, d)
	trickle(t, d)
	requireFDsBack(t, d, base)
}

// TestClientDisconnectsMidRequest: clients vanishing mid-request or before
// the reply neither crash nor stall the daemon, and leak nothing.
func TestClientDisconnectsMidRequest(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	base := baseline(t, d)
	disconnectMidRequest(t, d)
	requireFDsBack(t, d, base)
}

// TestClientNeverReadsSmallResponse: unread replies that fit in the socket
// buffer: the daemon completes them and releases its side even though the
// clients keep theirs open.
func TestClientNeverReadsSmallResponse(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	base := baseline(t, d)
	held := neverReadSmall(t, d)
	requireFDsBack(t, d, base) // while the clients still hold their ends
	for _, c := range held {
		c.Close()
	}
}

// TestClientNeverReadsBigResponse: an unread ~10 MiB reply is dropped after
// the daemon's default 5 s write timeout (not earlier than ~5 s, not much
// later), while other clients are served.
func TestClientNeverReadsBigResponse(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	base := baseline(t, d)
	start := time.Now()
	conn := neverReadBig(t, d)
	require.NoError(t, d.WaitFDs(base, 15*time.Second), "the stuck connection is dropped")
	elapsed := time.Since(start)
	assert.GreaterOrEqual(t, elapsed, 4*time.Second, "dropped before the 5 s default write timeout")
	assert.Less(t, elapsed, 12*time.Second)
	conn.Close()
	servedPromptly(t, d, 10)
	requireFDsBack(t, d, base)
}

// TestVectorsOverSocket: every request vector of proto_spec/testdata, sent
// over a real connection (then half-closed), gets exactly the error reply the
// vector names (status, code, request_id) or a valid reply; the daemon keeps
// serving after each.
func TestVectorsOverSocket(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{Args: []string{"--read-timeout-ms=5000"}})
	base := baseline(t, d)
	vecs := loadRequestVectors(t)
	t.Logf("%d request vectors", len(vecs))
	for _, v := range vecs {
		v := v
		t.Run(v.Name, func(t *testing.T) {
			checkVector(t, d, v)
			require.NoError(t, daemontest.Ping(d.SocketPath, 2*time.Second), "daemon serves after %s", v.Name)
		})
	}
	requireFDsBack(t, d, base)
}

func checkVector(t *testing.T, d *daemontest.Daemon, v *vecfile.Vector) {
	conn := d.DialRaw(t)
	_, werr := conn.Write(v.Bytes) // the daemon may answer and close before reading it all
	if werr != nil {
		require.True(t, errors.Is(werr, syscall.EPIPE) || errors.Is(werr, syscall.ECONNRESET), "write: %v", werr)
	} else {
		require.NoError(t, conn.CloseWrite())
	}
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	msg, err := protocol.ReadMessage(conn, protocol.MaxMessageSize)
	if len(v.Bytes) == 0 && errors.Is(err, io.EOF) {
		// A connection that sends nothing and hangs up is not a request
		// (a stale-socket probe looks exactly like this): closing it
		// without a reply is as correct as the vector's 400/11.
		return
	}
	require.NoError(t, err, "%s: no reply (write error: %v)", v.Description, werr)
	m, err := protocol.DecodeResponse(msg)
	require.NoError(t, err, "reply does not decode")

	switch v.Result {
	case "error":
		require.True(t, v.HasErrRequestID, "request vector without error.request_id")
		er, ok := m.(*protocol.ErrorResponse)
		require.True(t, ok, "%s: want error %d/%d, got %s", v.Description, v.ErrStatus, v.ErrCode, describe(m))
		assert.EqualValues(t, v.ErrStatus, er.Status, "status (%s)", er.Message)
		assert.EqualValues(t, v.ErrCode, er.Code, "code (%s)", er.Message)
		assert.EqualValues(t, v.ErrRequestID, er.RequestID, "request_id")
		assert.LessOrEqual(t, len(er.Message), 255, "this daemon sends messages of at most 255 bytes")
	case "ok":
		id, err := v.Uint("request_id")
		require.NoError(t, err)
		switch v.Type {
		case "generate_request":
			r, ok := m.(*protocol.GenerateResponse)
			require.True(t, ok, "%s: want a generate response, got %s", v.Description, describe(m))
			w, err := v.Uint("width")
			require.NoError(t, err)
			h, err := v.Uint("height")
			require.NoError(t, err)
			assert.EqualValues(t, id, r.RequestID)
			assert.EqualValues(t, 200, r.Status)
			assert.EqualValues(t, w, r.Width)
			assert.EqualValues(t, h, r.Height)
			assert.EqualValues(t, 3, r.Channels)
			assert.Len(t, r.Pixels, int(w*h*3))
			assert.True(t, r.HasSeed, "this daemon appends the seed")
			seed, err := v.Uint("seed")
			require.NoError(t, err)
			if seed != 0 {
				assert.Equal(t, seed, r.Seed)
			}
		case "status_request":
			r, ok := m.(*protocol.StatusResponse)
			require.True(t, ok, "%s: want a status response, got %s", v.Description, describe(m))
			assert.EqualValues(t, id, r.RequestID)
		default:
			t.Fatalf("request vector with type %q", v.Type)
		}
	default:
		t.Fatalf("vector with result %q", v.Result)
	}
	// One request per connection: the daemon closes after the reply.
	rest, err := io.ReadAll(conn)
	if err != nil {
		require.True(t, errors.Is(err, syscall.ECONNRESET), "after the reply: %v", err)
	}
	assert.Empty(t, rest, "nothing after the reply")
}

// TestUnknownTypeRefusedAtHeader: msg_type is a header check (SPEC section
// 2: magic, version, size, type): a header with an unknown type is answered
// 400/12 as soon as the header is in, without waiting for a payload that may
// never come (not 500/10 at the read deadline, not 400/11 at EOF).
func TestUnknownTypeRefusedAtHeader(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{Args: []string{"--read-timeout-ms=3000"}})
	for _, typ := range []uint16{0x0002, 0x1234} {
		conn := d.DialRaw(t)
		h := wire.NewHeader(typ)
		h.PayloadLen = 102 // never sent
		hdr := wire.Frame(h, &wire.Msg{}).Bytes()
		start := time.Now()
		_, err := conn.Write(hdr)
		require.NoError(t, err)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		msg, err := protocol.ReadMessage(conn, protocol.MaxMessageSize)
		require.NoError(t, err, "type %#04x: no reply", typ)
		m, err := protocol.DecodeResponse(msg)
		require.NoError(t, err)
		er, ok := m.(*protocol.ErrorResponse)
		require.True(t, ok, "type %#04x: got %s", typ, describe(m))
		assert.EqualValues(t, 400, er.Status, "type %#04x: %s", typ, er.Message)
		assert.Equal(t, protocol.CodeUnknownType, er.Code, "type %#04x: %s", typ, er.Message)
		assert.EqualValues(t, 0, er.RequestID)
		assert.Less(t, time.Since(start), time.Second, "type %#04x: answered only after %v", typ, time.Since(start))
	}
}

// TestConnectionFlood: past --max-connections=8 extra connections are
// refused cleanly (500/14 or closed, none hangs) and service resumes.
func TestConnectionFlood(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{Args: []string{"--max-connections=8"}})
	base := baseline(t, d)
	flood(t, d, 8)
	requireFDsBack(t, d, base)
}

// TestNoFDLeakAfterAbuse: all the misbehaviours above against one daemon,
// then its fd count is back to the baseline and it still serves.
func TestNoFDLeakAfterAbuse(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{Args: []string{"--max-connections=60", "--write-timeout-ms=500", "--read-timeout-ms=2000"}})
	base := baseline(t, d)

	silentConnections(t, d, 50)
	_, err := d.WaitIdle(prompt)
	require.NoError(t, err)
	disconnectMidRequest(t, d)
	held := neverReadSmall(t, d)
	big := neverReadBig(t, d)
	for _, v := range loadRequestVectors(t) {
		checkVector(t, d, v)
	}
	_, err = d.WaitIdle(prompt)
	require.NoError(t, err)
	flood(t, d, 60)
	// Connections that stop mid-header and are then abandoned: the read
	// deadline (2 s here) reclaims them.
	for i := 0; i < 5; i++ {
		conn := d.DialRaw(t)
		_, err := conn.Write([]byte("WEV"))
		require.NoError(t, err)
	}
	requireFDsBack(t, d, base)
	for _, c := range held {
		c.Close()
	}
	big.Close()
	servedPromptly(t, d, 12)
	requireFDsBack(t, d, base)
}
