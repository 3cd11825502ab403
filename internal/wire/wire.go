// Package wire is the byte layout of the protocol (proto_spec/SPEC.md)
// written once, independently of go/protocol and of the C codec: the magic,
// the header, the message types, status and error codes, and the offset of
// every fixed field, for version 1 (this file and messages.go) and version
// 2 (SPEC section 11, v2.go). It builds messages field by field (Msg, Frame
// and the message structs), including malformed ones, and reads raw
// replies by offset.
//
// It is the raw-bytes view used by the vector generator (tools/vecgen),
// the benchmark (tools/bench), the integration-test helpers
// (tests/internal/daemontest) and the tests that send hand-made bytes, so
// that the shared vectors stay an independent statement of the format that
// both codecs are checked against. It must not import go/protocol, and
// go/protocol must not import it.
package wire

// Framing (SPEC section 2 and 10).
const (
	Magic          uint32 = 0x57455645 // "WEVE"
	Version        uint16 = 1
	HeaderSize            = 16
	MaxMessageSize        = 10485760 // 10 MiB, header included
	MaxPayloadLen         = MaxMessageSize - HeaderSize
)

// Header field offsets, from the start of the message.
const (
	OffMagic      = 0  // u32
	OffVersion    = 4  // u16
	OffType       = 6  // u16
	OffPayloadLen = 8  // u32
	OffReserved   = 12 // u32
)

// Message types (SPEC section 3).
const (
	TypeGenerateRequest  uint16 = 0x0001
	TypeGenerateResponse uint16 = 0x0002
	TypeStatusRequest    uint16 = 0x0003
	TypeStatusResponse   uint16 = 0x0004
	TypeError            uint16 = 0x00FF
)

// Status values.
const (
	StatusOK          uint32 = 200
	StatusBadRequest  uint32 = 400
	StatusServerError uint32 = 500
)

// Error codes (SPEC section 6).
const (
	ErrInvalidMagic       uint32 = 1
	ErrUnsupportedVersion uint32 = 2
	ErrInvalidModel       uint32 = 3
	ErrInvalidPrompt      uint32 = 4
	ErrInvalidDimensions  uint32 = 5
	ErrInvalidSteps       uint32 = 6
	ErrInvalidCfg         uint32 = 7
	ErrOutOfMemory        uint32 = 8
	ErrGPU                uint32 = 9
	ErrTimeout            uint32 = 10
	ErrMalformed          uint32 = 11
	ErrUnknownType        uint32 = 12
	ErrTooLarge           uint32 = 13
	ErrBusy               uint32 = 14
	ErrInternal           uint32 = 99
)

// StatusOf is the status an error code travels with (SPEC section 6
// table): 500 for the server-side failures, 400 for everything else.
func StatusOf(code uint32) uint32 {
	switch code {
	case ErrOutOfMemory, ErrGPU, ErrTimeout, ErrBusy, ErrInternal:
		return StatusServerError
	}
	return StatusBadRequest
}

// Generate request payload (SPEC section 4), offsets from the payload start.
const (
	GenReqRequestID  = 0  // u64
	GenReqModelID    = 8  // u32
	GenReqWidth      = 12 // u32
	GenReqHeight     = 16 // u32
	GenReqSteps      = 20 // u32
	GenReqCfgScale   = 24 // f32 bits
	GenReqSeed       = 28 // u64
	GenReqClipLOff   = 36 // u32; each prompt is an (offset u32, len u32) slot
	GenReqClipLLen   = 40
	GenReqClipGOff   = 44
	GenReqClipGLen   = 48
	GenReqT5Off      = 52
	GenReqT5Len      = 56
	GenReqFixedSize  = 60 // prompt_data follows
	GenReqSlotStride = 8  // from one prompt slot to the next
)

// Generate response payload (SPEC section 5).
const (
	GenRespRequestID    = 0  // u64
	GenRespStatus       = 8  // u32
	GenRespGenTimeMS    = 12 // u32 generation_time_ms
	GenRespWidth        = 16 // u32
	GenRespHeight       = 20 // u32
	GenRespChannels     = 24 // u32
	GenRespImageDataLen = 28 // u32
	GenRespFixedSize    = 32 // image_data follows, then the optional seed
	SeedExtensionSize   = 8  // u64 seed after the pixels
)

// Error reply payload (SPEC section 6).
const (
	ErrRespRequestID = 0  // u64
	ErrRespStatus    = 8  // u32
	ErrRespCode      = 12 // u32
	ErrRespMsgLen    = 16 // u16
	ErrRespFixedSize = 18 // message follows
)

// Status request payload (SPEC section 7).
const (
	StatusReqRequestID = 0 // u64
	StatusReqSize      = 8
)

// Status response payload (SPEC section 7).
const (
	StatusRespRequestID      = 0  // u64
	StatusRespStatus         = 8  // u32
	StatusRespVersionMin     = 12 // u16
	StatusRespVersionMax     = 14 // u16
	StatusRespUptimeMS       = 16 // u64
	StatusRespRequestsServed = 24 // u64
	StatusRespConnsOpen      = 32 // u32
	StatusRespMaxConns       = 36 // u32
	StatusRespQueueDepth     = 40 // u32
	StatusRespBackendLen     = 44 // u16, then backend, then u16 daemon_version_len and daemon_version
	StatusRespFixedSize      = 48 // both length fields, both strings empty
)
