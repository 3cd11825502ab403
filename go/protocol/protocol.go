package protocol

import (
	"encoding/binary"
	"fmt"
)

// Wire constants (SPEC sections 2 to 7 and 10).
const (
	// Magic is the header magic, the ASCII bytes "WEVE".
	Magic uint32 = 0x57455645
	// Version is protocol version 1: what the encoders write for a message
	// whose Version field is 0, and the only version the package-level
	// decoders (DecodeHeader, DecodeRequest, DecodeResponse, ReadMessage)
	// accept. Versions12 decodes versions 1 and 2.
	Version uint16 = 1
	// Version2 is protocol version 2 (SPEC section 11).
	Version2 uint16 = 2
	// MaxVersion is the newest version this package can decode.
	MaxVersion = Version2

	// HeaderSize is the size of the header in front of every payload.
	HeaderSize = 16
	// MaxMessageSize bounds a whole message, header included (10 MiB).
	MaxMessageSize = 10 << 20
	// MaxPayloadSize is the largest acceptable payload_len.
	MaxPayloadSize = MaxMessageSize - HeaderSize

	// GenerateRequestFixedSize is the generate request payload before
	// prompt_data.
	GenerateRequestFixedSize = 60
	// GenerateResponseFixedSize is the generate response payload before the
	// pixels.
	GenerateResponseFixedSize = 32
	// SeedExtensionSize is the size of the seed appended after the pixels.
	SeedExtensionSize = 8
	// ErrorFixedSize is the error payload before the message text.
	ErrorFixedSize = 18
	// StatusRequestSize is the status request payload size.
	StatusRequestSize = 8
	// StatusResponseFixedSize is the status response payload with two empty
	// strings (both length fields included).
	StatusResponseFixedSize = 48

	// MaxPromptLen is the largest prompt copy in bytes (each of the three).
	MaxPromptLen = 2048
	// MaxErrorMessageLen is the largest error message the format can carry.
	MaxErrorMessageLen = 0xFFFF
	// MaxStatusStringLen bounds backend and daemon_version in a status
	// response as a daemon sends them (decoders and encoders accept up to
	// the 16-bit length field's 65535).
	MaxStatusStringLen = 255

	// ModelSD35 is the only model_id of version 1.
	ModelSD35 uint32 = 0
	// MinDimension, MaxDimension and DimensionStep bound a requested width
	// or height: MinDimension <= w <= MaxDimension, w % DimensionStep == 0.
	MinDimension  = 64
	MaxDimension  = 2048
	DimensionStep = 64
	// MinSteps and MaxSteps bound the step count.
	MinSteps = 1
	MaxSteps = 100
	// MinCFG and MaxCFG bound cfg_scale (finite values only).
	MinCFG float32 = 0.0
	MaxCFG float32 = 20.0
	// ReplyChannels is the channel count the daemon answers with (RGB).
	ReplyChannels = 3
	// MaxSquareDimension is the largest square request whose RGB reply fits
	// in MaxMessageSize.
	MaxSquareDimension = 1856

	// StatusOK, StatusBadRequest and StatusServerError are the status values
	// of the protocol.
	StatusOK          uint32 = 200
	StatusBadRequest  uint32 = 400
	StatusServerError uint32 = 500
)

// MsgType is the header's msg_type field.
type MsgType uint16

// Message types (SPEC section 3).
const (
	TypeGenerateRequest  MsgType = 0x0001
	TypeGenerateResponse MsgType = 0x0002
	TypeStatusRequest    MsgType = 0x0003
	TypeStatusResponse   MsgType = 0x0004
	TypeError            MsgType = 0x00FF

	// Version 2 only (SPEC section 11.1): unknown in a version-1 header.
	TypeGenerateOptions MsgType = 0x0005
	TypeSHMResponse     MsgType = 0x0006
	TypeQueued          MsgType = 0x0010
	TypeProgress        MsgType = 0x0011
	TypeHeartbeat       MsgType = 0x0012
)

// String returns the SPEC name of the type, or "msg_type 0xNNNN" when
// unknown.
func (t MsgType) String() string {
	switch t {
	case TypeGenerateRequest:
		return "generate request"
	case TypeGenerateResponse:
		return "generate response"
	case TypeStatusRequest:
		return "status request"
	case TypeStatusResponse:
		return "status response"
	case TypeError:
		return "error"
	case TypeGenerateOptions:
		return "generate request with options"
	case TypeSHMResponse:
		return "shared-memory generate response"
	case TypeQueued:
		return "queued"
	case TypeProgress:
		return "progress"
	case TypeHeartbeat:
		return "heartbeat"
	}
	return fmt.Sprintf("msg_type 0x%04X", uint16(t))
}

// ErrorCode is a protocol error code (SPEC section 6).
type ErrorCode uint32

// Error codes (SPEC section 6).
const (
	CodeNone               ErrorCode = 0
	CodeInvalidMagic       ErrorCode = 1
	CodeUnsupportedVersion ErrorCode = 2
	CodeInvalidModel       ErrorCode = 3
	CodeInvalidPrompt      ErrorCode = 4
	CodeInvalidDimensions  ErrorCode = 5
	CodeInvalidSteps       ErrorCode = 6
	CodeInvalidCFG         ErrorCode = 7
	CodeOutOfMemory        ErrorCode = 8
	CodeGPU                ErrorCode = 9
	CodeTimeout            ErrorCode = 10
	CodeMalformed          ErrorCode = 11
	CodeUnknownType        ErrorCode = 12
	CodeTooLarge           ErrorCode = 13
	CodeBusy               ErrorCode = 14
	CodeInternal           ErrorCode = 99
)

