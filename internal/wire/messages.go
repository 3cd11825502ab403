package wire

import (
	"encoding/binary"
	"fmt"
)

// Header is a message header. Every field is written as given, so a test
// can build a wrong one; PayloadLen < 0 means "the payload's real size".
type Header struct {
	Magic      uint32
	Version    uint16
	Type       uint16
	PayloadLen int64
	Reserved   uint32
}

// NewHeader is a correct v1 header for msgType whose payload_len is
// filled in by Frame.
func NewHeader(msgType uint16) Header {
	return Header{Magic: Magic, Version: Version, Type: msgType, PayloadLen: -1}
}

// ParseHeader reads the 16 header bytes at the start of b as they are
// (nothing is checked but the length).
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%d bytes, shorter than the %d-byte header", len(b), HeaderSize)
	}
	be := binary.BigEndian
	return Header{
		Magic:      be.Uint32(b[OffMagic:]),
		Version:    be.Uint16(b[OffVersion:]),
		Type:       be.Uint16(b[OffType:]),
		PayloadLen: int64(be.Uint32(b[OffPayloadLen:])),
		Reserved:   be.Uint32(b[OffReserved:]),
	}, nil
}

// Frame lays out the 16-byte header followed by the payload fields.
func Frame(h Header, payload *Msg) *Msg {
	plen := uint32(payload.Size())
	if h.PayloadLen >= 0 {
		plen = uint32(h.PayloadLen)
	}
	m := &Msg{}
	m.U32("header magic", h.Magic)
	m.U16("header version", h.Version)
	m.U16("header msg_type", h.Type)
	m.U32("header payload_len", plen)
	m.U32("header reserved", h.Reserved)
	return m.Append(payload)
}

// Slot is one prompt reference (offset and length into prompt_data) in a
// generate request.
type Slot struct{ Off, Len uint32 }

// GenerateRequest is a generate request (SPEC section 4).
type GenerateRequest struct {
	Header     Header
	RequestID  uint64
	ModelID    uint32
	Width      uint32
	Height     uint32
	Steps      uint32
	CfgBits    uint32 // cfg_scale as f32 bits
	Seed       uint64
	ClipL      Slot
	ClipG      Slot
	T5         Slot
	PromptData []byte
}

// SetPrompts lays the three prompts out back to back in PromptData (the
// way this repository's encoders do) and points the slots at them.
func (r *GenerateRequest) SetPrompts(clipL, clipG, t5 string) {
	l, g, t := uint32(len(clipL)), uint32(len(clipG)), uint32(len(t5))
	r.PromptData = []byte(clipL + clipG + t5)
	r.ClipL, r.ClipG, r.T5 = Slot{0, l}, Slot{l, g}, Slot{l + g, t}
}

// Payload lays out the payload fields.
func (r GenerateRequest) Payload() *Msg {
	p := &Msg{}
	p.U64("request_id", r.RequestID)
	p.U32("model_id", r.ModelID)
	p.U32("width", r.Width)
	p.U32("height", r.Height)
	p.U32("steps", r.Steps)
	p.U32(fmt.Sprintf("cfg_scale (f32 bits 0x%08X)", r.CfgBits), r.CfgBits)
	p.U64("seed", r.Seed)
	p.U32("clip_l_offset", r.ClipL.Off)
	p.U32("clip_l_len", r.ClipL.Len)
	p.U32("clip_g_offset", r.ClipG.Off)
	p.U32("clip_g_len", r.ClipG.Len)
	p.U32("t5_offset", r.T5.Off)
	p.U32("t5_len", r.T5.Len)
	if len(r.PromptData) > 0 {
		p.Add(fmt.Sprintf("prompt_data (%d bytes)", len(r.PromptData)), r.PromptData)
	}
	return p
}

// Msg is the whole message.
func (r GenerateRequest) Msg() *Msg { return Frame(r.Header, r.Payload()) }

// StatusRequest is a status request (SPEC section 7).
type StatusRequest struct {
	Header    Header
	RequestID uint64
	Trailing  []byte // after the known fields
}

// NewStatusRequest is a correct status request.
func NewStatusRequest(requestID uint64) StatusRequest {
	return StatusRequest{Header: NewHeader(TypeStatusRequest), RequestID: requestID}
}

// Msg is the whole message.
func (r StatusRequest) Msg() *Msg {
	p := &Msg{}
	p.U64("request_id", r.RequestID)
	return Frame(r.Header, trailing(p, r.Trailing))
}

