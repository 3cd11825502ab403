package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	require.NoError(t, err)
	return b
}

// The SPEC section 4 worked example, laid out by hand.
const example118 = `
57455645 0001 0001 00000066 00000000
0000000000000001 00000000 00000200 00000200 0000001c 40e00000 0000000000000000
00000000 0000000e 0000000e 0000000e 0000001c 0000000e
612063617420696e207370616365 612063617420696e207370616365 612063617420696e207370616365`

func TestConstants(t *testing.T) {
	assert.Equal(t, 10485760, MaxMessageSize)
	assert.Equal(t, 10485744, MaxPayloadSize)
	assert.Equal(t, []byte("WEVE"), binary.BigEndian.AppendUint32(nil, Magic))
	// 1856 is the largest square (multiple of 64) whose RGB reply fits.
	assert.LessOrEqual(t, ReplySize(MaxSquareDimension, MaxSquareDimension, ReplyChannels), uint64(MaxMessageSize))
	assert.Greater(t, ReplySize(MaxSquareDimension+DimensionStep, MaxSquareDimension+DimensionStep, ReplyChannels), uint64(MaxMessageSize))
	assert.Equal(t, uint64(16+32+2048*2048*3+8), ReplySize(2048, 2048, 3))
	assert.Equal(t, uint64(math.MaxUint64), ReplySize(0xFFFFFFFF, 0xFFFFFFFF, 3), "saturates")
	assert.Equal(t, uint64(math.MaxUint64), ReplySize(0x80000000, 0x80000000, 4), "2^64 saturates, not 0")
	assert.Equal(t, uint64(56), ReplySize(0xFFFFFFFF, 0xFFFFFFFF, 0))
}

func TestStrings(t *testing.T) {
	types := map[MsgType]string{
		TypeGenerateRequest: "generate request", TypeGenerateResponse: "generate response",
		TypeStatusRequest: "status request", TypeStatusResponse: "status response",
		TypeError: "error", 7: "msg_type 0x0007",
	}
	for typ, s := range types {
		assert.Equal(t, s, typ.String())
	}
	codes := []struct {
		code   ErrorCode
		name   string
		status uint32
	}{
		{CodeNone, "none", 0},
		{CodeInvalidMagic, "invalid magic", 400},
		{CodeUnsupportedVersion, "unsupported version", 400},
		{CodeInvalidModel, "invalid model", 400},
		{CodeInvalidPrompt, "invalid prompt", 400},
		{CodeInvalidDimensions, "invalid dimensions", 400},
		{CodeInvalidSteps, "invalid steps", 400},
		{CodeInvalidCFG, "invalid cfg", 400},
		{CodeOutOfMemory, "out of memory", 500},
		{CodeGPU, "GPU error", 500},
		{CodeTimeout, "timeout", 500},
		{CodeMalformed, "malformed message", 400},
		{CodeUnknownType, "unknown message type", 400},
		{CodeTooLarge, "message too large", 400},
		{CodeBusy, "server busy", 500},
		{CodeInternal, "internal", 500},
		{42, "error code 42", 500},
	}
	for _, tc := range codes {
		assert.Equal(t, tc.name, tc.code.String(), "code %d", uint32(tc.code))
		assert.Equal(t, tc.status, tc.code.Status(), "code %d", uint32(tc.code))
		assert.Equal(t, tc.code != 42, tc.code.Known(), "code %d", uint32(tc.code))
		if tc.code != CodeNone && tc.code != 42 {
			require.NotNil(t, Sentinel(tc.code))
			assert.Equal(t, tc.name, Sentinel(tc.code).Error())
		} else {
			assert.Nil(t, Sentinel(tc.code))
		}
	}
}

func header(magic uint32, version uint16, typ MsgType, payloadLen uint32) []byte {
	return AppendHeader(nil, Header{Magic: magic, Version: version, Type: typ, PayloadLen: payloadLen, Reserved: 0xDEADBEEF})
}

func TestDecodeHeader(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		code ErrorCode
	}{
		{"ok", header(Magic, 1, TypeGenerateRequest, 102), CodeNone},
		{"ok max payload", header(Magic, 1, TypeGenerateResponse, MaxPayloadSize), CodeNone},
		{"ok unknown type (not judged)", header(Magic, 1, 0x1234, 0), CodeNone},
		{"short", header(Magic, 1, 1, 0)[:15], CodeMalformed},
		{"empty", nil, CodeMalformed},
		{"bad magic", header(0x57455646, 1, 1, 0), CodeInvalidMagic},
		{"little-endian magic", header(0x45564557, 1, 1, 0), CodeInvalidMagic},
		{"magic before version and size", header(0, 2, 1, 0xFFFFFFFF), CodeInvalidMagic},
		{"version 0", header(Magic, 0, 1, 0), CodeUnsupportedVersion},
		{"version 2", header(Magic, 2, 1, 0), CodeUnsupportedVersion},
		{"version before size", header(Magic, 0x100, 1, 0xFFFFFFFF), CodeUnsupportedVersion},
		{"too large by one", header(Magic, 1, 1, MaxPayloadSize+1), CodeTooLarge},
		{"too large max", header(Magic, 1, 0x9999, 0xFFFFFFFF), CodeTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := DecodeHeader(tc.b)
			if tc.code == CodeNone {
				require.NoError(t, err)
				assert.Equal(t, Magic, h.Magic)
				assert.Equal(t, uint32(0xDEADBEEF), h.Reserved)
				return
			}
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.code, pe.Code, "%v", err)
			assert.Equal(t, uint64(0), pe.RequestID)
			assert.Equal(t, uint32(400), pe.Status())
		})
	}
}