// String returns the SPEC name of the code ("invalid magic", ...), or
// "error code N" when unknown.
func (c ErrorCode) String() string {
	switch c {
	case CodeNone:
		return "none"
	case CodeInvalidMagic:
		return "invalid magic"
	case CodeUnsupportedVersion:
		return "unsupported version"
	case CodeInvalidModel:
		return "invalid model"
	case CodeInvalidPrompt:
		return "invalid prompt"
	case CodeInvalidDimensions:
		return "invalid dimensions"
	case CodeInvalidSteps:
		return "invalid steps"
	case CodeInvalidCFG:
		return "invalid cfg"
	case CodeOutOfMemory:
		return "out of memory"
	case CodeGPU:
		return "GPU error"
	case CodeTimeout:
		return "timeout"
	case CodeMalformed:
		return "malformed message"
	case CodeUnknownType:
		return "unknown message type"
	case CodeTooLarge:
		return "message too large"
	case CodeBusy:
		return "server busy"
	case CodeInternal:
		return "internal"
	}
	return fmt.Sprintf("error code %d", uint32(c))
}

// Known reports whether c is a code of the SPEC table.
func (c ErrorCode) Known() bool {
	return (c >= CodeNone && c <= CodeBusy) || c == CodeInternal
}

// Status returns the status that goes with the code: 400 for client errors
// (1-7, 11-13), 500 for server errors (8-10, 14, 99) and for unknown codes,
// 0 for CodeNone.
func (c ErrorCode) Status() uint32 {
	switch c {
	case CodeNone:
		return 0
	case CodeInvalidMagic, CodeUnsupportedVersion, CodeInvalidModel,
		CodeInvalidPrompt, CodeInvalidDimensions, CodeInvalidSteps,
		CodeInvalidCFG, CodeMalformed, CodeUnknownType, CodeTooLarge:
		return StatusBadRequest
	}
	return StatusServerError
}

// Header is the 16-byte header of every message.
type Header struct {
	Magic      uint32
	Version    uint16
	Type       MsgType
	PayloadLen uint32
	Reserved   uint32
}

// MessageSize is the size of the whole message the header announces.
func (h Header) MessageSize() uint64 {
	return HeaderSize + uint64(h.PayloadLen)
}

// AppendHeader appends the header encoding of h to dst.
func AppendHeader(dst []byte, h Header) []byte {
	dst = appendU32(dst, h.Magic)
	dst = appendU16(dst, h.Version)
	dst = appendU16(dst, uint16(h.Type))
	dst = appendU32(dst, h.PayloadLen)
	return appendU32(dst, h.Reserved)
}

// Versions is the range of protocol versions a decoder accepts, Min..Max.
// Its methods are the decoders for that range; the package-level decoders
// are those of Versions1. Versions the package does not know (0, and
// anything above MaxVersion) are never accepted.
type Versions struct {
	Min, Max uint16
}

var (
	// Versions1 accepts version 1 only: a version-2 header is
	// CodeUnsupportedVersion, as for a daemon that does not speak version 2.
	Versions1 = Versions{Min: Version, Max: Version}
	// Versions12 accepts versions 1 and 2.
	Versions12 = Versions{Min: Version, Max: Version2}
)

// Accepts reports whether a header of version v passes the version check.
func (vs Versions) Accepts(v uint16) bool {
	return v >= vs.Min && v <= vs.Max && v >= Version && v <= MaxVersion
}

// DecodeHeader is Versions1.DecodeHeader.
func DecodeHeader(b []byte) (Header, error) {
	return Versions1.DecodeHeader(b)
}

// DecodeHeader decodes the first HeaderSize bytes of b and checks them in
// SPEC order: magic (CodeInvalidMagic), version in vs
// (CodeUnsupportedVersion), payload_len against MaxPayloadSize
// (CodeTooLarge). It does not judge the message type (the request and
// response decoders accept different sets, per version). Fewer than
// HeaderSize bytes is CodeMalformed. The returned header is filled in as far
// as b allows even when an error is returned.
func (vs Versions) DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, newError(CodeMalformed, 0, "message is %d bytes, shorter than the %d-byte header", len(b), HeaderSize)
	}
	h := Header{
		Magic:      binary.BigEndian.Uint32(b[0:4]),
		Version:    binary.BigEndian.Uint16(b[4:6]),
		Type:       MsgType(binary.BigEndian.Uint16(b[6:8])),
		PayloadLen: binary.BigEndian.Uint32(b[8:12]),
		Reserved:   binary.BigEndian.Uint32(b[12:16]),
	}
	if h.Magic != Magic {
		return h, newError(CodeInvalidMagic, 0, "magic is 0x%08X, want 0x%08X", h.Magic, Magic)
	}
	if !vs.Accepts(h.Version) {
		return h, newError(CodeUnsupportedVersion, 0, "version %d not supported (this side speaks %d..%d)", h.Version, vs.Min, vs.Max)
	}
	if h.PayloadLen > MaxPayloadSize {
		return h, newError(CodeTooLarge, 0, "payload_len %d exceeds the maximum %d", h.PayloadLen, MaxPayloadSize)
	}
	return h, nil
}

func appendU16(b []byte, v uint16) []byte {
	return append(b, byte(v>>8), byte(v))
}

func appendU32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func appendU64(b []byte, v uint64) []byte {
	return append(b, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
		byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
