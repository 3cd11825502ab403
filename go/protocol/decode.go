package protocol

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// frame runs the header checks shared by both decoders and returns the
// header and the payload (exactly PayloadLen bytes). Order: magic,
// version, size (DecodeHeader), then msg_type (accept), then the message
// must hold the whole payload (CodeMalformed). Bytes after
// HeaderSize+PayloadLen are ignored.
func frame(msg []byte, vs Versions, accept func(uint16, MsgType) bool) (Header, []byte, error) {
	h, err := vs.DecodeHeader(msg)
	if err != nil {
		return h, nil, err
	}
	// The payload bytes present, capped at payload_len.
	avail := msg[HeaderSize:]
	if uint64(len(avail)) > uint64(h.PayloadLen) {
		avail = avail[:h.PayloadLen]
	}
	id := echoID(avail)
	if !accept(h.Version, h.Type) {
		return h, nil, newError(CodeUnknownType, id, "%s is not accepted here in version %d", h.Type, h.Version)
	}
	if uint64(len(avail)) < uint64(h.PayloadLen) {
		return h, nil, newError(CodeMalformed, id, "message ends after %d of %d payload bytes", len(avail), h.PayloadLen)
	}
	return h, avail, nil
}

// echoID returns the request_id when the payload has at least 8 bytes, else
// 0 (SPEC section 4).
func echoID(p []byte) uint64 {
	if len(p) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(p)
}

// fieldVersion is the Version field of a decoded version-1 type: 0 for a
// version-1 header (the zero value means version 1), else the header's.
func fieldVersion(h Header) uint16 {
	if h.Version == Version {
		return 0
	}
	return h.Version
}

// isRequestType is the request decoder's type table: types 1 and 3 in
// every version, 5 in version 2.
func isRequestType(v uint16, t MsgType) bool {
	return t == TypeGenerateRequest || t == TypeStatusRequest ||
		(v >= Version2 && t == TypeGenerateOptions)
}

// isResponseType is the response decoder's type table: 2, 4 and 255 in
// every version, 6 and 0x10..0x12 in version 2.
func isResponseType(v uint16, t MsgType) bool {
	switch t {
	case TypeGenerateResponse, TypeStatusResponse, TypeError:
		return true
	case TypeSHMResponse, TypeQueued, TypeProgress, TypeHeartbeat:
		return v >= Version2
	}
	return false
}

// DecodeRequest is Versions1.DecodeRequest: a version-2 header is
// CodeUnsupportedVersion.
func DecodeRequest(msg []byte) (Message, error) {
	return Versions1.DecodeRequest(msg)
}

