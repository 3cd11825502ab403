// Package crosslang_test checks that the Go and C codecs agree on the wire
// format: over every proto_spec/testdata vector, Go encodes, the C codec
// (c/protocol/codec_roundtrip.c) decodes and re-encodes, and Go decodes the
// result. For invalid request vectors, the C decoder must refuse them with
// the error reply the vector names.
package crosslang_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/weave-app/weave/go/protocol"
	"github.com/weave-app/weave/go/protocol/vecfile"
	"github.com/weave-app/weave/tests/internal/daemontest"
)

// EnvCodecBin names the variable holding the codec_roundtrip binary.
const EnvCodecBin = "WEAVE_CODEC_ROUNDTRIP_BIN"

// codecBinary is //c/protocol:codec_roundtrip, from $WEAVE_CODEC_ROUNDTRIP_BIN (set
// by the BUILD file to its rootpath; for host `go test`, export it).
func codecBinary(t *testing.T) string {
	t.Helper()
	return daemontest.BinaryFromEnv(t, "C codec_roundtrip", EnvCodecBin, "//c/protocol:codec_roundtrip")
}

// Exit statuses of codec_roundtrip.
const (
	exitOK          = 0
	exitDecodeError = 3
)

// runC feeds msg to the C tool with the given decoder, serving the vector's
// versions, and returns its stdout and exit status.
func runC(t *testing.T, bin string, v *vecfile.Vector, msg []byte) ([]byte, int) {
	t.Helper()
	decoder := v.Decoder
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, decoder, fmt.Sprintf("%d..%d", v.VersionMin, v.VersionMax))
	cmd.Stdin = bytes.NewReader(msg)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "codec_roundtrip %s timed out", decoder)
	code := 0
	if err != nil {
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "run codec_roundtrip %s: %v", decoder, err)
		code = ee.ExitCode()
	}
	if code != exitOK && code != exitDecodeError {
		t.Fatalf("codec_roundtrip %s exited %d: %s", decoder, code, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), code
}

// decode is the Go decoder the vector names, serving its versions.
func decode(v *vecfile.Vector, msg []byte) (protocol.Message, error) {
	vs := protocol.Versions{Min: v.VersionMin, Max: v.VersionMax}
	if v.Decoder == "request" {
		return vs.DecodeRequest(msg)
	}
	return vs.DecodeResponse(msg)
}

// normalize makes decoded messages comparable (Pixels: empty and nil are
// the same image), as go/protocol's vector test does.
func normalize(m protocol.Message) protocol.Message {
	if r, ok := m.(*protocol.GenerateResponse); ok && len(r.Pixels) == 0 {
		c := *r
		c.Pixels = nil
		return &c
	}
	return m
}

// sameBytes compares as hex, so a failure shows where the bytes differ.
func sameBytes(t *testing.T, want, got []byte, what string) bool {
	t.Helper()
	return assert.Equal(t, hex.EncodeToString(want), hex.EncodeToString(got), what)
}

func TestGoEncodeCDecodeReencodeGoDecode(t *testing.T) {
	bin := codecBinary(t)
	vs, err := vecfile.LoadDefault()
	require.NoError(t, err)
	var ok, refused int
	for _, v := range vs {
		v := v
		switch {
		case v.OK():
			ok++
			t.Run(strings.TrimSuffix(v.Name, ".vec"), func(t *testing.T) { checkValid(t, bin, v) })
		case v.Decoder == "request":
			refused++
			t.Run(strings.TrimSuffix(v.Name, ".vec"), func(t *testing.T) { checkRefused(t, bin, v) })
		}
	}
	require.NotZero(t, ok, "no result: ok vector")
	require.NotZero(t, refused, "no result: error vector for the request decoder")
}

// checkValid: Go decodes the vector and encodes it; C decodes that and
// re-encodes; Go decodes C's bytes to the same value. For roundtrip: yes
// vectors the bytes are the vector's at every hop. For the others (the
// vector has bytes a decoder ignores), Go's encoding is canonical, and both
// codecs must give back exactly those canonical bytes from then on.
func checkValid(t *testing.T, bin string, v *vecfile.Vector) {
	first, err := decode(v, v.Bytes)
	require.NoError(t, err, "Go decodes the vector")
	goBytes, err := protocol.Encode(first)
	require.NoError(t, err, "Go encodes")
	if v.Roundtrip {
		sameBytes(t, v.Bytes, goBytes, "Go's encoding of the vector")
	}

	cBytes, code := runC(t, bin, v, goBytes)
	require.Equal(t, exitOK, code, "C refuses Go's encoding (its error reply: %x)", cBytes)
	sameBytes(t, goBytes, cBytes, "C's re-encoding of Go's bytes")

	back, err := decode(v, cBytes)
	require.NoError(t, err, "Go decodes C's bytes %x", cBytes)
	assert.Equal(t, normalize(first), normalize(back), "value after Go -> C -> Go")
	vs := protocol.Versions{Min: v.VersionMin, Max: v.VersionMax}
	h, err := vs.DecodeHeader(cBytes)
	require.NoError(t, err)
	hv, err := vs.DecodeHeader(v.Bytes)
	require.NoError(t, err)
	assert.Equal(t, hv.Version, h.Version, "header version after C")
	again, err := protocol.Encode(back)
	require.NoError(t, err)
	sameBytes(t, cBytes, again, "Go's encoding of what it decoded from C")
}

// checkRefused: the C request decoder refuses the vector's bytes (exit 3)
// with exactly the error reply the vector names.
func checkRefused(t *testing.T, bin string, v *vecfile.Vector) {
	require.True(t, v.HasErrRequestID, "request vector without error.request_id")
	out, code := runC(t, bin, v, v.Bytes)
	require.Equal(t, exitDecodeError, code, "C accepts a message the vector says is an error %d/%d (re-encoded: %x)",
		v.ErrStatus, v.ErrCode, out)
	m, err := protocol.DecodeResponse(out)
	require.NoError(t, err, "Go decodes C's error reply %x", out)
	er, ok := m.(*protocol.ErrorResponse)
	require.True(t, ok, "C's reply is a %T, not an error reply", m)
	assert.Equal(t, v.ErrStatus, er.Status, "status (%s)", er.Message)
	assert.Equal(t, protocol.ErrorCode(v.ErrCode), er.Code, "code (%s)", er.Message)
	assert.Equal(t, v.ErrRequestID, er.RequestID, "request_id (%s)", er.Message)
	framed, err := protocol.ReadMessage(bytes.NewReader(out), 0)
	require.NoError(t, err)
	assert.Equal(t, len(out), len(framed), "C wrote exactly one message")
}