func TestEncodeGenerateRequestWorkedExample(t *testing.T) {
	r := NewGenerateRequest(1, "a cat in space", 512, 512, 28, 7.0, 0)
	require.NoError(t, r.Validate())
	got, err := EncodeGenerateRequest(r)
	require.NoError(t, err)
	want := mustHex(t, example118)
	require.Len(t, want, 118)
	assert.Equal(t, hex.EncodeToString(want), hex.EncodeToString(got))

	m, err := DecodeRequest(got)
	require.NoError(t, err)
	assert.Equal(t, r, m)

	// Append keeps the prefix.
	prefixed, err := AppendGenerateRequest([]byte("xy"), r)
	require.NoError(t, err)
	assert.Equal(t, append([]byte("xy"), want...), prefixed)
}

func TestEncodeGenerateRequestDistinctPrompts(t *testing.T) {
	r := &GenerateRequest{RequestID: 0x0102030405060708, Width: 64, Height: 128, Steps: 1, CFGScale: 20, Seed: 42,
		ClipL: "ab", ClipG: "cde", T5: "\u00e9"}
	b, err := EncodeGenerateRequest(r)
	require.NoError(t, err)
	require.Len(t, b, 16+60+7)
	p := b[16:]
	offs := []uint32{}
	for i := 36; i < 60; i += 4 {
		offs = append(offs, binary.BigEndian.Uint32(p[i:]))
	}
	assert.Equal(t, []uint32{0, 2, 2, 3, 5, 2}, offs)
	assert.Equal(t, "abcde\u00e9", string(p[60:]))
	m, err := DecodeRequest(b)
	require.NoError(t, err)
	assert.Equal(t, r, m)
}

func TestEncodeGenerateRequestTooLarge(t *testing.T) {
	big := strings.Repeat("x", MaxPayloadSize/3)
	_, err := EncodeGenerateRequest(&GenerateRequest{ClipL: big, ClipG: big, T5: big})
	assert.ErrorIs(t, err, ErrTooLarge)
	// Not validated by the encoder: invalid values are still encodable.
	b, err := EncodeGenerateRequest(&GenerateRequest{Width: 1, CFGScale: float32(math.NaN())})
	require.NoError(t, err)
	assert.Len(t, b, 76)
}

func TestValidate(t *testing.T) {
	ok := func() *GenerateRequest { return NewGenerateRequest(9, "p", 512, 512, 28, 7, 0) }
	tests := []struct {
		name   string
		modify func(r *GenerateRequest)
		code   ErrorCode
	}{
		{"ok", func(r *GenerateRequest) {}, CodeNone},
		{"model 1", func(r *GenerateRequest) { r.ModelID = 1 }, CodeInvalidModel},
		{"width 64", func(r *GenerateRequest) { r.Width = 64 }, CodeNone},
		{"width 2048 height 64", func(r *GenerateRequest) { r.Width, r.Height = 2048, 64 }, CodeNone},
		{"width 0", func(r *GenerateRequest) { r.Width = 0 }, CodeInvalidDimensions},
		{"width 63", func(r *GenerateRequest) { r.Width = 63 }, CodeInvalidDimensions},
		{"width 100", func(r *GenerateRequest) { r.Width = 100 }, CodeInvalidDimensions},
		{"width 2112", func(r *GenerateRequest) { r.Width = 2112 }, CodeInvalidDimensions},
		{"width 2^32-64", func(r *GenerateRequest) { r.Width = 0xFFFFFFC0 }, CodeInvalidDimensions},
		{"height 65", func(r *GenerateRequest) { r.Height = 65 }, CodeInvalidDimensions},
		{"steps 0", func(r *GenerateRequest) { r.Steps = 0 }, CodeInvalidSteps},
		{"steps 1", func(r *GenerateRequest) { r.Steps = 1 }, CodeNone},
		{"steps 100", func(r *GenerateRequest) { r.Steps = 100 }, CodeNone},
		{"steps 101", func(r *GenerateRequest) { r.Steps = 101 }, CodeInvalidSteps},
		{"cfg 0", func(r *GenerateRequest) { r.CFGScale = 0 }, CodeNone},
		{"cfg -0", func(r *GenerateRequest) { r.CFGScale = float32(math.Copysign(0, -1)) }, CodeNone},
		{"cfg 20", func(r *GenerateRequest) { r.CFGScale = 20 }, CodeNone},
		{"cfg just over 20", func(r *GenerateRequest) { r.CFGScale = math.Nextafter32(20, 21) }, CodeInvalidCFG},
		{"cfg tiny negative", func(r *GenerateRequest) { r.CFGScale = -math.SmallestNonzeroFloat32 }, CodeInvalidCFG},
		{"cfg NaN", func(r *GenerateRequest) { r.CFGScale = float32(math.NaN()) }, CodeInvalidCFG},
		{"cfg +Inf", func(r *GenerateRequest) { r.CFGScale = float32(math.Inf(1)) }, CodeInvalidCFG},
		{"cfg -Inf", func(r *GenerateRequest) { r.CFGScale = float32(math.Inf(-1)) }, CodeInvalidCFG},
		{"clip_l empty", func(r *GenerateRequest) { r.ClipL = "" }, CodeInvalidPrompt},
		{"clip_g empty", func(r *GenerateRequest) { r.ClipG = "" }, CodeInvalidPrompt},
		{"t5 empty", func(r *GenerateRequest) { r.T5 = "" }, CodeInvalidPrompt},
		{"prompt 2048", func(r *GenerateRequest) { r.ClipL = strings.Repeat("a", 2048) }, CodeNone},
		{"prompt 2049", func(r *GenerateRequest) { r.T5 = strings.Repeat("a", 2049) }, CodeInvalidPrompt},
		{"prompt NUL ok", func(r *GenerateRequest) { r.ClipG = "a\x00b" }, CodeNone},
		{"prompt 4-byte utf8", func(r *GenerateRequest) { r.ClipG = "\U0001F431" }, CodeNone},
		{"prompt invalid byte", func(r *GenerateRequest) { r.ClipL = "a\xffb" }, CodeInvalidPrompt},
		{"prompt surrogate", func(r *GenerateRequest) { r.ClipG = "\xed\xa0\x80" }, CodeInvalidPrompt},
		{"prompt overlong", func(r *GenerateRequest) { r.T5 = "\xc0\x80" }, CodeInvalidPrompt},
		{"prompt truncated seq", func(r *GenerateRequest) { r.T5 = "\xe2\x82" }, CodeInvalidPrompt},
		{"prompt above U+10FFFF", func(r *GenerateRequest) { r.T5 = "\xf4\x90\x80\x80" }, CodeInvalidPrompt},
		{"1856x1856 fits", func(r *GenerateRequest) { r.Width, r.Height = 1856, 1856 }, CodeNone},
		{"2048x1280 fits", func(r *GenerateRequest) { r.Width, r.Height = 2048, 1664 }, CodeNone},
		{"1920x1920 too big", func(r *GenerateRequest) { r.Width, r.Height = 1920, 1920 }, CodeInvalidDimensions},
		{"2048x2048 too big", func(r *GenerateRequest) { r.Width, r.Height = 2048, 2048 }, CodeInvalidDimensions},
		{"2048x1728 too big", func(r *GenerateRequest) { r.Width, r.Height = 2048, 1728 }, CodeInvalidDimensions},
		// Order: model, dimensions, steps, cfg, prompts, reply size.
		{"model before dims", func(r *GenerateRequest) { r.ModelID, r.Width = 2, 1 }, CodeInvalidModel},
		{"dims before steps", func(r *GenerateRequest) { r.Height, r.Steps = 1, 0 }, CodeInvalidDimensions},
		{"steps before cfg", func(r *GenerateRequest) { r.Steps, r.CFGScale = 0, -1 }, CodeInvalidSteps},
		{"cfg before prompt", func(r *GenerateRequest) { r.CFGScale, r.ClipL = 21, "" }, CodeInvalidCFG},
		{"prompt before reply size", func(r *GenerateRequest) { r.Width, r.Height, r.T5 = 2048, 2048, "" }, CodeInvalidPrompt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok()
			tc.modify(r)
			err := r.Validate()
			if tc.code == CodeNone {
				require.True(t, err == nil, "Validate returned %#v", err)
			} else {
				var pe *Error
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, tc.code, pe.Code, "%v", err)
				assert.Equal(t, uint64(9), pe.RequestID)
				assert.Equal(t, uint32(400), pe.Status())
				assert.ErrorIs(t, err, Sentinel(tc.code))
			}
			// The daemon-side decoder agrees with Validate.
			b, encErr := EncodeGenerateRequest(r)
			require.NoError(t, encErr)
			_, decErr := DecodeRequest(b)
			assert.Equal(t, CodeOf(err), CodeOf(decErr), "decoder: %v", decErr)
		})
	}
	err := NewGenerateRequest(1, "x", 2048, 2048, 28, 7, 0).Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "1856x1856")
}

