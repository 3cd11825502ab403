package protocol

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/weave-app/weave/go/protocol/vecfile"
)

// vector is one proto_spec/testdata/*.vec file (format:
// proto_spec/testdata/README.md), read by the shared reader vecfile.
type vector struct{ *vecfile.Vector }

// loadVectors reads every vector (vecfile.Dir: Bazel runfiles, the module
// root for `go test`, or WEAVE_VECTOR_DIR, e.g. to try a freshly generated
// set: go run ./tools/vecgen -out /tmp/vec && WEAVE_VECTOR_DIR=/tmp/vec go
// test ./go/protocol). It fails the test on zero vectors and on any file that
// does not follow testdata/README.md.
func loadVectors(tb testing.TB) []vector {
	tb.Helper()
	vs, err := vecfile.LoadDefault()
	if err != nil {
		tb.Fatalf("vector files: %v", err)
	}
	out := make([]vector, len(vs))
	for i, v := range vs {
		out[i] = vector{v}
	}
	return out
}

// expected builds the message a result: ok vector describes.
func (v *vector) expected() (Message, uint16, error) {
	var firstErr error
	fail := func(key string, err error) {
		if firstErr == nil {
			firstErr = fmt.Errorf("%s: %v", key, err)
		}
	}
	// u reads an integer field that must fit in bits (vecfile checks the
	// README's widths too; this says what the Go struct field can hold).
	u := func(key string, bits int) uint64 {
		n, err := v.Uint(key)
		if err == nil && bits < 64 && n>>uint(bits) != 0 {
			err = fmt.Errorf("%d does not fit in %d bits", n, bits)
		}
		if err != nil {
			fail(key, err)
		}
		return n
	}
	b := func(key string) []byte {
		d, err := v.Hex(key)
		if err != nil {
			fail(key, err)
		}
		return d
	}
	str := func(key string) string {
		s, err := v.String(key)
		if err != nil {
			fail(key, err)
		}
		return s
	}
	version := uint16(u("version", 16))
	// The Version field of the version-1 types: 0 means version 1.
	fv := version
	if fv == Version {
		fv = 0
	}
	// genReq is section 4's fields, which 0x0005 carries too.
	genReq := func() GenerateRequest {
		return GenerateRequest{
			Version:   fv,
			RequestID: u("request_id", 64),
			ModelID:   uint32(u("model_id", 32)),
			Width:     uint32(u("width", 32)),
			Height:    uint32(u("height", 32)),
			Steps:     uint32(u("steps", 32)),
			CFGScale:  math.Float32frombits(uint32(u("cfg_bits", 32))),
			Seed:      u("seed", 64),
			ClipL:     string(b("clip_l_hex")),
			ClipG:     string(b("clip_g_hex")),
			T5:        string(b("t5_hex")),
		}
	}
	var m Message
	switch v.Type {
	case "generate_request":
		r := genReq()
		m = &r
	case "status_request":
		m = &StatusRequest{Version: fv, RequestID: u("request_id", 64)}
	case "generate_response":
		r := &GenerateResponse{
			Version:          fv,
			RequestID:        u("request_id", 64),
			Status:           uint32(u("status", 32)),
			GenerationTimeMS: uint32(u("generation_time_ms", 32)),
			Width:            uint32(u("width", 32)),
			Height:           uint32(u("height", 32)),
			Channels:         uint32(u("channels", 32)),
			Pixels:           b("image_hex"),
		}
		if str("seed") != "none" {
			r.Seed, r.HasSeed = u("seed", 64), true
		}
		m = r
	case "status_response", "status_response_v2":
		r := &StatusResponse{
			Version:         fv,
			RequestID:       u("request_id", 64),
			Status:          uint32(u("status", 32)),
			VersionMin:      uint16(u("version_min", 16)),
			VersionMax:      uint16(u("version_max", 16)),
			UptimeMS:        u("uptime_ms", 64),
			RequestsServed:  u("requests_served", 64),
			ConnectionsOpen: uint32(u("connections_open", 32)),
			MaxConnections:  uint32(u("max_connections", 32)),
			QueueDepth:      uint32(u("queue_depth", 32)),
			Backend:         str("backend"),
			DaemonVersion:   str("daemon_version"),
		}
		if v.Type == "status_response_v2" {
			r.V2 = &StatusV2{
				DaemonPID:      uint32(u("daemon_pid", 32)),
				Features:       uint32(u("features", 32)),
				BackendState:   uint16(u("backend_state", 16)),
				WorkerPID:      uint32(u("worker_pid", 32)),
				WorkerRestarts: uint32(u("worker_restarts", 32)),
				JobsRunning:    uint32(u("jobs_running", 32)),
				LastCrash:      str("last_crash"),
			}
			// The optional pair (vecfile: both or neither); absent,
			// the decoder must report it absent.
			if v.Has("generations") {
				r.V2.Generations, r.V2.GenerationUS, r.V2.HasGenerations = u("generations", 64), u("generation_us", 64), true
			}
		}
		m = r
	case "generate_request_options":
		m = &GenerateOptionsRequest{GenerateRequest: genReq(), Flags: uint32(u("flags", 32))}
	case "shm_generate_response":
		m = &SHMGenerateResponse{
			RequestID:        u("request_id", 64),
			Status:           uint32(u("status", 32)),
			GenerationTimeMS: uint32(u("generation_time_ms", 32)),
			Width:            uint32(u("width", 32)),
			Height:           uint32(u("height", 32)),
			Channels:         uint32(u("channels", 32)),
			ImageSize:        u("image_size", 64),
			Seed:             u("seed", 64),
		}
	case "queued":
		m = &Queued{RequestID: u("request_id", 64), Position: uint32(u("position", 32)), QueueDepth: uint32(u("queue_depth", 32))}
	case "progress":
		m = &Progress{RequestID: u("request_id", 64), Step: uint32(u("step", 32)), Steps: uint32(u("steps", 32)),
			ElapsedMS: uint32(u("elapsed_ms", 32))}
	case "heartbeat":
		m = &Heartbeat{RequestID: u("request_id", 64), Phase: uint32(u("phase", 32)), ElapsedMS: uint32(u("elapsed_ms", 32))}
	case "error":
		m = &ErrorResponse{
			Version:   fv,
			RequestID: u("request_id", 64),
			Status:    uint32(u("status", 32)),
			Code:      ErrorCode(u("code", 32)),
			Message:   str("message"),
		}
	default:
		return nil, 0, fmt.Errorf("no expectation for type %q", v.Type)
	}
	return m, version, firstErr
}

