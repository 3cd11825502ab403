package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/weave-app/weave/internal/wire"
)

// The bench builds its request bytes with internal/wire (not through
// go/protocol) so the floor and the other contestants send exactly the same
// bytes, and so the raw clients below depend on nothing but the wire format
// of SPEC.md.

const (
	headerSize    = wire.HeaderSize
	maxPayloadLen = wire.MaxPayloadLen
	typeGen       = wire.TypeGenerateRequest
	typeGenResp   = wire.TypeGenerateResponse
	typeStatus    = wire.TypeStatusRequest
	typeStResp    = wire.TypeStatusResponse
	typeError     = wire.TypeError

	benchRequestID = 0x7765617665 // "weave"
	benchPrompt    = "a cat in space"
	benchSeed      = 42
	benchSteps     = 1
	benchCFG       = 7.0
)

var be = binary.BigEndian

// payloadLen is the payload_len of a message header.
func payloadLen(hdr []byte) uint32 { return be.Uint32(hdr[wire.OffPayloadLen:]) }

// statusRequest is the 24-byte status request (SPEC section 7).
func statusRequest(id uint64) []byte {
	return wire.NewStatusRequest(id).Msg().Bytes()
}

// generateRequest is a v1 generate request with the prompt written three
// times back to back (SPEC section 4).
func generateRequest(id uint64, side uint32, steps uint32, seed uint64, prompt string) []byte {
	r := wire.GenerateRequest{
		Header:    wire.NewHeader(typeGen),
		RequestID: id,
		Width:     side,
		Height:    side,
		Steps:     steps,
		CfgBits:   math.Float32bits(benchCFG),
		Seed:      seed,
	}
	r.SetPrompts(prompt, prompt, prompt)
	return r.Msg().Bytes()
}

// generateReplySize is the whole reply message for an RGB side x side image
// with the seed extension.
func generateReplySize(side int) int {
	return headerSize + wire.GenRespFixedSize + side*side*3 + wire.SeedExtensionSize
}

// synthGenerateReply builds a generate response with deterministic pixels
// (used only with --no-daemon, before the daemon exists).
func synthGenerateReply(id uint64, side int) []byte {
	pixels := make([]byte, side*side*3)
	for i := range pixels {
		pixels[i] = byte(i*7 + i/977)
	}
	return wire.GenerateResponse{
		Header:       wire.NewHeader(typeGenResp),
		RequestID:    id,
		Status:       wire.StatusOK,
		Width:        uint32(side),
		Height:       uint32(side),
		Channels:     3,
		ImageDataLen: -1,
		Image:        pixels,
		HasSeed:      true,
		Seed:         benchSeed,
	}.Msg().Bytes()
}

// synthStatusReply builds a status response shaped like the daemon's.
func synthStatusReply(id uint64) []byte {
	return wire.StatusResponse{
		Header:           wire.NewHeader(typeStResp),
		RequestID:        id,
		Status:           wire.StatusOK,
		VersionMin:       1,
		VersionMax:       1,
		MaxConns:         64,
		BackendLen:       -1,
		Backend:          "procedural",
		DaemonVersionLen: -1,
		DaemonVersion:    "bench-synthetic",
	}.Msg().Bytes()
}

// checkReply verifies a complete reply message: magic, type, announced
// length, and the expected total size (0: any). It returns the
// generation_time_ms of a generate response (0 otherwise).
func checkReply(b []byte, wantType uint16, wantLen int) (uint32, error) {
	h, err := wire.ParseHeader(b)
	if err != nil || h.Magic != wire.Magic {
		return 0, errors.New("bad reply header")
	}
	p := b[headerSize:]
	if h.Type != wantType {
		if h.Type == typeError && len(p) >= wire.ErrRespFixedSize {
			return 0, fmt.Errorf("error reply: status %d code %d",
				be.Uint32(p[wire.ErrRespStatus:]), be.Uint32(p[wire.ErrRespCode:]))
		}
		return 0, fmt.Errorf("reply msg_type %#x, want %#x", h.Type, wantType)
	}
	if int(h.PayloadLen) != len(p) {
		return 0, errors.New("reply length does not match its header")
	}
	if wantLen != 0 && len(b) != wantLen {
		return 0, fmt.Errorf("reply is %d bytes, want %d", len(b), wantLen)
	}
	if h.Type == typeGenResp && len(p) >= wire.GenRespGenTimeMS+4 {
		return be.Uint32(p[wire.GenRespGenTimeMS:]), nil
	}
	return 0, nil
}

// replyTable maps a request to the precomputed reply bytes every
// non-weave server sends (the same rule as floor_server.c).
type replyTable struct {
	status   []byte
	generate map[uint32][]byte // by image width
}

func (rt *replyTable) pick(req []byte) []byte {
	h, err := wire.ParseHeader(req)
	if err != nil {
		return nil
	}
	switch h.Type {
	case typeStatus:
		return rt.status
	case typeGen:
		if len(req) >= headerSize+wire.GenReqWidth+4 {
			return rt.generate[be.Uint32(req[headerSize+wire.GenReqWidth:])]
		}
	}
	return nil
}

// addMapped registers reply, classified by head (its first bytes, read
// separately so that reply itself is not touched).
func (rt *replyTable) addMapped(head, reply []byte) error {
	if len(head) < headerSize+wire.GenRespWidth+4 {
		return errors.New("short reply")
	}
	h, _ := wire.ParseHeader(head)
	switch h.Type {
	case typeStResp:
		rt.status = reply
	case typeGenResp:
		if rt.generate == nil {
			rt.generate = map[uint32][]byte{}
		}
		rt.generate[be.Uint32(head[headerSize+wire.GenRespWidth:])] = reply
	default:
		return fmt.Errorf("reply file of msg_type %#x", h.Type)
	}
	return nil
}