// rawGenerate builds a generate request payload with explicit offsets.
func rawGenerate(id uint64, model, w, h, steps, cfgBits uint32, prompts [3][2]uint32, data []byte) []byte {
	p := binary.BigEndian.AppendUint64(nil, id)
	for _, v := range []uint32{model, w, h, steps, cfgBits} {
		p = binary.BigEndian.AppendUint32(p, v)
	}
	p = binary.BigEndian.AppendUint64(p, 0)
	for _, pr := range prompts {
		p = binary.BigEndian.AppendUint32(p, pr[0])
		p = binary.BigEndian.AppendUint32(p, pr[1])
	}
	p = append(p, data...)
	return append(header(Magic, 1, TypeGenerateRequest, uint32(len(p))), p...)
}

func TestDecodeRequest(t *testing.T) {
	cfg7 := math.Float32bits(7)
	good := [3][2]uint32{{0, 3}, {3, 3}, {6, 3}}
	data := []byte("abcdefghi")
	statusReq := func(payload []byte) []byte {
		return append(header(Magic, 1, TypeStatusRequest, uint32(len(payload))), payload...)
	}
	id8 := []byte{0, 0, 0, 0, 0, 0, 0x12, 0x34}
	tests := []struct {
		name string
		msg  []byte
		code ErrorCode
		id   uint64
		want Message
	}{
		{"ok", rawGenerate(5, 0, 64, 64, 1, cfg7, good, data), CodeNone, 0,
			&GenerateRequest{RequestID: 5, Width: 64, Height: 64, Steps: 1, CFGScale: 7, ClipL: "abc", ClipG: "def", T5: "ghi"}},
		{"overlapping and repeated offsets, unused bytes", rawGenerate(5, 0, 64, 64, 1, cfg7, [3][2]uint32{{1, 4}, {1, 4}, {0, 2}}, data), CodeNone, 0,
			&GenerateRequest{RequestID: 5, Width: 64, Height: 64, Steps: 1, CFGScale: 7, ClipL: "bcde", ClipG: "bcde", T5: "ab"}},
		{"prompt ends exactly at end", rawGenerate(5, 0, 64, 64, 1, cfg7, [3][2]uint32{{8, 1}, {0, 9}, {0, 1}}, data), CodeNone, 0,
			&GenerateRequest{RequestID: 5, Width: 64, Height: 64, Steps: 1, CFGScale: 7, ClipL: "i", ClipG: "abcdefghi", T5: "a"}},
		{"trailing bytes after message ignored", append(rawGenerate(5, 0, 64, 64, 1, cfg7, good, data), 0xFF, 0xFF), CodeNone, 0,
			&GenerateRequest{RequestID: 5, Width: 64, Height: 64, Steps: 1, CFGScale: 7, ClipL: "abc", ClipG: "def", T5: "ghi"}},
		{"status request", statusReq(id8), CodeNone, 0, &StatusRequest{RequestID: 0x1234}},
		{"status request extra bytes", statusReq(append(id8, 1, 2, 3)), CodeNone, 0, &StatusRequest{RequestID: 0x1234}},
		{"status request short", statusReq(id8[:7]), CodeMalformed, 0, nil},
		{"status request truncated message", statusReq(id8)[:20], CodeMalformed, 0, nil},
		{"payload 59 of 60 bytes", rawGenerate(5, 0, 64, 64, 1, cfg7, good, nil)[:16+59], CodeMalformed, 5, nil},
		{"payload 59 bytes (header consistent)", fixLen(rawGenerate(5, 0, 64, 64, 1, cfg7, good, nil)[:16+59]), CodeMalformed, 5, nil},
		{"payload 7 bytes", fixLen(rawGenerate(5, 0, 64, 64, 1, cfg7, good, nil)[:16+7]), CodeMalformed, 0, nil},
		{"payload 8 bytes", fixLen(rawGenerate(5, 0, 64, 64, 1, cfg7, good, nil)[:16+8]), CodeMalformed, 5, nil},
		{"message shorter than payload_len", rawGenerate(5, 0, 64, 64, 1, cfg7, good, data)[:16+60+8], CodeMalformed, 5, nil},
		{"message is header only", rawGenerate(5, 0, 64, 64, 1, cfg7, good, data)[:16], CodeMalformed, 0, nil},
		{"response type", append(header(Magic, 1, TypeGenerateResponse, 8), id8...), CodeUnknownType, 0x1234, nil},
		{"error type", append(header(Magic, 1, TypeError, 8), id8...), CodeUnknownType, 0x1234, nil},
		{"unknown type short payload", append(header(Magic, 1, 0x77, 4), 1, 2, 3, 4), CodeUnknownType, 0, nil},
		{"type before truncation", header(Magic, 1, 0x77, 100), CodeUnknownType, 0, nil},
		{"size before type", header(Magic, 1, 0x77, 0xFFFFFFFF), CodeTooLarge, 0, nil},
		{"model", rawGenerate(5, 1, 64, 64, 1, cfg7, good, data), CodeInvalidModel, 5, nil},
		{"width", rawGenerate(5, 0, 96, 64, 1, cfg7, good, data), CodeInvalidDimensions, 5, nil},
		{"height", rawGenerate(5, 0, 64, 4096, 1, cfg7, good, data), CodeInvalidDimensions, 5, nil},
		{"steps", rawGenerate(5, 0, 64, 64, 0, cfg7, good, data), CodeInvalidSteps, 5, nil},
		{"cfg NaN", rawGenerate(5, 0, 64, 64, 1, 0x7FC00000, good, data), CodeInvalidCFG, 5, nil},
		{"cfg -NaN", rawGenerate(5, 0, 64, 64, 1, 0xFFC00001, good, data), CodeInvalidCFG, 5, nil},
		{"cfg -Inf", rawGenerate(5, 0, 64, 64, 1, 0xFF800000, good, data), CodeInvalidCFG, 5, nil},
		{"prompt len 0", rawGenerate(5, 0, 64, 64, 1, cfg7, [3][2]uint32{{0, 3}, {3, 0}, {6, 3}}, data), CodeInvalidPrompt, 5, nil},
		{"prompt len 2049", rawGenerate(5, 0, 64, 64, 1, cfg7, [3][2]uint32{{0, 2049}, {3, 3}, {6, 3}}, make([]byte, 3000)), CodeInvalidPrompt, 5, nil},
		{"prompt past end", rawGenerate(5, 0, 64, 64, 1, cfg7, [3][2]uint32{{0, 3}, {3, 3}, {7, 3}}, data), CodeInvalidPrompt, 5, nil},
		{"offset past end", rawGenerate(5, 0, 64, 64, 1, cfg7, [3][2]uint32{{10, 1}, {3, 3}, {6, 3}}, data), CodeInvalidPrompt, 5, nil},
		{"offset overflow", rawGenerate(5, 0, 64, 64, 1, cfg7, [3][2]uint32{{0, 3}, {0xFFFFFFFF, 2}, {6, 3}}, data), CodeInvalidPrompt, 5, nil},
		{"offset wraps 32 bits", rawGenerate(5, 0, 64, 64, 1, cfg7, [3][2]uint32{{0xFFFFFFFE, 3}, {3, 3}, {6, 3}}, data), CodeInvalidPrompt, 5, nil},
		{"prompt bad utf8", rawGenerate(5, 0, 64, 64, 1, cfg7, good, []byte("abcd\xffghi")), CodeInvalidPrompt, 5, nil},
		{"prompt surrogate", rawGenerate(5, 0, 64, 64, 1, cfg7, good, []byte("abc\xed\xa0\x80ghi")), CodeInvalidPrompt, 5, nil},
		{"utf8 split across prompts", rawGenerate(5, 0, 64, 64, 1, cfg7, [3][2]uint32{{0, 1}, {1, 1}, {0, 2}}, []byte("\xc3\xa9")), CodeInvalidPrompt, 5, nil},
		{"reply too large", rawGenerate(5, 0, 2048, 2048, 1, cfg7, good, data), CodeInvalidDimensions, 5, nil},
		{"prompt checked before reply size", rawGenerate(5, 0, 2048, 2048, 1, cfg7, [3][2]uint32{{0, 0}, {0, 1}, {0, 1}}, data), CodeInvalidPrompt, 5, nil},
		{"model before short prompt data", rawGenerate(5, 7, 64, 64, 1, cfg7, good, nil), CodeInvalidModel, 5, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeRequest(tc.msg)
			if tc.code == CodeNone {
				require.NoError(t, err)
				assert.Equal(t, tc.want, m)
				return
			}
			require.Error(t, err, "decoded %#v", m)
			assert.True(t, m == nil, "a failed decode returns a nil interface, got %#v", m)
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.code, pe.Code, "%v", err)
			assert.Equal(t, tc.id, pe.RequestID, "%v", err)
			assert.ErrorIs(t, err, Sentinel(tc.code))
		})
	}
}

