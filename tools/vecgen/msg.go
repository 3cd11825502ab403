package main

// Byte layout helpers. Every message in a vector is built here field by
// field with explicit big-endian puts; nothing is taken from go/protocol or
// the C codec, so the vectors stay an independent statement of the format.

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Wire constants, restated from proto_spec/SPEC.md.
const (
	magicWEVE = 0x57455645 // "WEVE"

	typeGenerateRequest  = 0x0001
	typeGenerateResponse = 0x0002
	typeStatusRequest    = 0x0003
	typeStatusResponse   = 0x0004
	typeError            = 0x00FF

	headerSize     = 16
	maxMessageSize = 10485760 // 10 MiB, header included
	maxPayloadLen  = maxMessageSize - headerSize

	statusOK          = 200
	statusBadRequest  = 400
	statusServerError = 500
)

// field is one named run of bytes in a message.
type field struct {
	name string
	data []byte
}

// msg is a message as an ordered list of named fields.
type msg struct {
	fields []field
}

func (m *msg) add(name string, b []byte) *msg {
	c := make([]byte, len(b))
	copy(c, b)
	m.fields = append(m.fields, field{name: name, data: c})
	return m
}

func (m *msg) u16(name string, v uint16) *msg {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return m.add(name, b[:])
}

func (m *msg) u32(name string, v uint32) *msg {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return m.add(name, b[:])
}

func (m *msg) u64(name string, v uint64) *msg {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return m.add(name, b[:])
}

// append adds all fields of o after m's.
func (m *msg) append(o *msg) *msg {
	for _, f := range o.fields {
		m.add(f.name, f.data)
	}
	return m
}

func (m *msg) size() int {
	n := 0
	for _, f := range m.fields {
		n += len(f.data)
	}
	return n
}

func (m *msg) bytes() []byte {
	out := make([]byte, 0, m.size())
	for _, f := range m.fields {
		out = append(out, f.data...)
	}
	return out
}

// cut returns a copy of m holding only its first n bytes. A field split by
// the cut keeps its name with a note of how much of it is left.
func (m *msg) cut(n int) *msg {
	if n > m.size() {
		panic(fmt.Sprintf("cut(%d) of a %d-byte message", n, m.size()))
	}
	out := &msg{}
	left := n
	for _, f := range m.fields {
		if left == 0 {
			break
		}
		if len(f.data) <= left {
			out.add(f.name, f.data)
			left -= len(f.data)
			continue
		}
		out.add(fmt.Sprintf("%s (cut: %d of %d bytes)", f.name, left, len(f.data)), f.data[:left])
		left = 0
	}
	return out
}

// hdr is a message header. payloadLen < 0 means "the real payload size".
type hdr struct {
	magic      uint32
	version    uint16
	msgType    uint16
	payloadLen int64
	reserved   uint32
}

func defHdr(msgType uint16) hdr {
	return hdr{magic: magicWEVE, version: 1, msgType: msgType, payloadLen: -1}
}

// frame lays out the 16-byte header followed by the payload fields.
func frame(h hdr, payload *msg) *msg {
	plen := uint32(payload.size())
	if h.payloadLen >= 0 {
		plen = uint32(h.payloadLen)
	}
	m := &msg{}
	m.u32("header magic", h.magic)
	m.u16("header version", h.version)
	m.u16("header msg_type", h.msgType)
	m.u32("header payload_len", plen)
	m.u32("header reserved", h.reserved)
	return m.append(payload)
}

func f32bits(f float32) uint32 { return math.Float32bits(f) }

// slot is one prompt reference in a generate request.
type slot struct{ off, n uint32 }

// genReq is a generate request (SPEC section 4).
type genReq struct {
	h          hdr
	requestID  uint64
	modelID    uint32
	width      uint32
	height     uint32
	steps      uint32
	cfgBits    uint32
	seed       uint64
	clipL      slot
	clipG      slot
	t5         slot
	promptData []byte
}

// newGenReq is a valid request with the prompts laid out back to back.
func newGenReq(clipL, clipG, t5 string) genReq {
	pd := []byte(clipL + clipG + t5)
	l, g, t := uint32(len(clipL)), uint32(len(clipG)), uint32(len(t5))
	return genReq{
		h:          defHdr(typeGenerateRequest),
		requestID:  1,
		width:      512,
		height:     512,
		steps:      28,
		cfgBits:    0x40E00000, // 7.0
		clipL:      slot{0, l},
		clipG:      slot{l, g},
		t5:         slot{l + g, t},
		promptData: pd,
	}
}

// examplePrompt is the public text's worked example.
const examplePrompt = "a cat in space"

