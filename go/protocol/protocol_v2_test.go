package protocol

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withVersion returns msg with its header version replaced.
func withVersion(msg []byte, v uint16) []byte {
	c := append([]byte(nil), msg...)
	c[4], c[5] = byte(v>>8), byte(v)
	return c
}

func TestVersionsAccepts(t *testing.T) {
	for _, tc := range []struct {
		vs   Versions
		v    uint16
		want bool
	}{
		{Versions1, 1, true}, {Versions1, 2, false}, {Versions1, 0, false},
		{Versions12, 1, true}, {Versions12, 2, true}, {Versions12, 3, false}, {Versions12, 0, false},
		{Versions{Min: 2, Max: 2}, 1, false}, {Versions{Min: 2, Max: 2}, 2, true},
		// A range wider than the package knows still refuses unknown versions.
		{Versions{Min: 0, Max: 9}, 0, false}, {Versions{Min: 0, Max: 9}, 3, false}, {Versions{Min: 0, Max: 9}, 2, true},
		{Versions{}, 1, false},
	} {
		assert.Equal(t, tc.want, tc.vs.Accepts(tc.v), "%v accepts %d", tc.vs, tc.v)
	}
}

func TestPackageDecodersServeVersion1Only(t *testing.T) {
	st, err := EncodeStatusRequest(&StatusRequest{Version: Version2, RequestID: 9})
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 2}, st[4:6], "header version 2")

	_, err = DecodeRequest(st)
	assert.ErrorIs(t, err, ErrUnsupportedVersion)
	assert.Equal(t, uint64(0), err.(*Error).RequestID, "header errors carry request_id 0")
	_, err = DecodeHeader(st)
	assert.ErrorIs(t, err, ErrUnsupportedVersion)
	_, err = ReadMessage(bytes.NewReader(st), 0)
	assert.ErrorIs(t, err, ErrUnsupportedVersion)

	m, err := Versions12.DecodeRequest(st)
	require.NoError(t, err)
	assert.Equal(t, &StatusRequest{Version: Version2, RequestID: 9}, m)
	framed, err := Versions12.ReadMessage(bytes.NewReader(st), 0)
	require.NoError(t, err)
	assert.Equal(t, st, framed)

	// A version-1 message decodes the same in both, with Version 0.
	v1, err := EncodeStatusRequest(&StatusRequest{RequestID: 9})
	require.NoError(t, err)
	for _, vs := range []Versions{Versions1, Versions12} {
		m, err := vs.DecodeRequest(v1)
		require.NoError(t, err)
		assert.Equal(t, &StatusRequest{RequestID: 9}, m)
	}
	_, err = Versions{Min: 2, Max: 2}.DecodeRequest(v1)
	assert.ErrorIs(t, err, ErrUnsupportedVersion)
}

func TestV2TypesOnlyInVersion2(t *testing.T) {
	opt, err := Encode(NewGenerateOptionsRequest(0x42, "a cat", 512, 512, 4, 7, 0, FlagProgress))
	require.NoError(t, err)
	m, err := Versions12.DecodeRequest(opt)
	require.NoError(t, err)
	assert.IsType(t, &GenerateOptionsRequest{}, m)

	_, err = Versions12.DecodeRequest(withVersion(opt, 1))
	assert.ErrorIs(t, err, ErrUnknownType, "0x0005 in a version-1 header")
	assert.Equal(t, uint64(0x42), requestIDOf(err), "request_id echoed")
	_, err = Versions1.DecodeRequest(withVersion(opt, 1))
	assert.ErrorIs(t, err, ErrUnknownType)
	_, err = Versions12.DecodeResponse(opt)
	assert.ErrorIs(t, err, ErrUnknownType, "a request sent to the response decoder")

	for _, msg := range []Message{
		&SHMGenerateResponse{RequestID: 1, Status: 200, Width: 1, Height: 1, Channels: 3, ImageSize: 3},
		&Queued{RequestID: 1, Position: 1, QueueDepth: 1},
		&Progress{RequestID: 1, Step: 1, Steps: 1},
		&Heartbeat{RequestID: 1, Phase: PhaseQueued},
	} {
		b, err := Encode(msg)
		require.NoError(t, err)
		assert.Equal(t, []byte{0, 2}, b[4:6], "%T is sent in version 2", msg)
		got, err := Versions12.DecodeResponse(b)
		require.NoError(t, err, "%T", msg)
		assert.Equal(t, msg, got)
		_, err = Versions12.DecodeResponse(withVersion(b, 1))
		assert.ErrorIs(t, err, ErrUnknownType, "%T in a version-1 header", msg)
		_, err = Versions12.DecodeRequest(b)
		assert.ErrorIs(t, err, ErrUnknownType, "%T sent to the request decoder", msg)
		assert.Equal(t, uint64(1), requestIDOf(err))
	}
}