// fixLen rewrites payload_len to match the message length.
func fixLen(msg []byte) []byte {
	out := append([]byte(nil), msg...)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-HeaderSize))
	return out
}

func genResponse(id uint64, status, w, h, c, n uint32, rest []byte) []byte {
	p := binary.BigEndian.AppendUint64(nil, id)
	for _, v := range []uint32{status, 1234, w, h, c, n} {
		p = binary.BigEndian.AppendUint32(p, v)
	}
	p = append(p, rest...)
	return append(header(Magic, 1, TypeGenerateResponse, uint32(len(p))), p...)
}

func statusResponse(status uint32, backendLen uint16, rest []byte) []byte {
	p := binary.BigEndian.AppendUint64(nil, 77)
	p = binary.BigEndian.AppendUint32(p, status)
	p = append(p, 0, 1, 0, 1)
	p = append(p, make([]byte, 28)...)
	p = binary.BigEndian.AppendUint16(p, backendLen)
	p = append(p, rest...)
	return append(header(Magic, 1, TypeStatusResponse, uint32(len(p))), p...)
}

func errorMsg(id uint64, status, code uint32, msgLen uint16, rest []byte) []byte {
	p := binary.BigEndian.AppendUint64(nil, id)
	p = binary.BigEndian.AppendUint32(p, status)
	p = binary.BigEndian.AppendUint32(p, code)
	p = binary.BigEndian.AppendUint16(p, msgLen)
	p = append(p, rest...)
	return append(header(Magic, 1, TypeError, uint32(len(p))), p...)
}

