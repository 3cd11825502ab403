package protocol

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// Message is implemented by the message types (as values and as pointers):
// the five of version 1 and the five of version 2 (messages_v2.go). The
// decoders return pointers: *GenerateRequest, *StatusRequest,
// *GenerateResponse, *StatusResponse, *ErrorResponse, *GenerateOptionsRequest,
// *SHMGenerateResponse, *Queued, *Progress, *Heartbeat.
//
// The version-1 types are valid in a version-1 and a version-2 header
// (SPEC 11.1); their Version field is the header version, with 0 (the zero
// value) meaning version 1: the decoders report a version-1 header as 0 and
// any other as its number, and the encoders write 0 as 1. The version-2
// types are always sent in a version-2 header.
type Message interface {
	MsgType() MsgType
}

// GenerateRequest is message 0x0001 (SPEC section 4).
type GenerateRequest struct {
	Version   uint16 // header version; 0 encodes as 1
	RequestID uint64
	ModelID   uint32
	Width     uint32
	Height    uint32
	Steps     uint32
	CFGScale  float32
	Seed      uint64 // 0 asks the daemon to choose
	ClipL     string
	ClipG     string
	T5        string
}

// StatusRequest is message 0x0003 (SPEC section 7).
type StatusRequest struct {
	Version   uint16 // header version; 0 encodes as 1 (2 asks for the 11.6 fields)
	RequestID uint64
}

// GenerateResponse is message 0x0002 (SPEC section 5).
type GenerateResponse struct {
	Version          uint16 // header version; 0 encodes as 1
	RequestID        uint64
	Status           uint32 // 200 (encoders write the field as it is)
	GenerationTimeMS uint32
	Width            uint32
	Height           uint32
	Channels         uint32 // 3 (RGB) or 4 (RGBA)
	// Pixels are width*height*channels bytes, rows top to bottom. After
	// DecodeResponse they alias the message buffer (no copy).
	Pixels []byte
	// Seed is the seed the daemon used; valid only when HasSeed (the seed
	// extension was present).
	Seed    uint64
	HasSeed bool
}

// StatusResponse is message 0x0004 (SPEC section 7, and 11.6 in a
// version-2 header).
type StatusResponse struct {
	// Version is the header version; 0 encodes as 1. In version 2 the
	// reply carries V2 (the encoder refuses a mismatch).
	Version         uint16
	RequestID       uint64
	Status          uint32 // 200 (encoders write the field as it is)
	VersionMin      uint16
	VersionMax      uint16
	UptimeMS        uint64
	RequestsServed  uint64
	ConnectionsOpen uint32
	MaxConnections  uint32
	QueueDepth      uint32
	Backend         string
	DaemonVersion   string
	// V2 holds the fields a version-2 status reply appends; nil in
	// version 1.
	V2 *StatusV2
}

// MsgType returns TypeGenerateRequest.
func (GenerateRequest) MsgType() MsgType { return TypeGenerateRequest }

// MsgType returns TypeStatusRequest.
func (StatusRequest) MsgType() MsgType { return TypeStatusRequest }

// MsgType returns TypeGenerateResponse.
func (GenerateResponse) MsgType() MsgType { return TypeGenerateResponse }

// MsgType returns TypeStatusResponse.
func (StatusResponse) MsgType() MsgType { return TypeStatusResponse }

// MsgType returns TypeError.
func (ErrorResponse) MsgType() MsgType { return TypeError }

// NewGenerateRequest returns a request for model 0 with the prompt in all
// three slots (clip_l, clip_g, t5), as a v1 sender writes it.
func NewGenerateRequest(id uint64, prompt string, width, height, steps uint32, cfg float32, seed uint64) *GenerateRequest {
	return &GenerateRequest{
		RequestID: id,
		ModelID:   ModelSD35,
		Width:     width,
		Height:    height,
		Steps:     steps,
		CFGScale:  cfg,
		Seed:      seed,
		ClipL:     prompt,
		ClipG:     prompt,
		T5:        prompt,
	}
}

// NewErrorResponse returns the error reply for code, with the code's status.
func NewErrorResponse(requestID uint64, code ErrorCode, message string) *ErrorResponse {
	return &ErrorResponse{RequestID: requestID, Status: code.Status(), Code: code, Message: message}
}

// Response returns the error reply a daemon sends for this failure.
func (e *Error) Response() *ErrorResponse {
	return NewErrorResponse(e.RequestID, e.Code, e.Msg)
}