// requestIDOf is the request_id of a decode *Error (all ones when err is
// not one).
func requestIDOf(err error) uint64 {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.RequestID
	}
	return 1<<64 - 1
}

func TestGenerateOptionsRoundtripAndRules(t *testing.T) {
	r := NewGenerateOptionsRequest(7, "a fox", 2048, 2048, 28, 7, 99, FlagSHM)
	r.ClipG = "a red fox"
	require.NoError(t, r.Validate(), "SHM lifts the reply-size rule")
	b, err := Encode(r)
	require.NoError(t, err)
	assert.Len(t, b, HeaderSize+GenerateOptionsFixedSize+5+9+5)
	m, err := Versions12.DecodeRequest(b)
	require.NoError(t, err)
	assert.Equal(t, r, m)

	r.Flags = FlagProgress
	err = r.Validate()
	assert.ErrorIs(t, err, ErrInvalidDimensions, "no SHM: 2048x2048 does not fit inline")
	b, err = Encode(r)
	require.NoError(t, err)
	_, err = Versions12.DecodeRequest(b)
	assert.ErrorIs(t, err, ErrInvalidDimensions)
	assert.Equal(t, uint64(7), requestIDOf(err))

	// Section 4's order: prompts before the reply size, SHM or not.
	r.Flags, r.T5 = FlagSHM, ""
	assert.ErrorIs(t, r.Validate(), ErrInvalidPrompt)
	r.T5, r.Steps = "x", 0
	assert.ErrorIs(t, r.Validate(), ErrInvalidSteps)
	r.Steps, r.Width = 28, 2112
	assert.ErrorIs(t, r.Validate(), ErrInvalidDimensions, "SHM keeps the side rule")

	// The encoder writes version 2 whatever the embedded Version says, and
	// reserved 0.
	r = NewGenerateOptionsRequest(1, "a", 64, 64, 1, 0, 0, 0)
	r.Version = 1
	b, err = Encode(r)
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 2, 0, 5}, b[4:8])
	assert.Equal(t, []byte{0, 0, 0, 0}, b[HeaderSize+12:HeaderSize+16], "reserved")

	big := NewGenerateOptionsRequest(1, "a", 64, 64, 1, 0, 0, 0)
	big.ClipL = string(make([]byte, MaxMessageSize))
	_, err = Encode(big)
	assert.ErrorIs(t, err, ErrTooLarge)
}