func TestDecodeResponse(t *testing.T) {
	px := []byte{1, 2, 3, 4, 5, 6}
	seed := []byte{0, 0, 0, 0, 0, 0, 0, 42}
	tests := []struct {
		name string
		msg  []byte
		code ErrorCode
		want Message
	}{
		{"generate no seed", genResponse(3, 200, 2, 1, 3, 6, px), CodeNone,
			&GenerateResponse{RequestID: 3, Status: 200, GenerationTimeMS: 1234, Width: 2, Height: 1, Channels: 3, Pixels: px}},
		{"generate seed", genResponse(3, 200, 1, 2, 3, 6, append(px, seed...)), CodeNone,
			&GenerateResponse{RequestID: 3, Status: 200, GenerationTimeMS: 1234, Width: 1, Height: 2, Channels: 3, Pixels: px, Seed: 42, HasSeed: true}},
		{"generate 7 bytes after pixels: seed unknown", genResponse(3, 200, 2, 1, 3, 6, append(px, seed[:7]...)), CodeNone,
			&GenerateResponse{RequestID: 3, Status: 200, GenerationTimeMS: 1234, Width: 2, Height: 1, Channels: 3, Pixels: px}},
		{"generate seed plus more ignored", genResponse(3, 200, 2, 1, 3, 6, append(append(px, seed...), 9, 9)), CodeNone,
			&GenerateResponse{RequestID: 3, Status: 200, GenerationTimeMS: 1234, Width: 2, Height: 1, Channels: 3, Pixels: px, Seed: 42, HasSeed: true}},
		{"generate rgba", genResponse(3, 200, 1, 1, 4, 4, px[:4]), CodeNone,
			&GenerateResponse{RequestID: 3, Status: 200, GenerationTimeMS: 1234, Width: 1, Height: 1, Channels: 4, Pixels: px[:4]}},
		{"generate short payload", genResponse(3, 200, 1, 1, 3, 3, nil)[:16+31], CodeMalformed, nil},
		{"generate short payload consistent", fixLen(genResponse(3, 200, 1, 1, 3, 3, nil)[:16+31]), CodeMalformed, nil},
		{"generate status 500", genResponse(3, 500, 2, 1, 3, 6, px), CodeMalformed, nil},
		{"generate width 0", genResponse(3, 200, 0, 1, 3, 0, nil), CodeMalformed, nil},
		{"generate height 0", genResponse(3, 200, 1, 0, 3, 0, nil), CodeMalformed, nil},
		{"generate channels 1", genResponse(3, 200, 6, 1, 1, 6, px), CodeMalformed, nil},
		{"generate channels 2", genResponse(3, 200, 3, 1, 2, 6, px), CodeMalformed, nil},
		{"generate channels 5", genResponse(3, 200, 1, 1, 5, 5, px[:5]), CodeMalformed, nil},
		{"generate len mismatch", genResponse(3, 200, 2, 1, 3, 5, px), CodeMalformed, nil},
		{"generate product overflows 32 bits", genResponse(3, 200, 0x10000, 0x10000, 4, 0, nil), CodeMalformed, nil},
		{"generate product wraps to len", genResponse(3, 200, 0x40000000, 1, 4, 0, nil), CodeMalformed, nil},
		{"generate product wraps 64 bits", genResponse(3, 200, 0x80000000, 0x80000000, 4, 0, nil), CodeMalformed, nil},
		{"generate product wraps 64 bits rgb", genResponse(3, 200, 0xFFFFFFFF, 0xFFFFFFFF, 3, 3, []byte{1, 2, 3}), CodeMalformed, nil},
		{"generate pixels short", genResponse(3, 200, 2, 1, 3, 6, px[:5]), CodeMalformed, nil},
		{"status ok", statusResponse(200, 3, []byte("abc\x00\x02v1")), CodeNone,
			&StatusResponse{RequestID: 77, Status: 200, VersionMin: 1, VersionMax: 1, Backend: "abc", DaemonVersion: "v1"}},
		{"status empty strings plus extra", statusResponse(200, 0, []byte{0, 0, 9}), CodeNone,
			&StatusResponse{RequestID: 77, Status: 200, VersionMin: 1, VersionMax: 1}},
		{"status 47 bytes", statusResponse(200, 0, []byte{0}), CodeMalformed, nil},
		{"status backend past end", statusResponse(200, 4, []byte("abc\x00")), CodeMalformed, nil},
		{"status version length missing", statusResponse(200, 3, []byte("abc\x00")), CodeMalformed, nil},
		{"status version past end", statusResponse(200, 0, []byte{0, 3, 'a', 'b'}), CodeMalformed, nil},
		{"status not 200", statusResponse(500, 0, []byte{0, 0}), CodeMalformed, nil},
		{"error", errorMsg(9, 400, 5, 3, []byte("bad")), CodeNone,
			&ErrorResponse{RequestID: 9, Status: 400, Code: CodeInvalidDimensions, Message: "bad"}},
		{"error unknown code and status, extra bytes", errorMsg(9, 418, 1000, 1, []byte("xy")), CodeNone,
			&ErrorResponse{RequestID: 9, Status: 418, Code: 1000, Message: "x"}},
		{"error invalid utf8 message accepted", errorMsg(9, 500, 99, 1, []byte{0xff}), CodeNone,
			&ErrorResponse{RequestID: 9, Status: 500, Code: CodeInternal, Message: "\xff"}},
		{"error short", errorMsg(9, 400, 5, 0, nil)[:16+17], CodeMalformed, nil},
		{"error short consistent", fixLen(errorMsg(9, 400, 5, 0, nil)[:16+17]), CodeMalformed, nil},
		{"error msg_len past end", errorMsg(9, 400, 5, 4, []byte("bad")), CodeMalformed, nil},
		{"request type", NewGenerateRequestBytes(t), CodeUnknownType, nil},
		{"status request type", append(header(Magic, 1, TypeStatusRequest, 8), make([]byte, 8)...), CodeUnknownType, nil},
		{"bad magic", append(header(1, 1, TypeError, 0), make([]byte, 0)...), CodeInvalidMagic, nil},
		{"bad version", header(Magic, 3, TypeError, 0), CodeUnsupportedVersion, nil},
		{"too large", header(Magic, 1, TypeGenerateResponse, MaxPayloadSize+1), CodeTooLarge, nil},
		{"truncated", genResponse(3, 200, 2, 1, 3, 6, px)[:50], CodeMalformed, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeResponse(tc.msg)
			if tc.code == CodeNone {
				require.NoError(t, err)
				assert.Equal(t, tc.want, m)
				// Encoding it back decodes to the same value.
				b, err := Encode(m)
				require.NoError(t, err)
				back, err := DecodeResponse(b)
				require.NoError(t, err)
				assert.Equal(t, m, back)
				return
			}
			require.Error(t, err, "decoded %#v", m)
			assert.True(t, m == nil, "a failed decode returns a nil interface, got %#v", m)
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.code, pe.Code, "%v", err)
			assert.Equal(t, uint32(400), pe.Status())
		})
	}
}