// ReplySize returns the size of the generate response message (header,
// fixed fields, pixels and seed extension) for an image. It saturates at
// math.MaxUint64 instead of wrapping.
func ReplySize(width, height, channels uint32) uint64 {
	const fixed = HeaderSize + GenerateResponseFixedSize + SeedExtensionSize
	wh := uint64(width) * uint64(height) // cannot overflow: < 2^64
	if channels != 0 && wh > (math.MaxUint64-fixed)/uint64(channels) {
		return math.MaxUint64
	}
	return fixed + wh*uint64(channels)
}

// Validate applies the SPEC section 4 rules in the SPEC order (model,
// width and height, steps, cfg, prompts clip_l/clip_g/t5, reply size) and
// returns the *Error the daemon would answer with, or nil.
func (r *GenerateRequest) Validate() error {
	return r.validate(true)
}

// validate is Validate, with the reply-size rule only when replyRule is set.
func (r *GenerateRequest) validate(replyRule bool) error {
	if err := checkParams(r.RequestID, r.ModelID, r.Width, r.Height, r.Steps, r.CFGScale); err != nil {
		return err
	}
	prompts := [3]string{r.ClipL, r.ClipG, r.T5}
	for i, p := range prompts {
		if err := checkPromptLen(r.RequestID, i, uint64(len(p))); err != nil {
			return err
		}
		if !utf8.ValidString(p) {
			return newError(CodeInvalidPrompt, r.RequestID, "%s prompt is not valid UTF-8", promptNames[i])
		}
	}
	if !replyRule {
		return nil
	}
	if err := checkReplySize(r.RequestID, r.Width, r.Height); err != nil {
		return err
	}
	return nil
}

var promptNames = [3]string{"clip_l", "clip_g", "t5"}

func checkDimension(id uint64, name string, v uint32) *Error {
	if v < MinDimension || v > MaxDimension || v%DimensionStep != 0 {
		return newError(CodeInvalidDimensions, id, "%s %d is not a multiple of %d in %d..%d", name, v, DimensionStep, MinDimension, MaxDimension)
	}
	return nil
}

// checkParams checks model, width, height, steps and cfg in SPEC order.
func checkParams(id uint64, model, width, height, steps uint32, cfg float32) *Error {
	if model != ModelSD35 {
		return newError(CodeInvalidModel, id, "model_id %d is not 0", model)
	}
	if err := checkDimension(id, "width", width); err != nil {
		return err
	}
	if err := checkDimension(id, "height", height); err != nil {
		return err
	}
	if steps < MinSteps || steps > MaxSteps {
		return newError(CodeInvalidSteps, id, "steps %d outside %d..%d", steps, MinSteps, MaxSteps)
	}
	c := float64(cfg)
	if math.IsNaN(c) || math.IsInf(c, 0) || cfg < MinCFG || cfg > MaxCFG {
		return newError(CodeInvalidCFG, id, "cfg_scale %v (bits 0x%08X) outside %g..%g", cfg, math.Float32bits(cfg), MinCFG, MaxCFG)
	}
	return nil
}

func checkPromptLen(id uint64, i int, n uint64) *Error {
	if n < 1 || n > MaxPromptLen {
		return newError(CodeInvalidPrompt, id, "%s prompt is %d bytes, want 1..%d", promptNames[i], n, MaxPromptLen)
	}
	return nil
}

func checkReplySize(id uint64, width, height uint32) *Error {
	if n := ReplySize(width, height, ReplyChannels); n > MaxMessageSize {
		return newError(CodeInvalidDimensions, id,
			"%dx%d RGB reply would be %d bytes, over the %d-byte message limit; the largest square that fits is %dx%d",
			width, height, n, MaxMessageSize, MaxSquareDimension, MaxSquareDimension)
	}
	return nil
}

// tooLarge is the encoders' error for a message over MaxMessageSize.
func tooLarge(id uint64, t MsgType, size uint64) *Error {
	return newError(CodeTooLarge, id, "%s would be %d bytes, over the %d-byte message limit", t, size, MaxMessageSize)
}

func appendMsgHeader(dst []byte, version uint16, t MsgType, payloadLen int) []byte {
	if version == 0 {
		version = Version
	}
	return AppendHeader(dst, Header{Magic: Magic, Version: version, Type: t, PayloadLen: uint32(payloadLen)})
}