// exampleReq is the 118-byte worked example of SPEC section 4.
func exampleReq() genReq {
	return newGenReq(examplePrompt, examplePrompt, examplePrompt)
}

func (r genReq) payload() *msg {
	p := &msg{}
	p.u64("request_id", r.requestID)
	p.u32("model_id", r.modelID)
	p.u32("width", r.width)
	p.u32("height", r.height)
	p.u32("steps", r.steps)
	p.u32(fmt.Sprintf("cfg_scale (f32 bits 0x%08X)", r.cfgBits), r.cfgBits)
	p.u64("seed", r.seed)
	p.u32("clip_l_offset", r.clipL.off)
	p.u32("clip_l_len", r.clipL.n)
	p.u32("clip_g_offset", r.clipG.off)
	p.u32("clip_g_len", r.clipG.n)
	p.u32("t5_offset", r.t5.off)
	p.u32("t5_len", r.t5.n)
	if len(r.promptData) > 0 {
		p.add(fmt.Sprintf("prompt_data (%d bytes)", len(r.promptData)), r.promptData)
	}
	return p
}

func (r genReq) msg() *msg { return frame(r.h, r.payload()) }

func (r genReq) prompt(s slot) []byte {
	end := uint64(s.off) + uint64(s.n)
	if end > uint64(len(r.promptData)) {
		panic("ok vector with a prompt out of bounds")
	}
	return r.promptData[s.off:end]
}

// fields is the decoded form, for result: ok.
func (r genReq) fields() []kv {
	return []kv{
		{"version", dec(uint64(r.h.version))},
		{"request_id", num(r.requestID)},
		{"model_id", dec(uint64(r.modelID))},
		{"width", dec(uint64(r.width))},
		{"height", dec(uint64(r.height))},
		{"steps", dec(uint64(r.steps))},
		{"cfg_bits", fmt.Sprintf("0x%08X", r.cfgBits)},
		{"seed", num(r.seed)},
		{"clip_l_hex", hexOf(r.prompt(r.clipL))},
		{"clip_g_hex", hexOf(r.prompt(r.clipG))},
		{"t5_hex", hexOf(r.prompt(r.t5))},
	}
}

// statusReq is a status request (SPEC section 7).
type statusReq struct {
	h         hdr
	requestID uint64
	trailing  []byte
}

func (r statusReq) msg() *msg {
	p := &msg{}
	p.u64("request_id", r.requestID)
	if len(r.trailing) > 0 {
		p.add("bytes after the known fields (ignored)", r.trailing)
	}
	return frame(r.h, p)
}

func (r statusReq) fields() []kv {
	return []kv{
		{"version", dec(uint64(r.h.version))},
		{"request_id", num(r.requestID)},
	}
}

// genResp is a generate response (SPEC section 5).
type genResp struct {
	h            hdr
	requestID    uint64
	status       uint32
	genTimeMS    uint32
	width        uint32
	height       uint32
	channels     uint32
	imageDataLen int64 // < 0: len(image)
	image        []byte
	hasSeed      bool
	seed         uint64
	trailing     []byte // after the seed (or after the pixels when !hasSeed)
}

func newGenResp(w, h, c uint32, image []byte) genResp {
	return genResp{
		h:            defHdr(typeGenerateResponse),
		requestID:    1,
		status:       statusOK,
		genTimeMS:    1234,
		width:        w,
		height:       h,
		channels:     c,
		imageDataLen: -1,
		image:        image,
		hasSeed:      true,
		seed:         0x0123456789ABCDEF,
	}
}

func (r genResp) payload() *msg {
	p := &msg{}
	p.u64("request_id", r.requestID)
	p.u32("status", r.status)
	p.u32("generation_time_ms", r.genTimeMS)
	p.u32("image_width", r.width)
	p.u32("image_height", r.height)
	p.u32("channels", r.channels)
	n := uint32(len(r.image))
	if r.imageDataLen >= 0 {
		n = uint32(r.imageDataLen)
	}
	p.u32("image_data_len", n)
	if len(r.image) > 0 {
		p.add(fmt.Sprintf("image_data (%d bytes)", len(r.image)), r.image)
	}
	if r.hasSeed {
		p.u64("seed (extension)", r.seed)
	}
	if len(r.trailing) > 0 {
		p.add("bytes after the known fields (ignored)", r.trailing)
	}
	return p
}

func (r genResp) msg() *msg { return frame(r.h, r.payload()) }

func (r genResp) fields() []kv {
	seed := "none"
	if r.hasSeed {
		seed = num(r.seed)
	}
	return []kv{
		{"version", dec(uint64(r.h.version))},
		{"request_id", num(r.requestID)},
		{"status", dec(uint64(r.status))},
		{"generation_time_ms", dec(uint64(r.genTimeMS))},
		{"width", dec(uint64(r.width))},
		{"height", dec(uint64(r.height))},
		{"channels", dec(uint64(r.channels))},
		{"image_hex", hexOf(r.image)},
		{"seed", seed},
	}
}