// GenerateResponse is a generate response (SPEC section 5).
type GenerateResponse struct {
	Header       Header
	RequestID    uint64
	Status       uint32
	GenTimeMS    uint32
	Width        uint32
	Height       uint32
	Channels     uint32
	ImageDataLen int64 // < 0: len(Image)
	Image        []byte
	HasSeed      bool
	Seed         uint64
	Trailing     []byte // after the seed (or after the pixels when !HasSeed)
}

// Payload lays out the payload fields.
func (r GenerateResponse) Payload() *Msg {
	p := imageFields(r.RequestID, r.Status, r.GenTimeMS, r.Width, r.Height, r.Channels)
	n := uint32(len(r.Image))
	if r.ImageDataLen >= 0 {
		n = uint32(r.ImageDataLen)
	}
	p.U32("image_data_len", n)
	if len(r.Image) > 0 {
		p.Add(fmt.Sprintf("image_data (%d bytes)", len(r.Image)), r.Image)
	}
	if r.HasSeed {
		p.U64("seed (extension)", r.Seed)
	}
	return trailing(p, r.Trailing)
}

// Msg is the whole message.
func (r GenerateResponse) Msg() *Msg { return Frame(r.Header, r.Payload()) }

// ErrorReply is an error reply (SPEC section 6).
type ErrorReply struct {
	Header    Header
	RequestID uint64
	Status    uint32
	Code      uint32
	MsgLen    int64 // < 0: len(Message)
	Message   string
	Trailing  []byte
}

// Payload lays out the payload fields.
func (r ErrorReply) Payload() *Msg {
	p := &Msg{}
	p.U64("request_id", r.RequestID)
	p.U32("status", r.Status)
	p.U32("error_code", r.Code)
	str16(p, "msg_len", "message", r.MsgLen, r.Message)
	return trailing(p, r.Trailing)
}

// Msg is the whole message.
func (r ErrorReply) Msg() *Msg { return Frame(r.Header, r.Payload()) }

// StatusResponse is a status response (SPEC section 7).
type StatusResponse struct {
	Header           Header
	RequestID        uint64
	Status           uint32
	VersionMin       uint16
	VersionMax       uint16
	UptimeMS         uint64
	RequestsServed   uint64
	ConnsOpen        uint32
	MaxConns         uint32
	QueueDepth       uint32
	BackendLen       int64 // < 0: len(Backend)
	Backend          string
	DaemonVersionLen int64 // < 0: len(DaemonVersion)
	DaemonVersion    string
	Trailing         []byte
}

// Payload lays out the payload fields.
func (r StatusResponse) Payload() *Msg {
	p := &Msg{}
	p.U64("request_id", r.RequestID)
	p.U32("status", r.Status)
	p.U16("version_min", r.VersionMin)
	p.U16("version_max", r.VersionMax)
	p.U64("uptime_ms", r.UptimeMS)
	p.U64("requests_served", r.RequestsServed)
	p.U32("connections_open", r.ConnsOpen)
	p.U32("max_connections", r.MaxConns)
	p.U32("queue_depth", r.QueueDepth)
	str16(p, "backend_len", "backend", r.BackendLen, r.Backend)
	str16(p, "daemon_version_len", "daemon_version", r.DaemonVersionLen, r.DaemonVersion)
	return trailing(p, r.Trailing)
}

// Msg is the whole message.
func (r StatusResponse) Msg() *Msg { return Frame(r.Header, r.Payload()) }

// The field runs that several messages share.

// trailing appends the bytes after the known fields, if any.
func trailing(p *Msg, b []byte) *Msg {
	if len(b) > 0 {
		p.Add("bytes after the known fields (ignored)", b)
	}
	return p
}

// str16 appends a string with its u16 length field lenName: n when n >= 0,
// else len(s) (so a test can make them disagree), then s, if not empty, as
// the field `name "s"`.
func str16(p *Msg, lenName, name string, n int64, s string) {
	l := uint16(len(s))
	if n >= 0 {
		l = uint16(n)
	}
	p.U16(lenName, l)
	if len(s) > 0 {
		p.Add(fmt.Sprintf("%s %q", name, s), []byte(s))
	}
}

// imageFields is request_id and the image fields that the generate
// response (section 5) and the shared-memory response (11.4) share.
func imageFields(id uint64, status, genTimeMS, width, height, channels uint32) *Msg {
	p := &Msg{}
	p.U64("request_id", id)
	p.U32("status", status)
	p.U32("generation_time_ms", genTimeMS)
	p.U32("image_width", width)
	p.U32("image_height", height)
	p.U32("channels", channels)
	return p
}