func NewGenerateRequestBytes(t testing.TB) []byte {
	b, err := EncodeGenerateRequest(NewGenerateRequest(1, "x", 64, 64, 1, 1, 0))
	require.NoError(t, err)
	return b
}

func TestEncodeResponses(t *testing.T) {
	gr := &GenerateResponse{RequestID: 1, Status: 200, Width: 1, Height: 1, Channels: 3, Pixels: []byte{7, 8, 9}, Seed: 5, HasSeed: true}
	b, err := EncodeGenerateResponse(gr)
	require.NoError(t, err)
	assert.Equal(t, mustHex(t, `57455645 0001 0002 0000002b 00000000
		0000000000000001 000000c8 00000000 00000001 00000001 00000003 00000003 070809 0000000000000005`), b)
	m, err := DecodeResponse(b)
	require.NoError(t, err)
	assert.Equal(t, gr, m)

	_, err = EncodeGenerateResponse(&GenerateResponse{Pixels: make([]byte, MaxPayloadSize-32+1)})
	assert.ErrorIs(t, err, ErrTooLarge)
	b, err = EncodeGenerateResponse(&GenerateResponse{Pixels: make([]byte, MaxPayloadSize-32)})
	require.NoError(t, err)
	assert.Len(t, b, MaxMessageSize)
	_, err = EncodeGenerateResponse(&GenerateResponse{Pixels: make([]byte, MaxPayloadSize-32), HasSeed: true})
	assert.ErrorIs(t, err, ErrTooLarge)

	sr := &StatusResponse{RequestID: 2, Status: 200, VersionMin: 1, VersionMax: 1, UptimeMS: 3, RequestsServed: 4,
		ConnectionsOpen: 5, MaxConnections: 64, QueueDepth: 6, Backend: "procedural", DaemonVersion: "0.1.0"}
	b, err = EncodeStatusResponse(sr)
	require.NoError(t, err)
	assert.Len(t, b, 16+48+10+5)
	m, err = DecodeResponse(b)
	require.NoError(t, err)
	assert.Equal(t, sr, m)
	_, err = EncodeStatusResponse(&StatusResponse{Backend: strings.Repeat("b", 0x10000)})
	assert.Error(t, err)

	er := NewErrorResponse(3, CodeBusy, "too many connections")
	assert.Equal(t, uint32(500), er.Status)
	b, err = EncodeError(er)
	require.NoError(t, err)
	assert.Equal(t, mustHex(t, "57455645 0001 00FF 00000026 00000000 0000000000000003 000001F4 0000000E 0014"), b[:34])
	m, err = DecodeResponse(b)
	require.NoError(t, err)
	assert.Equal(t, er, m)
	_, err = EncodeError(&ErrorResponse{Message: strings.Repeat("m", 0x10000)})
	assert.Error(t, err)
	_, err = EncodeError(&ErrorResponse{Message: strings.Repeat("m", 0xFFFF)})
	assert.NoError(t, err)

	b, err = EncodeStatusRequest(&StatusRequest{RequestID: 0x0102030405060708})
	require.NoError(t, err)
	assert.Equal(t, mustHex(t, "57455645 0001 0003 00000008 00000000 0102030405060708"), b)
}