// versions is the decoder range the vector names (1..1 without the key).
func (v *vector) versions() Versions {
	return Versions{Min: v.VersionMin, Max: v.VersionMax}
}

func (v *vector) decode(msg []byte) (Message, error) {
	if v.Decoder == "request" {
		return v.versions().DecodeRequest(msg)
	}
	return v.versions().DecodeResponse(msg)
}

// normalize makes decoded and expected messages comparable with
// assert.Equal (Pixels: empty and nil are the same image).
func normalize(m Message) Message {
	if r, ok := m.(*GenerateResponse); ok && len(r.Pixels) == 0 {
		c := *r
		c.Pixels = nil
		return &c
	}
	return m
}

func TestVectors(t *testing.T) {
	vs := loadVectors(t)
	require.NotEmpty(t, vs, "no *.vec files")
	for _, v := range vs {
		v := v
		t.Run(strings.TrimSuffix(v.Name, ".vec"), func(t *testing.T) {
			checkVector(t, v)
		})
	}
}

func checkVector(t *testing.T, v vector) {
	got, err := v.decode(v.Bytes)
	if !v.OK() {
		require.Error(t, err, "decoded %#v, want error code %d", got, v.ErrCode)
		var pe *Error
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, ErrorCode(v.ErrCode), pe.Code, "error code (%v)", err)
		assert.Equal(t, v.ErrStatus, pe.Status(), "error status (%v)", err)
		if v.HasErrRequestID {
			assert.Equal(t, v.ErrRequestID, pe.RequestID, "error request_id (%v)", err)
		}
		assert.ErrorIs(t, err, Sentinel(ErrorCode(v.ErrCode)))
		return
	}
	require.NoError(t, err)
	want, version, err := v.expected()
	require.NoError(t, err, "vector fields")
	h, err := v.versions().DecodeHeader(v.Bytes)
	require.NoError(t, err)
	assert.Equal(t, version, h.Version, "version")
	assert.Equal(t, want.MsgType(), got.MsgType(), "type")
	assert.Equal(t, normalize(want), normalize(got))

	// ReadMessage frames the same message (ignoring trailing bytes).
	rd := bytes.NewReader(v.Bytes)
	framed, err := v.versions().ReadMessage(rd, 0)
	require.NoError(t, err, "ReadMessage")
	assert.Equal(t, v.Bytes[:h.MessageSize()], framed)
	again, err := v.decode(framed)
	require.NoError(t, err)
	assert.Equal(t, normalize(got), normalize(again))

	enc, err := Encode(got)
	require.NoError(t, err, "re-encode")
	if v.Roundtrip {
		assert.Equal(t, hex.EncodeToString(v.Bytes), hex.EncodeToString(enc), "re-encoding differs")
	} else {
		// Still a fixed point: what we encode decodes to the same value.
		back, err := v.decode(enc)
		require.NoError(t, err, "decode re-encoded")
		assert.Equal(t, normalize(got), normalize(back))
	}
}