// AppendGenerateRequest appends the encoding of r to dst. The prompts are
// written back to back in the order clip_l, clip_g, t5 (offsets 0, L, 2L
// when all three are the same prompt of L bytes). It does not call
// Validate; it fails only when the message would exceed MaxMessageSize.
func AppendGenerateRequest(dst []byte, r *GenerateRequest) ([]byte, error) {
	return appendGenerate(dst, r.Version, TypeGenerateRequest, r)
}

// appendGenerate appends a generate request of type t: the header,
// request_id, the u32 fields extra (0x0005's flags and reserved), then
// section 4's fields. It fails only when the message would exceed
// MaxMessageSize.
func appendGenerate(dst []byte, version uint16, t MsgType, r *GenerateRequest, extra ...uint32) ([]byte, error) {
	promptLen := uint64(len(r.ClipL)) + uint64(len(r.ClipG)) + uint64(len(r.T5))
	payload := uint64(GenerateRequestFixedSize+4*len(extra)) + promptLen
	if size := HeaderSize + payload; size > MaxMessageSize {
		return dst, tooLarge(r.RequestID, t, size)
	}
	dst = appendMsgHeader(dst, version, t, int(payload))
	dst = appendU64(dst, r.RequestID)
	for _, v := range extra {
		dst = appendU32(dst, v)
	}
	return appendGenerateFields(dst, r), nil
}

// appendGenerateFields appends section 4's model_id .. prompt_data.
func appendGenerateFields(dst []byte, r *GenerateRequest) []byte {
	dst = appendU32(dst, r.ModelID)
	dst = appendU32(dst, r.Width)
	dst = appendU32(dst, r.Height)
	dst = appendU32(dst, r.Steps)
	dst = appendU32(dst, math.Float32bits(r.CFGScale))
	dst = appendU64(dst, r.Seed)
	off := uint32(0)
	for _, p := range [3]string{r.ClipL, r.ClipG, r.T5} {
		dst = appendU32(dst, off)
		dst = appendU32(dst, uint32(len(p)))
		off += uint32(len(p))
	}
	dst = append(dst, r.ClipL...)
	dst = append(dst, r.ClipG...)
	return append(dst, r.T5...)
}

// EncodeGenerateRequest returns the encoding of r (see AppendGenerateRequest).
func EncodeGenerateRequest(r *GenerateRequest) ([]byte, error) {
	return AppendGenerateRequest(nil, r)
}

// AppendStatusRequest appends the encoding of r to dst. It never fails; the
// error result keeps the encoders uniform.
func AppendStatusRequest(dst []byte, r *StatusRequest) ([]byte, error) {
	dst = appendMsgHeader(dst, r.Version, TypeStatusRequest, StatusRequestSize)
	return appendU64(dst, r.RequestID), nil
}

// EncodeStatusRequest returns the encoding of r.
func EncodeStatusRequest(r *StatusRequest) ([]byte, error) {
	return AppendStatusRequest(nil, r)
}

// AppendGenerateResponse appends the encoding of r to dst: image_data_len
// is len(r.Pixels), and the seed extension is written when r.HasSeed. The
// other fields are written as they are (no rule checks); it fails only when
// the message would exceed MaxMessageSize.
func AppendGenerateResponse(dst []byte, r *GenerateResponse) ([]byte, error) {
	payload := uint64(GenerateResponseFixedSize) + uint64(len(r.Pixels))
	if r.HasSeed {
		payload += SeedExtensionSize
	}
	if HeaderSize+payload > MaxMessageSize {
		return dst, tooLarge(r.RequestID, TypeGenerateResponse, HeaderSize+payload)
	}
	dst = appendMsgHeader(dst, r.Version, TypeGenerateResponse, int(payload))
	dst = appendImageFields(dst, r.RequestID, r.Status, r.GenerationTimeMS, r.Width, r.Height, r.Channels)
	dst = appendU32(dst, uint32(len(r.Pixels)))
	dst = append(dst, r.Pixels...)
	if r.HasSeed {
		dst = appendU64(dst, r.Seed)
	}
	return dst, nil
}

// EncodeGenerateResponse returns the encoding of r (see
// AppendGenerateResponse).
func EncodeGenerateResponse(r *GenerateResponse) ([]byte, error) {
	return AppendGenerateResponse(nil, r)
}