func TestAppendMessageValuesAndPointers(t *testing.T) {
	msgs := []Message{
		NewGenerateRequest(1, "p", 64, 64, 1, 0, 0),
		&StatusRequest{RequestID: 2},
		&GenerateResponse{RequestID: 3, Status: 200, Width: 1, Height: 1, Channels: 3, Pixels: []byte{1, 2, 3}},
		&StatusResponse{RequestID: 4, Status: 200, Backend: "b"},
		&ErrorResponse{RequestID: 5, Status: 400, Code: CodeMalformed, Message: "m"},
	}
	types := []MsgType{TypeGenerateRequest, TypeStatusRequest, TypeGenerateResponse, TypeStatusResponse, TypeError}
	for i, m := range msgs {
		assert.Equal(t, types[i], m.MsgType())
		byPtr, err := Encode(m)
		require.NoError(t, err)
		byVal, err := Encode(derefMessage(m))
		require.NoError(t, err)
		assert.Equal(t, byPtr, byVal)
		assert.Equal(t, types[i], MsgType(binary.BigEndian.Uint16(byPtr[6:])))
	}
	_, err := Encode(nil)
	assert.Error(t, err)
}

func derefMessage(m Message) Message {
	switch v := m.(type) {
	case *GenerateRequest:
		return *v
	case *StatusRequest:
		return *v
	case *GenerateResponse:
		return *v
	case *StatusResponse:
		return *v
	case *ErrorResponse:
		return *v
	}
	return m
}

func TestErrorsIs(t *testing.T) {
	local := NewGenerateRequest(4, "p", 100, 64, 1, 0, 0).Validate()
	remote := &ErrorResponse{RequestID: 4, Status: 400, Code: CodeInvalidDimensions, Message: "width 100 is not a multiple of 64"}
	for name, err := range map[string]error{
		"local":          local,
		"remote":         remote,
		"wrapped local":  fmt.Errorf("generate: %w", local),
		"wrapped remote": fmt.Errorf("generate: %w", remote),
	} {
		assert.ErrorIs(t, err, ErrInvalidDimensions, name)
		assert.NotErrorIs(t, err, ErrInvalidSteps, name)
		assert.NotErrorIs(t, err, ErrMalformed, name)
		assert.Equal(t, CodeInvalidDimensions, CodeOf(err), name)
	}
	assert.Equal(t, CodeBusy, CodeOf(ErrBusy))
	assert.Equal(t, CodeNone, CodeOf(errors.New("x")))
	assert.Equal(t, CodeNone, CodeOf(nil))

	// Every sentinel is distinct and matched only by its own code.
	all := []error{ErrInvalidMagic, ErrUnsupportedVersion, ErrInvalidModel, ErrInvalidPrompt, ErrInvalidDimensions,
		ErrInvalidSteps, ErrInvalidCFG, ErrOutOfMemory, ErrGPU, ErrTimeout, ErrMalformed, ErrUnknownType, ErrTooLarge,
		ErrBusy, ErrInternal}
	for _, s := range all {
		code := CodeOf(s)
		require.NotEqual(t, CodeNone, code)
		for _, other := range all {
			assert.Equal(t, s == other, errors.Is(&Error{Code: code}, other), "%v vs %v", s, other)
			assert.Equal(t, s == other, errors.Is(&ErrorResponse{Code: code, Status: code.Status()}, other), "%v vs %v", s, other)
		}
	}
	assert.NotErrorIs(t, &ErrorResponse{Code: 1000, Status: 500}, ErrInternal)

	// Unwrap exposes the cause.
	e := &Error{Code: CodeMalformed, Err: io.ErrUnexpectedEOF}
	assert.ErrorIs(t, e, io.ErrUnexpectedEOF)
	assert.ErrorIs(t, e, ErrMalformed)

	// Response() is the reply a daemon sends.
	var pe *Error
	require.ErrorAs(t, local, &pe)
	resp := pe.Response()
	assert.Equal(t, &ErrorResponse{RequestID: 4, Status: 400, Code: CodeInvalidDimensions, Message: pe.Msg}, resp)
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&ErrorResponse{Status: 400, Code: CodeInvalidDimensions, Message: "width 100"},
			"weave-compute rejected the request (400, invalid dimensions): width 100"},
		{&ErrorResponse{Status: 500, Code: CodeGPU, Message: "backend failed"},
			"weave-compute failed the request (500, GPU error): backend failed"},
		{&ErrorResponse{Status: 500, Code: CodeBusy},
			"weave-compute failed the request (500, server busy)"},
		{&ErrorResponse{Status: 400, Code: 77, Message: "new"},
			"weave-compute rejected the request (400, error code 77): new"},
		{&ErrorResponse{Status: 0, Code: CodeInternal, Message: "x"},
			"weave-compute returned an error (0, internal): x"},
		{&ErrorResponse{Status: 400, Code: CodeInvalidPrompt, Message: "bad\x1b[31m\xffend\u00e9"},
			"weave-compute rejected the request (400, invalid prompt): bad\ufffd[31m\ufffdend\u00e9"},
		{&Error{Code: CodeInvalidSteps, Msg: "steps 0 outside 1..100"},
			"weave protocol: invalid steps: steps 0 outside 1..100"},
		{&Error{Code: CodeMalformed}, "weave protocol: malformed message"},
		{ErrTooLarge, "message too large"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.err.Error())
	}
}