// errResp is an error reply (SPEC section 6).
type errResp struct {
	h         hdr
	requestID uint64
	status    uint32
	code      uint32
	msgLen    int64 // < 0: len(message)
	message   string
	trailing  []byte
}

func newErrResp(id uint64, status, code uint32, message string) errResp {
	return errResp{
		h:         defHdr(typeError),
		requestID: id,
		status:    status,
		code:      code,
		msgLen:    -1,
		message:   message,
	}
}

func (r errResp) payload() *msg {
	p := &msg{}
	p.u64("request_id", r.requestID)
	p.u32("status", r.status)
	p.u32("error_code", r.code)
	n := uint16(len(r.message))
	if r.msgLen >= 0 {
		n = uint16(r.msgLen)
	}
	p.u16("msg_len", n)
	if len(r.message) > 0 {
		p.add(fmt.Sprintf("message %q", r.message), []byte(r.message))
	}
	if len(r.trailing) > 0 {
		p.add("bytes after the known fields (ignored)", r.trailing)
	}
	return p
}

func (r errResp) msg() *msg { return frame(r.h, r.payload()) }

func (r errResp) fields() []kv {
	return []kv{
		{"version", dec(uint64(r.h.version))},
		{"request_id", num(r.requestID)},
		{"status", dec(uint64(r.status))},
		{"code", dec(uint64(r.code))},
		{"message", r.message},
	}
}

// statusResp is a status response (SPEC section 7).
type statusResp struct {
	h              hdr
	requestID      uint64
	status         uint32
	versionMin     uint16
	versionMax     uint16
	uptimeMS       uint64
	requestsServed uint64
	connsOpen      uint32
	maxConns       uint32
	queueDepth     uint32
	backendLen     int64 // < 0: len(backend)
	backend        string
	dvLen          int64 // < 0: len(daemonVersion)
	daemonVersion  string
	trailing       []byte
}

func newStatusResp() statusResp {
	return statusResp{
		h:              defHdr(typeStatusResponse),
		requestID:      7,
		status:         statusOK,
		versionMin:     1,
		versionMax:     1,
		uptimeMS:       86400123,
		requestsServed: 4242,
		connsOpen:      1,
		maxConns:       64,
		queueDepth:     0,
		backendLen:     -1,
		backend:        "procedural",
		dvLen:          -1,
		daemonVersion:  "0.1.0",
	}
}

func (r statusResp) payload() *msg {
	p := &msg{}
	p.u64("request_id", r.requestID)
	p.u32("status", r.status)
	p.u16("version_min", r.versionMin)
	p.u16("version_max", r.versionMax)
	p.u64("uptime_ms", r.uptimeMS)
	p.u64("requests_served", r.requestsServed)
	p.u32("connections_open", r.connsOpen)
	p.u32("max_connections", r.maxConns)
	p.u32("queue_depth", r.queueDepth)
	bl := uint16(len(r.backend))
	if r.backendLen >= 0 {
		bl = uint16(r.backendLen)
	}
	p.u16("backend_len", bl)
	if len(r.backend) > 0 {
		p.add(fmt.Sprintf("backend %q", r.backend), []byte(r.backend))
	}
	dl := uint16(len(r.daemonVersion))
	if r.dvLen >= 0 {
		dl = uint16(r.dvLen)
	}
	p.u16("daemon_version_len", dl)
	if len(r.daemonVersion) > 0 {
		p.add(fmt.Sprintf("daemon_version %q", r.daemonVersion), []byte(r.daemonVersion))
	}
	if len(r.trailing) > 0 {
		p.add("bytes after the known fields (ignored)", r.trailing)
	}
	return p
}

func (r statusResp) msg() *msg { return frame(r.h, r.payload()) }

func (r statusResp) fields() []kv {
	return []kv{
		{"version", dec(uint64(r.h.version))},
		{"request_id", num(r.requestID)},
		{"status", dec(uint64(r.status))},
		{"version_min", dec(uint64(r.versionMin))},
		{"version_max", dec(uint64(r.versionMax))},
		{"uptime_ms", dec(uint64(r.uptimeMS))},
		{"requests_served", dec(uint64(r.requestsServed))},
		{"connections_open", dec(uint64(r.connsOpen))},
		{"max_connections", dec(uint64(r.maxConns))},
		{"queue_depth", dec(uint64(r.queueDepth))},
		{"backend", r.backend},
		{"daemon_version", r.daemonVersion},
	}
}