func TestStatusResponseV2(t *testing.T) {
	s := &StatusResponse{Version: Version2, RequestID: 5, Status: 200, VersionMin: 1, VersionMax: 2,
		Backend: "procedural", DaemonVersion: "0.2.0",
		V2: &StatusV2{DaemonPID: 10, Features: FlagProgress | FlagSHM, BackendState: BackendRestarting,
			WorkerPID: 0, WorkerRestarts: 3, JobsRunning: 0, LastCrash: "backend crashed (SIGSEGV)"}}
	b, err := Encode(s)
	require.NoError(t, err)
	assert.Len(t, b, HeaderSize+StatusResponseFixedSize+10+5+StatusV2FixedSize+25)
	m, err := Versions12.DecodeResponse(b)
	require.NoError(t, err)
	assert.Equal(t, s, m)

	// A version-1 decoder does not take the version-2 reply at all.
	_, err = DecodeResponse(b)
	assert.ErrorIs(t, err, ErrUnsupportedVersion)

	// Without its fields, a version-2 status reply is malformed.
	v1, err := Encode(&StatusResponse{RequestID: 5, Status: 200, Backend: "procedural"})
	require.NoError(t, err)
	_, err = Versions12.DecodeResponse(withVersion(v1, 2))
	assert.ErrorIs(t, err, ErrMalformed)
	m, err = Versions12.DecodeResponse(v1)
	require.NoError(t, err)
	assert.Nil(t, m.(*StatusResponse).V2, "version 1: no V2 fields")

	// Version and V2 must agree.
	_, err = Encode(&StatusResponse{Version: Version2, Status: 200})
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = Encode(&StatusResponse{Status: 200, V2: &StatusV2{}})
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = Encode(&StatusResponse{Version: Version2, Status: 200, V2: &StatusV2{LastCrash: string(make([]byte, 0x10000))}})
	assert.ErrorIs(t, err, ErrMalformed)
}