// DecodeRequest is the daemon-side decoder: it decodes one complete message
// (header and payload) of type generate request or status request (and, in
// a version-2 header, generate request with options), with exactly the SPEC
// checks in the SPEC order. It returns *GenerateRequest, *StatusRequest or
// *GenerateOptionsRequest (the version-1 types with Version 0 for a
// version-1 header, else the header's), or an *Error carrying the code and
// request_id of the error reply the daemon sends.
func (vs Versions) DecodeRequest(msg []byte) (Message, error) {
	h, p, err := frame(msg, vs, isRequestType)
	if err != nil {
		return nil, err
	}
	switch h.Type {
	case TypeStatusRequest:
		if len(p) < StatusRequestSize {
			return nil, newError(CodeMalformed, 0, "status request payload is %d bytes, want at least %d", len(p), StatusRequestSize)
		}
		return &StatusRequest{Version: fieldVersion(h), RequestID: binary.BigEndian.Uint64(p)}, nil
	case TypeGenerateOptions:
		r, err := decodeGenerateOptions(p)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	r, err := decodeGenerateRequest(p)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	r.Version = fieldVersion(h)
	return r, nil
}

func decodeGenerateRequest(p []byte) (*GenerateRequest, error) {
	id := echoID(p)
	if len(p) < GenerateRequestFixedSize {
		return nil, newError(CodeMalformed, id, "generate request payload is %d bytes, want at least %d", len(p), GenerateRequestFixedSize)
	}
	return decodeGenerateFields(id, p[8:8+generateFieldsSize], p[GenerateRequestFixedSize:], true)
}

// generateFieldsSize is section 4's model_id .. t5_len: the part of the
// generate request that 0x0005 moves 8 bytes later.
const generateFieldsSize = GenerateRequestFixedSize - 8

// decodeGenerateFields checks and decodes section 4's fields (f: model_id ..
// t5_len, generateFieldsSize bytes) and prompt_data, in the SPEC order; the
// reply-size rule applies when replyRule is set.
func decodeGenerateFields(id uint64, f, data []byte, replyRule bool) (*GenerateRequest, error) {
	rd := fieldReader(f)
	r := &GenerateRequest{
		RequestID: id,
		ModelID:   rd.u32(),
		Width:     rd.u32(),
		Height:    rd.u32(),
		Steps:     rd.u32(),
		CFGScale:  math.Float32frombits(rd.u32()),
		Seed:      rd.u64(),
	}
	if err := checkParams(id, r.ModelID, r.Width, r.Height, r.Steps, r.CFGScale); err != nil {
		return nil, err
	}
	size := uint64(len(data))
	var prompts [3]string
	for i := range prompts {
		off := uint64(rd.u32())
		n := uint64(rd.u32())
		if err := checkPromptLen(id, i, n); err != nil {
			return nil, err
		}
		if off > size || n > size-off {
			return nil, newError(CodeInvalidPrompt, id, "%s prompt (offset %d, length %d) runs past the %d bytes of prompt_data", promptNames[i], off, n, size)
		}
		b := data[off : off+n]
		if !utf8.Valid(b) {
			return nil, newError(CodeInvalidPrompt, id, "%s prompt is not valid UTF-8", promptNames[i])
		}
		prompts[i] = string(b)
	}
	if replyRule {
		if err := checkReplySize(id, r.Width, r.Height); err != nil {
			return nil, err
		}
	}
	r.ClipL, r.ClipG, r.T5 = prompts[0], prompts[1], prompts[2]
	return r, nil
}

// DecodeResponse is Versions1.DecodeResponse: a version-2 header is
// CodeUnsupportedVersion.
func DecodeResponse(msg []byte) (Message, error) {
	return Versions1.DecodeResponse(msg)
}

// DecodeResponse is the client-side decoder: it decodes one complete
// message of type generate response, status response or error (and, in a
// version-2 header, shared-memory response, queued, progress, heartbeat),
// with the SPEC checks. It returns *GenerateResponse (Pixels alias msg),
// *StatusResponse (with V2 set in a version-2 header), *ErrorResponse,
// *SHMGenerateResponse, *Queued, *Progress or *Heartbeat; the version-1
// types have Version 0 for a version-1 header, else the header's. A daemon error reply is a
// successful decode (the caller decides to treat *ErrorResponse as an
// error). Decode failures are *Error values (CodeMalformed for a broken
// payload).
func (vs Versions) DecodeResponse(msg []byte) (Message, error) {
	h, p, err := frame(msg, vs, isResponseType)
	if err != nil {
		return nil, err
	}
	// Each case checks err itself so that a failure is a nil Message, not
	// a typed nil pointer in the interface.
	switch h.Type {
	case TypeGenerateResponse:
		r, err := decodeGenerateResponse(p)
		if err != nil {
			return nil, err
		}
		r.Version = fieldVersion(h)
		return r, nil
	case TypeStatusResponse:
		r, err := decodeStatusResponse(p, fieldVersion(h))
		if err != nil {
			return nil, err
		}
		return r, nil
	case TypeError:
		r, err := decodeError(p)
		if err != nil {
			return nil, err
		}
		r.Version = fieldVersion(h)
		return r, nil
	}
	return decodeV2Response(h.Type, p)
}

func decodeGenerateResponse(p []byte) (*GenerateResponse, error) {
	id := echoID(p)
	if len(p) < GenerateResponseFixedSize {
		return nil, newError(CodeMalformed, id, "generate response payload is %d bytes, want at least %d", len(p), GenerateResponseFixedSize)
	}
	f := fieldReader(p[8:])
	r := &GenerateResponse{RequestID: id}
	f.readImageFields(&r.Status, &r.GenerationTimeMS, &r.Width, &r.Height, &r.Channels)
	n := uint64(f.u32())
	if err := checkImage(id, "generate response", r.Status, r.Width, r.Height, r.Channels); err != nil {
		return nil, err
	}
	// width*height always fits in 64 bits, but times channels may not
	// (2^31 * 2^31 * 4 = 2^64 wraps to 0), so compare in two steps: n is a
	// u32, and a product over 2^32-1 can never equal it.
	wh := uint64(r.Width) * uint64(r.Height)
	if wh > math.MaxUint32 || wh*uint64(r.Channels) != n {
		return nil, newError(CodeMalformed, id, "image_data_len is %d, but %dx%dx%d is not", n, r.Width, r.Height, r.Channels)
	}
	rest := p[GenerateResponseFixedSize:]
	if uint64(len(rest)) < n {
		return nil, newError(CodeMalformed, id, "image data is %d bytes, image_data_len says %d", len(rest), n)
	}
	r.Pixels = rest[:n:n]
	if ext := rest[n:]; len(ext) >= SeedExtensionSize {
		r.Seed = binary.BigEndian.Uint64(ext)
		r.HasSeed = true
	}
	return r, nil
}

func decodeStatusResponse(p []byte, version uint16) (*StatusResponse, error) {
	id := echoID(p)
	if len(p) < StatusResponseFixedSize {
		return nil, newError(CodeMalformed, id, "status response payload is %d bytes, want at least %d", len(p), StatusResponseFixedSize)
	}
	f := fieldReader(p[8:])
	r := &StatusResponse{
		Version:         version,
		RequestID:       id,
		Status:          f.u32(),
		VersionMin:      f.u16(),
		VersionMax:      f.u16(),
		UptimeMS:        f.u64(),
		RequestsServed:  f.u64(),
		ConnectionsOpen: f.u32(),
		MaxConnections:  f.u32(),
		QueueDepth:      f.u32(),
	}
	if r.Status != StatusOK {
		return nil, newError(CodeMalformed, id, "status response status is %d, want %d", r.Status, StatusOK)
	}
	var err *Error
	if r.Backend, err = f.str16(id, "backend length"); err != nil {
		return nil, err
	}
	if r.DaemonVersion, err = f.str16(id, "daemon_version length"); err != nil {
		return nil, err
	}
	if version >= Version2 {
		v2, err := decodeStatusV2(id, f)
		if err != nil {
			return nil, err
		}
		r.V2 = v2
	}
	return r, nil
}

func decodeError(p []byte) (*ErrorResponse, error) {
	id := echoID(p)
	if len(p) < ErrorFixedSize {
		return nil, newError(CodeMalformed, id, "error payload is %d bytes, want at least %d", len(p), ErrorFixedSize)
	}
	f := fieldReader(p[8:])
	r := &ErrorResponse{RequestID: id, Status: f.u32(), Code: ErrorCode(f.u32())}
	var err *Error
	if r.Message, err = f.str16(id, "msg_len"); err != nil {
		return nil, err
	}
	return r, nil
}

// ReadMessage is Versions1.ReadMessage.
func ReadMessage(r io.Reader, max uint32) ([]byte, error) {
	return Versions1.ReadMessage(r, max)
}

// ReadMessage reads one message from r: the header first, checked with
// vs.DecodeHeader and against max (the largest whole message accepted,
// header included; 0 or anything above MaxMessageSize means
// MaxMessageSize) before anything is allocated, then exactly payload_len
// bytes. It returns the whole message (header and payload).
//
// A stream that ends before the first byte returns io.EOF itself; one that
// ends inside the message returns an *Error with CodeMalformed wrapping
// io.ErrUnexpectedEOF. Other read errors (deadlines, resets) are returned
// unchanged. Header failures are the *Error of DecodeHeader (or
// CodeTooLarge for max).
func (vs Versions) ReadMessage(r io.Reader, max uint32) ([]byte, error) {
	if max == 0 || max > MaxMessageSize {
		max = MaxMessageSize
	}
	var hdr [HeaderSize]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &Error{Code: CodeMalformed, Msg: "stream ended after " + strconv.Itoa(n) + " of 16 header bytes", Err: io.ErrUnexpectedEOF}
		}
		return nil, err
	}
	h, err := vs.DecodeHeader(hdr[:])
	if err != nil {
		return nil, err
	}
	if size := h.MessageSize(); size > uint64(max) {
		return nil, newError(CodeTooLarge, 0, "message of %d bytes exceeds the limit of %d", size, max)
	}
	msg := make([]byte, h.MessageSize())
	copy(msg, hdr[:])
	if n, err := io.ReadFull(r, msg[HeaderSize:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &Error{Code: CodeMalformed, RequestID: echoID(msg[HeaderSize : HeaderSize+n]),
				Msg: "stream ended after " + strconv.Itoa(n) + " of " + strconv.FormatUint(uint64(h.PayloadLen), 10) + " payload bytes", Err: io.ErrUnexpectedEOF}
		}
		return nil, err
	}
	return msg, nil
}
