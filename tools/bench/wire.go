package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The bench builds its request bytes itself (not through go/protocol) so the
// floor and the other contestants send exactly the same bytes, and so the
// raw clients below depend on nothing but the wire format of SPEC.md.

const (
	headerSize  = 16
	magic       = 0x57455645
	typeGen     = 0x0001
	typeGenResp = 0x0002
	typeStatus  = 0x0003
	typeStResp  = 0x0004
	typeError   = 0x00FF

	benchRequestID = 0x7765617665 // "weave"
	benchPrompt    = "a cat in space"
	benchSeed      = 42
	benchSteps     = 1
	benchCFG       = 7.0
)

func putHeader(b []byte, msgType uint16, payloadLen int) {
	binary.BigEndian.PutUint32(b[0:], magic)
	binary.BigEndian.PutUint16(b[4:], 1)
	binary.BigEndian.PutUint16(b[6:], msgType)
	binary.BigEndian.PutUint32(b[8:], uint32(payloadLen))
	binary.BigEndian.PutUint32(b[12:], 0)
}

// statusRequest is the 24-byte status request (SPEC section 7).
func statusRequest(id uint64) []byte {
	b := make([]byte, headerSize+8)
	putHeader(b, typeStatus, 8)
	binary.BigEndian.PutUint64(b[16:], id)
	return b
}

// generateRequest is a v1 generate request with the prompt written three
// times back to back (SPEC section 4).
func generateRequest(id uint64, side uint32, steps uint32, seed uint64, prompt string) []byte {
	l := len(prompt)
	payload := 60 + 3*l
	b := make([]byte, headerSize+payload)
	putHeader(b, typeGen, payload)
	p := b[headerSize:]
	binary.BigEndian.PutUint64(p[0:], id)
	binary.BigEndian.PutUint32(p[8:], 0) // model
	binary.BigEndian.PutUint32(p[12:], side)
	binary.BigEndian.PutUint32(p[16:], side)
	binary.BigEndian.PutUint32(p[20:], steps)
	binary.BigEndian.PutUint32(p[24:], math.Float32bits(benchCFG))
	binary.BigEndian.PutUint64(p[28:], seed)
	for i := 0; i < 3; i++ {
		binary.BigEndian.PutUint32(p[36+8*i:], uint32(i*l))
		binary.BigEndian.PutUint32(p[40+8*i:], uint32(l))
		copy(p[60+i*l:], prompt)
	}
	return b
}

// generateReplySize is the whole reply message for an RGB side x side image
// with the seed extension.
func generateReplySize(side int) int { return headerSize + 32 + side*side*3 + 8 }

// synthGenerateReply builds a generate response with deterministic pixels
// (used only with --no-daemon, before the daemon exists).
func synthGenerateReply(id uint64, side int) []byte {
	n := side * side * 3
	b := make([]byte, generateReplySize(side))
	putHeader(b, typeGenResp, len(b)-headerSize)
	p := b[headerSize:]
	binary.BigEndian.PutUint64(p[0:], id)
	binary.BigEndian.PutUint32(p[8:], 200)
	binary.BigEndian.PutUint32(p[12:], 0)
	binary.BigEndian.PutUint32(p[16:], uint32(side))
	binary.BigEndian.PutUint32(p[20:], uint32(side))
	binary.BigEndian.PutUint32(p[24:], 3)
	binary.BigEndian.PutUint32(p[28:], uint32(n))
	for i := 0; i < n; i++ {
		p[32+i] = byte(i*7 + i/977)
	}
	binary.BigEndian.PutUint64(p[32+n:], benchSeed)
	return b
}

// synthStatusReply builds a status response shaped like the daemon's.
func synthStatusReply(id uint64) []byte {
	backend, version := "procedural", "bench-synthetic"
	payload := 46 + len(backend) + 2 + len(version)
	b := make([]byte, headerSize+payload)
	putHeader(b, typeStResp, payload)
	p := b[headerSize:]
	binary.BigEndian.PutUint64(p[0:], id)
	binary.BigEndian.PutUint32(p[8:], 200)
	binary.BigEndian.PutUint16(p[12:], 1)
	binary.BigEndian.PutUint16(p[14:], 1)
	binary.BigEndian.PutUint32(p[36:], 64)
	binary.BigEndian.PutUint16(p[44:], uint16(len(backend)))
	copy(p[46:], backend)
	binary.BigEndian.PutUint16(p[46+len(backend):], uint16(len(version)))
	copy(p[48+len(backend):], version)
	return b
}

// checkReply verifies a complete reply message: magic, type, announced
// length, and the expected total size (0: any). It returns the
// generation_time_ms of a generate response (0 otherwise).
func checkReply(b []byte, wantType uint16, wantLen int) (uint32, error) {
	if len(b) < headerSize || binary.BigEndian.Uint32(b) != magic {
		return 0, errors.New("bad reply header")
	}
	t := binary.BigEndian.Uint16(b[6:])
	if t != wantType {
		if t == typeError && len(b) >= headerSize+18 {
			return 0, fmt.Errorf("error reply: status %d code %d",
				binary.BigEndian.Uint32(b[headerSize+8:]), binary.BigEndian.Uint32(b[headerSize+12:]))
		}
		return 0, fmt.Errorf("reply msg_type %#x, want %#x", t, wantType)
	}
	if int(binary.BigEndian.Uint32(b[8:]))+headerSize != len(b) {
		return 0, errors.New("reply length does not match its header")
	}
	if wantLen != 0 && len(b) != wantLen {
		return 0, fmt.Errorf("reply is %d bytes, want %d", len(b), wantLen)
	}
	if t == typeGenResp && len(b) >= headerSize+16 {
		return binary.BigEndian.Uint32(b[headerSize+12:]), nil
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
	if len(req) < headerSize {
		return nil
	}
	switch binary.BigEndian.Uint16(req[6:]) {
	case typeStatus:
		return rt.status
	case typeGen:
		if len(req) >= headerSize+16 {
			return rt.generate[binary.BigEndian.Uint32(req[headerSize+12:])]
		}
	}
	return nil
}

// addMapped registers reply, classified by head (its first bytes, read
// separately so that reply itself is not touched).
func (rt *replyTable) addMapped(head, reply []byte) error {
	if len(head) < headerSize+20 {
		return errors.New("short reply")
	}
	switch binary.BigEndian.Uint16(head[6:]) {
	case typeStResp:
		rt.status = reply
	case typeGenResp:
		if rt.generate == nil {
			rt.generate = map[uint32][]byte{}
		}
		rt.generate[binary.BigEndian.Uint32(head[headerSize+16:])] = reply
	default:
		return fmt.Errorf("reply file of msg_type %#x", binary.BigEndian.Uint16(head[6:]))
	}
	return nil
}