// AppendStatusResponse appends the encoding of r to dst, with the 11.6
// fields when r.Version is 2 or more (the generations pair only when
// r.V2.HasGenerations, so a decoded reply without it re-encodes to the
// same bytes). Fields are written as they are; it fails when a string is
// longer than its 16-bit length field allows (a daemon sends at most
// MaxStatusStringLen bytes), and when r.V2 is nil in version 2 or set in
// version 1 (a decoder would refuse the first, and drop the fields of the
// second).
func AppendStatusResponse(dst []byte, r *StatusResponse) ([]byte, error) {
	if len(r.Backend) > 0xFFFF || len(r.DaemonVersion) > 0xFFFF {
		return dst, newError(CodeMalformed, r.RequestID, "status response string too long (backend %d, daemon_version %d bytes; max %d)", len(r.Backend), len(r.DaemonVersion), 0xFFFF)
	}
	v2 := r.Version >= Version2
	if v2 != (r.V2 != nil) {
		return dst, newError(CodeMalformed, r.RequestID, "status response in version %d with V2 fields %v: version 2 and the V2 fields go together", r.Version, r.V2 != nil)
	}
	payload := StatusResponseFixedSize + len(r.Backend) + len(r.DaemonVersion)
	if v2 {
		if len(r.V2.LastCrash) > 0xFFFF {
			return dst, newError(CodeMalformed, r.RequestID, "status response last_crash is %d bytes, over %d", len(r.V2.LastCrash), 0xFFFF)
		}
		payload += r.V2.size()
	}
	dst = appendMsgHeader(dst, r.Version, TypeStatusResponse, payload)
	dst = appendU64(dst, r.RequestID)
	dst = appendU32(dst, r.Status)
	dst = appendU16(dst, r.VersionMin)
	dst = appendU16(dst, r.VersionMax)
	dst = appendU64(dst, r.UptimeMS)
	dst = appendU64(dst, r.RequestsServed)
	dst = appendU32(dst, r.ConnectionsOpen)
	dst = appendU32(dst, r.MaxConnections)
	dst = appendU32(dst, r.QueueDepth)
	dst = appendStr16(dst, r.Backend)
	dst = appendStr16(dst, r.DaemonVersion)
	if v2 {
		dst = appendStatusV2(dst, r.V2)
	}
	return dst, nil
}

// EncodeStatusResponse returns the encoding of r (see AppendStatusResponse).
func EncodeStatusResponse(r *StatusResponse) ([]byte, error) {
	return AppendStatusResponse(nil, r)
}

// AppendError appends the encoding of the error reply r to dst. Fields are
// written as they are; it fails when the message is longer than the 16-bit
// msg_len allows (MaxErrorMessageLen).
func AppendError(dst []byte, r *ErrorResponse) ([]byte, error) {
	if len(r.Message) > MaxErrorMessageLen {
		return dst, newError(CodeMalformed, r.RequestID, "error message is %d bytes, over %d", len(r.Message), MaxErrorMessageLen)
	}
	dst = appendMsgHeader(dst, r.Version, TypeError, ErrorFixedSize+len(r.Message))
	dst = appendU64(dst, r.RequestID)
	dst = appendU32(dst, r.Status)
	dst = appendU32(dst, uint32(r.Code))
	return appendStr16(dst, r.Message), nil
}

// EncodeError returns the encoding of the error reply r (see AppendError).
func EncodeError(r *ErrorResponse) ([]byte, error) {
	return AppendError(nil, r)
}

// AppendMessage appends the encoding of any of the message types (value or
// pointer) to dst.
func AppendMessage(dst []byte, m Message) ([]byte, error) {
	if out, ok, err := appendV2Message(dst, m); ok {
		return out, err
	}
	switch v := m.(type) {
	case *GenerateRequest:
		return AppendGenerateRequest(dst, v)
	case GenerateRequest:
		return AppendGenerateRequest(dst, &v)
	case *StatusRequest:
		return AppendStatusRequest(dst, v)
	case StatusRequest:
		return AppendStatusRequest(dst, &v)
	case *GenerateResponse:
		return AppendGenerateResponse(dst, v)
	case GenerateResponse:
		return AppendGenerateResponse(dst, &v)
	case *StatusResponse:
		return AppendStatusResponse(dst, v)
	case StatusResponse:
		return AppendStatusResponse(dst, &v)
	case *ErrorResponse:
		return AppendError(dst, v)
	case ErrorResponse:
		return AppendError(dst, &v)
	}
	return dst, fmt.Errorf("weave protocol: cannot encode %T", m)
}

// Encode returns the encoding of any of the message types.
func Encode(m Message) ([]byte, error) {
	return AppendMessage(nil, m)
}
