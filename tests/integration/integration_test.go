// Package integration_test runs the real Go client against the real
// weave-compute daemon: request/response round trips (pixel for pixel
// against an independent reference of the procedural backend), the matching
// UID case, and sequential load. Other-UID rejection is in tests/peercred.
package integration_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/weave-app/weave/go/protocol"
	"github.com/weave-app/weave/tests/internal/daemontest"
)

// TestStatusRoundTrip: daemon starts, client connects, sends a status
// request, receives a well-formed status reply.
func TestStatusRoundTrip(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{Args: []string{"--max-connections=17"}})
	st, err := d.Client(t).Status(daemontest.Context(t))
	require.NoError(t, err)
	assert.EqualValues(t, 200, st.Status)
	assert.EqualValues(t, 1, st.VersionMin)
	assert.EqualValues(t, 2, st.VersionMax) // versions 1 and 2 (SPEC section 11)
	assert.EqualValues(t, 17, st.MaxConnections, "max_connections reflects --max-connections")
	assert.GreaterOrEqual(t, st.ConnectionsOpen, uint32(1), "connections_open includes the one asking")
	assert.Equal(t, "procedural", st.Backend)
	assert.NotEmpty(t, st.DaemonVersion)
	assert.EqualValues(t, 0, st.QueueDepth)
}

// TestMatchingUIDAccepted: a client of the daemon's own UID is served, and
// (at DEBUG) the daemon logs no rejection for it.
func TestMatchingUIDAccepted(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{Args: []string{"--log-level=debug"}})
	c := d.Client(t)
	_, err := c.Status(daemontest.Context(t))
	require.NoError(t, err)
	resp, err := c.Generate(daemontest.Context(t), protocol.NewGenerateRequest(0, "same uid", 64, 64, 1, 1.0, 7))
	require.NoError(t, err)
	assert.Len(t, resp.Pixels, 64*64*3)

	code, err := d.Stop()
	require.NoError(t, err)
	require.Equal(t, 0, code)
	assert.NotContains(t, d.Stderr(), "rejected connection")
}

// TestManySequentialRequests: 200 requests, one connection each, all
// succeed; requests_served counts them.
func TestManySequentialRequests(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	c := d.Client(t)
	ctx := daemontest.Context(t)
	first, err := c.Status(ctx)
	require.NoError(t, err)
	const n = 200
	for i := 0; i < n; i++ {
		if i%4 == 0 {
			resp, err := c.Generate(ctx, protocol.NewGenerateRequest(uint64(1000+i), fmt.Sprintf("request %d", i), 64, 64, 1, 2.5, uint64(i+1)))
			require.NoError(t, err, "request %d", i)
			require.Len(t, resp.Pixels, 64*64*3)
			require.EqualValues(t, 1000+i, resp.RequestID)
		} else {
			_, err := c.Status(ctx)
			require.NoError(t, err, "request %d", i)
		}
	}
	last, err := c.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, first.RequestsServed+n+1, last.RequestsServed)
	assert.False(t, d.Exited())
}

// TestErrorReplyOverSocket: a request the client library refuses locally is
// also refused by the daemon with the same code when sent raw.
func TestErrorReplyOverSocket(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	c := d.Client(t)
	req := protocol.NewGenerateRequest(77, "too wide", 100, 64, 1, 1, 1)
	msg, err := protocol.EncodeGenerateRequest(req)
	require.NoError(t, err)
	reply, err := c.Send(daemontest.Context(t), msg)
	require.NoError(t, err)
	m, err := protocol.DecodeResponse(reply)
	require.NoError(t, err)
	er, ok := m.(*protocol.ErrorResponse)
	require.True(t, ok, "got %T", m)
	assert.EqualValues(t, 400, er.Status)
	assert.Equal(t, protocol.CodeInvalidDimensions, er.Code)
	assert.EqualValues(t, 77, er.RequestID)

	// 2048x2048 passes the width rule but its reply cannot fit: 400/5
	// naming 1856x1856.
	msg, err = protocol.EncodeGenerateRequest(protocol.NewGenerateRequest(78, "huge", 2048, 2048, 1, 1, 1))
	require.NoError(t, err)
	reply, err = c.Send(daemontest.Context(t), msg)
	require.NoError(t, err)
	m, err = protocol.DecodeResponse(reply)
	require.NoError(t, err)
	er, ok = m.(*protocol.ErrorResponse)
	require.True(t, ok, "got %T", m)
	assert.Equal(t, protocol.CodeInvalidDimensions, er.Code)
	assert.EqualValues(t, 78, er.RequestID)
	assert.Contains(t, er.Message, "1856x1856")
}