// countingReader serves data and records how much was read.
type countingReader struct {
	data []byte
	read int
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.read >= len(r.data) {
		return 0, io.EOF
	}
	n := copy(p, r.data[r.read:])
	r.read += n
	return n, nil
}

// byteReader returns one byte per Read, to exercise short reads.
type byteReader struct{ r io.Reader }

func (b byteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return b.r.Read(p[:1])
}

type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReadMessage(t *testing.T) {
	valid := NewGenerateRequestBytes(t)

	t.Run("ok byte by byte, exactly payload_len", func(t *testing.T) {
		src := bytes.NewReader(append(append([]byte(nil), valid...), 1, 2, 3))
		msg, err := ReadMessage(byteReader{src}, 0)
		require.NoError(t, err)
		assert.Equal(t, valid, msg)
		assert.Equal(t, 3, src.Len(), "read past the message")
	})
	t.Run("huge payload_len refused after the header only", func(t *testing.T) {
		r := &countingReader{data: append(header(Magic, 1, TypeGenerateResponse, 0xFFFFFFFF), make([]byte, 1000)...)}
		msg, err := ReadMessage(r, 0)
		assert.Nil(t, msg)
		assert.ErrorIs(t, err, ErrTooLarge)
		assert.Equal(t, HeaderSize, r.read)
	})
	t.Run("huge payload_len byte reader", func(t *testing.T) {
		r := &countingReader{data: append(header(Magic, 1, TypeGenerateResponse, 0xFFFFFFFF), make([]byte, 1000)...)}
		_, err := ReadMessage(byteReader{r}, 0)
		assert.ErrorIs(t, err, ErrTooLarge)
		assert.Equal(t, HeaderSize, r.read)
	})
	t.Run("max below the protocol bound", func(t *testing.T) {
		r := &countingReader{data: valid}
		_, err := ReadMessage(r, uint32(len(valid)-1))
		assert.ErrorIs(t, err, ErrTooLarge)
		assert.Equal(t, HeaderSize, r.read)
		msg, err := ReadMessage(bytes.NewReader(valid), uint32(len(valid)))
		require.NoError(t, err)
		assert.Equal(t, valid, msg)
	})
	t.Run("max above the protocol bound is clamped", func(t *testing.T) {
		r := &countingReader{data: header(Magic, 1, TypeGenerateResponse, MaxPayloadSize+1)}
		_, err := ReadMessage(r, 0xFFFFFFFF)
		assert.ErrorIs(t, err, ErrTooLarge)
	})
	t.Run("bad magic checked before anything else is read", func(t *testing.T) {
		r := &countingReader{data: append(header(0x48545450, 1, 1, 5), 1, 2, 3, 4, 5)}
		_, err := ReadMessage(r, 0)
		assert.ErrorIs(t, err, ErrInvalidMagic)
		assert.Equal(t, HeaderSize, r.read)
	})
	t.Run("bad version", func(t *testing.T) {
		_, err := ReadMessage(bytes.NewReader(header(Magic, 2, 1, 0)), 0)
		assert.ErrorIs(t, err, ErrUnsupportedVersion)
	})
	t.Run("empty stream is io.EOF", func(t *testing.T) {
		_, err := ReadMessage(bytes.NewReader(nil), 0)
		assert.Equal(t, io.EOF, err)
	})
	t.Run("truncated header", func(t *testing.T) {
		_, err := ReadMessage(bytes.NewReader(valid[:10]), 0)
		assert.ErrorIs(t, err, ErrMalformed)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
	t.Run("header only", func(t *testing.T) {
		_, err := ReadMessage(bytes.NewReader(valid[:16]), 0)
		assert.ErrorIs(t, err, ErrMalformed)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
	t.Run("truncated payload", func(t *testing.T) {
		_, err := ReadMessage(byteReader{bytes.NewReader(valid[:len(valid)-1])}, 0)
		assert.ErrorIs(t, err, ErrMalformed)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		var pe *Error
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, uint64(1), pe.RequestID)
	})
	t.Run("read error passed through", func(t *testing.T) {
		boom := errors.New("deadline")
		_, err := ReadMessage(&failingReader{data: valid[:20], err: boom}, 0)
		assert.Equal(t, boom, err)
		_, err = ReadMessage(&failingReader{data: valid[:3], err: boom}, 0)
		assert.Equal(t, boom, err)
	})
	t.Run("zero payload", func(t *testing.T) {
		msg, err := ReadMessage(bytes.NewReader(header(Magic, 1, TypeStatusRequest, 0)), 0)
		require.NoError(t, err)
		assert.Len(t, msg, 16)
	})
}

func BenchmarkDecodeGenerateResponse1024(b *testing.B) {
	msg, err := EncodeGenerateResponse(&GenerateResponse{RequestID: 1, Status: 200, Width: 1024, Height: 1024, Channels: 3,
		Pixels: make([]byte, 1024*1024*3), Seed: 1, HasSeed: true})
	require.NoError(b, err)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeResponse(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeDecodeGenerateRequest(b *testing.B) {
	r := NewGenerateRequest(1, strings.Repeat("a cat in space ", 100), 1024, 1024, 28, 7, 0)
	buf := make([]byte, 0, 8192)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		msg, err := AppendGenerateRequest(buf[:0], r)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeRequest(msg); err != nil {
			b.Fatal(err)
		}
	}
}
