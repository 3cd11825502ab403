package main

// The message layouts come from internal/wire (the raw-bytes statement of
// proto_spec/SPEC.md shared with the bench and the integration tests;
// nothing is taken from go/protocol or the C codec, so the vectors stay an
// independent statement of the format). This file gives them the short
// names the vector tables use and the default field values of the vectors.

import (
	"fmt"
	"math"

	"github.com/weave-app/weave/internal/wire"
)

// Wire constants (internal/wire), under the names the vector tables use.
const (
	magicWEVE = wire.Magic

	typeGenerateRequest  = wire.TypeGenerateRequest
	typeGenerateResponse = wire.TypeGenerateResponse
	typeStatusRequest    = wire.TypeStatusRequest
	typeStatusResponse   = wire.TypeStatusResponse
	typeError            = wire.TypeError

	headerSize     = wire.HeaderSize
	maxMessageSize = wire.MaxMessageSize
	maxPayloadLen  = wire.MaxPayloadLen

	statusOK          = wire.StatusOK
	statusBadRequest  = wire.StatusBadRequest
	statusServerError = wire.StatusServerError
)

// The layout types. A vector changes any field (wrong magic, lengths that
// disagree with the data, trailing bytes) and lays the message out with
// .Msg(); .Cut(n) truncates it; &msg{} with .U32(name, v) etc. builds bytes
// by hand.
type (
	msg        = wire.Msg
	hdr        = wire.Header // PayloadLen < 0: the real payload size
	slot       = wire.Slot
	genReq     = wire.GenerateRequest
	statusReq  = wire.StatusRequest
	genResp    = wire.GenerateResponse
	errResp    = wire.ErrorReply
	statusResp = wire.StatusResponse
)

func defHdr(msgType uint16) hdr { return wire.NewHeader(msgType) }

// frame lays out the 16-byte header followed by the payload fields.
func frame(h hdr, payload *msg) *msg { return wire.Frame(h, payload) }

func f32bits(f float32) uint32 { return math.Float32bits(f) }

// newGenReq is a valid request with the prompts laid out back to back.
func newGenReq(clipL, clipG, t5 string) genReq {
	r := genReq{
		Header:    defHdr(typeGenerateRequest),
		RequestID: 1,
		Width:     512,
		Height:    512,
		Steps:     28,
		CfgBits:   0x40E00000, // 7.0
	}
	r.SetPrompts(clipL, clipG, t5)
	return r
}

// examplePrompt is the public text's worked example.
const examplePrompt = "a cat in space"

// exampleReq is the 118-byte worked example of SPEC section 4.
func exampleReq() genReq {
	return newGenReq(examplePrompt, examplePrompt, examplePrompt)
}

// prompt is the bytes slot s selects; an ok vector never has one out of
// bounds.
func prompt(r genReq, s slot) []byte {
	end := uint64(s.Off) + uint64(s.Len)
	if end > uint64(len(r.PromptData)) {
		panic("ok vector with a prompt out of bounds")
	}
	return r.PromptData[s.Off:end]
}

// genReqFields is the decoded form, for result: ok.
func genReqFields(r genReq) []kv {
	return []kv{
		{"version", dec(uint64(r.Header.Version))},
		{"request_id", num(r.RequestID)},
		{"model_id", dec(uint64(r.ModelID))},
		{"width", dec(uint64(r.Width))},
		{"height", dec(uint64(r.Height))},
		{"steps", dec(uint64(r.Steps))},
		{"cfg_bits", fmt.Sprintf("0x%08X", r.CfgBits)},
		{"seed", num(r.Seed)},
		{"clip_l_hex", hexOf(prompt(r, r.ClipL))},
		{"clip_g_hex", hexOf(prompt(r, r.ClipG))},
		{"t5_hex", hexOf(prompt(r, r.T5))},
	}
}

func statusReqFields(r statusReq) []kv {
	return []kv{
		{"version", dec(uint64(r.Header.Version))},
		{"request_id", num(r.RequestID)},
	}
}

func newGenResp(w, h, c uint32, image []byte) genResp {
	return genResp{
		Header:       defHdr(typeGenerateResponse),
		RequestID:    1,
		Status:       statusOK,
		GenTimeMS:    1234,
		Width:        w,
		Height:       h,
		Channels:     c,
		ImageDataLen: -1,
		Image:        image,
		HasSeed:      true,
		Seed:         0x0123456789ABCDEF,
	}
}

func genRespFields(r genResp) []kv {
	seed := "none"
	if r.HasSeed {
		seed = num(r.Seed)
	}
	return append(imageFields(r.Header, r.RequestID, r.Status, r.GenTimeMS, r.Width, r.Height, r.Channels),
		kv{"image_hex", hexOf(r.Image)}, kv{"seed", seed})
}

// imageFields is the decoded form of the fields up to channels that the
// generate response and the shared-memory response (0x0006) share.
func imageFields(h hdr, id uint64, status, genTimeMS, width, height, channels uint32) []kv {
	return []kv{
		{"version", dec(uint64(h.Version))},
		{"request_id", num(id)},
		{"status", dec(uint64(status))},
		{"generation_time_ms", dec(uint64(genTimeMS))},
		{"width", dec(uint64(width))},
		{"height", dec(uint64(height))},
		{"channels", dec(uint64(channels))},
	}
}

func newErrResp(id uint64, status, code uint32, message string) errResp {
	return errResp{
		Header:    defHdr(typeError),
		RequestID: id,
		Status:    status,
		Code:      code,
		MsgLen:    -1,
		Message:   message,
	}
}

func errRespFields(r errResp) []kv {
	return []kv{
		{"version", dec(uint64(r.Header.Version))},
		{"request_id", num(r.RequestID)},
		{"status", dec(uint64(r.Status))},
		{"code", dec(uint64(r.Code))},
		{"message", r.Message},
	}
}

func newStatusResp() statusResp {
	return statusResp{
		Header:           defHdr(typeStatusResponse),
		RequestID:        7,
		Status:           statusOK,
		VersionMin:       1,
		VersionMax:       1,
		UptimeMS:         86400123,
		RequestsServed:   4242,
		ConnsOpen:        1,
		MaxConns:         64,
		QueueDepth:       0,
		BackendLen:       -1,
		Backend:          "procedural",
		DaemonVersionLen: -1,
		DaemonVersion:    "0.1.0",
	}
}

func statusRespFields(r statusResp) []kv {
	return []kv{
		{"version", dec(uint64(r.Header.Version))},
		{"request_id", num(r.RequestID)},
		{"status", dec(uint64(r.Status))},
		{"version_min", dec(uint64(r.VersionMin))},
		{"version_max", dec(uint64(r.VersionMax))},
		{"uptime_ms", dec(uint64(r.UptimeMS))},
		{"requests_served", dec(uint64(r.RequestsServed))},
		{"connections_open", dec(uint64(r.ConnsOpen))},
		{"max_connections", dec(uint64(r.MaxConns))},
		{"queue_depth", dec(uint64(r.QueueDepth))},
		{"backend", r.Backend},
		{"daemon_version", r.DaemonVersion},
	}
}