// TestStatusResponseV2Generations: SPEC 11.6's optional pair after
// last_crash: decoded when at least 16 bytes follow last_crash, absent
// (and the bytes ignored) with fewer; the encoder writes it only when the
// value carries it.
func TestStatusResponseV2Generations(t *testing.T) {
	base := func() *StatusResponse {
		return &StatusResponse{Version: Version2, RequestID: 5, Status: 200, VersionMin: 1, VersionMax: 2,
			Backend: "procedural", DaemonVersion: "0.2.0",
			V2: &StatusV2{DaemonPID: 10, Features: FlagProgress, BackendState: BackendLoaded, WorkerPID: 11,
				JobsRunning: 1, LastCrash: "backend crashed (SIGSEGV)"}}
	}
	enc := func(s *StatusResponse) []byte {
		b, err := Encode(s)
		require.NoError(t, err)
		return b
	}
	old := enc(base())
	withPair := base()
	withPair.V2.Generations, withPair.V2.GenerationUS, withPair.V2.HasGenerations = 42, 329412345, true
	b := enc(withPair)
	require.Len(t, b, len(old)+GenerationTotalsSize)
	assert.Equal(t, old[16:], b[16:len(old)], "the pair goes after last_crash")
	assert.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 0, 0x13, 0xA2, 0x6E, 0xF9}, b[len(old):], "big-endian u64s")
	m, err := Versions12.DecodeResponse(b)
	require.NoError(t, err)
	assert.Equal(t, withPair, m)
	assert.Equal(t, b, enc(m.(*StatusResponse)), "roundtrip")

	// HasGenerations decides; the values alone are not written.
	noFlag := base()
	noFlag.V2.Generations, noFlag.V2.GenerationUS = 1, 2
	assert.Equal(t, old, enc(noFlag))

	// Zeros are present, not absent.
	zeros := base()
	zeros.V2.HasGenerations = true
	m, err = Versions12.DecodeResponse(enc(zeros))
	require.NoError(t, err)
	assert.True(t, m.(*StatusResponse).V2.HasGenerations)

	// withTail is the old reply with extra bytes after last_crash.
	withTail := func(extra []byte) []byte {
		c := append(append([]byte(nil), old...), extra...)
		n := uint32(len(c) - HeaderSize)
		c[8], c[9], c[10], c[11] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		return c
	}
	pair := b[len(old):]
	tests := []struct {
		name  string
		extra []byte
		want  *StatusV2 // nil: the pair absent
	}{
		{"none (an older daemon)", nil, nil},
		{"1 byte", []byte{1}, nil},
		{"15 bytes", pair[:15], nil},
		{"16 bytes", pair, withPair.V2},
		{"the pair and 3 more", append(append([]byte(nil), pair...), 7, 8, 9), withPair.V2},
		{"the maximum", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
			&StatusV2{DaemonPID: 10, Features: FlagProgress, BackendState: BackendLoaded, WorkerPID: 11, JobsRunning: 1,
				LastCrash: "backend crashed (SIGSEGV)", Generations: 1<<64 - 1, GenerationUS: 1<<64 - 1, HasGenerations: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := withTail(tt.extra)
			m, err := Versions12.DecodeResponse(msg)
			require.NoError(t, err)
			want := tt.want
			if want == nil {
				want = base().V2
			}
			assert.Equal(t, want, m.(*StatusResponse).V2)
			back, err := Versions12.DecodeResponse(enc(m.(*StatusResponse)))
			require.NoError(t, err)
			assert.Equal(t, m, back, "re-encoding decodes to the same value")
		})
	}

	// Still refused when the reply ends before last_crash does, pair or not.
	cut := withTail(nil)
	cut = cut[:len(cut)-1]
	cut[11]--
	_, err = Versions12.DecodeResponse(cut)
	assert.ErrorIs(t, err, ErrMalformed)

	// The size check still bounds last_crash with the pair.
	long := base()
	long.V2.HasGenerations = true
	long.V2.LastCrash = string(make([]byte, 0x10000))
	_, err = Encode(long)
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestV2ResponseRules(t *testing.T) {
	enc := func(m Message) []byte {
		b, err := Encode(m)
		require.NoError(t, err)
		return b
	}
	for name, b := range map[string][]byte{
		"shm status 500":      enc(&SHMGenerateResponse{Status: 500, Width: 1, Height: 1, Channels: 3, ImageSize: 3}),
		"shm channels 2":      enc(&SHMGenerateResponse{Status: 200, Width: 1, Height: 1, Channels: 2, ImageSize: 2}),
		"shm size mismatch":   enc(&SHMGenerateResponse{Status: 200, Width: 1, Height: 1, Channels: 3, ImageSize: 4}),
		"shm over 2^30":       enc(&SHMGenerateResponse{Status: 200, Width: 16384, Height: 16385, Channels: 4, ImageSize: 16384 * 16385 * 4}),
		"shm wraps 64 bits":   enc(&SHMGenerateResponse{Status: 200, Width: 1 << 31, Height: 1 << 31, Channels: 4, ImageSize: 0}),
		"queued position 0":   enc(&Queued{Position: 0, QueueDepth: 1}),
		"queued past depth":   enc(&Queued{Position: 2, QueueDepth: 1}),
		"progress steps 0":    enc(&Progress{Step: 0, Steps: 0}),
		"progress past steps": enc(&Progress{Step: 3, Steps: 2}),
		"heartbeat phase 3":   enc(&Heartbeat{Phase: 3}),
	} {
		_, err := Versions12.DecodeResponse(b)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
	ok := enc(&SHMGenerateResponse{Status: 200, Width: 16384, Height: 16384, Channels: 4, ImageSize: MaxSHMImageSize})
	_, err := Versions12.DecodeResponse(ok)
	assert.NoError(t, err, "image_size exactly 2^30")
}

func TestV2ReadMessageTruncated(t *testing.T) {
	b, err := Encode(&Progress{RequestID: 0xAB, Step: 1, Steps: 2})
	require.NoError(t, err)
	_, err = Versions12.ReadMessage(bytes.NewReader(b[:len(b)-1]), 0)
	assert.ErrorIs(t, err, ErrMalformed)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, uint64(0xAB), requestIDOf(err))
}

func TestV2MsgTypeNames(t *testing.T) {
	for typ, name := range map[MsgType]string{
		TypeGenerateOptions: "generate request with options",
		TypeSHMResponse:     "shared-memory generate response",
		TypeQueued:          "queued",
		TypeProgress:        "progress",
		TypeHeartbeat:       "heartbeat",
		0x0013:              "msg_type 0x0013",
	} {
		assert.Equal(t, name, typ.String())
	}
	assert.Equal(t, TypeGenerateOptions, GenerateOptionsRequest{}.MsgType(), "not the embedded request's type")
}
