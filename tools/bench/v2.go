package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/weave-app/weave/internal/wire"
)

// Protocol version 2 (proto_spec/SPEC.md section 11), as raw bytes: the
// bench's v2 requests and what it reads of the daemon's v2 replies. The
// layouts are the SPEC's; the v1 parts come from internal/wire.

const (
	version2 uint16 = 2

	typeGenOptions uint16 = 0x0005 // generate request with options (11.2)
	typeSHMResp    uint16 = 0x0006 // generate response, pixels in a memfd (11.4)
	typeQueued     uint16 = 0x0010 // 11.3
	typeProgress   uint16 = 0x0011
	typeHeartbeat  uint16 = 0x0012

	flagProgress uint32 = 1 << 0
	flagSHM      uint32 = 1 << 1

	// 0x0005: request_id, then flags and reserved, then section 4's
	// fields from model_id on.
	optFlagsOffset = 8
	optInserted    = 8 // flags + reserved

	shmRespSize     = 44 // 0x0006 payload
	shmRespGenTime  = 12 // u32
	shmRespWidth    = 16
	shmRespHeight   = 20
	shmRespChannels = 24
	shmRespSize64   = 28 // u64 image_size
	maxSHMImageSize = 1 << 30

	heartbeatPhaseRunning = 2
)

// optionsRequest is a 0x0005 request (version-2 header) for a side x side
// image with the bench's prompt and seed: section 4's request with flags
// and reserved inserted after request_id.
func optionsRequest(id uint64, side, steps uint32, flags uint32) []byte {
	v1 := generateRequest(id, side, steps, benchSeed, benchPrompt)
	p := v1[headerSize:]
	out := make([]byte, 0, len(v1)+optInserted)
	out = append(out, v1[:headerSize]...)
	out = append(out, p[:optFlagsOffset]...)
	var fr [optInserted]byte
	be.PutUint32(fr[0:], flags)
	out = append(out, fr[:]...)
	out = append(out, p[optFlagsOffset:]...)
	be.PutUint16(out[wire.OffVersion:], version2)
	be.PutUint16(out[wire.OffType:], typeGenOptions)
	be.PutUint32(out[wire.OffPayloadLen:], uint32(len(out)-headerSize))
	return out
}

// statusRequestV2 is the 24-byte status request in a version-2 header.
func statusRequestV2(id uint64) []byte {
	b := statusRequest(id)
	be.PutUint16(b[wire.OffVersion:], version2)
	return b
}

// statusV2 is what the bench reads of a version-2 status reply (11.6).
type statusV2 struct {
	VersionMax     uint16 `json:"version_max"`
	DaemonVersion  string `json:"daemon_version"`
	DaemonPID      uint32 `json:"daemon_pid"`
	Features       uint32 `json:"features"`
	BackendState   uint16 `json:"backend_state"` // 0 unloaded, 1 starting, 2 loaded, 3 restarting
	WorkerPID      uint32 `json:"worker_pid"`
	WorkerRestarts uint32 `json:"worker_restarts"`
	JobsRunning    uint32 `json:"jobs_running"`
	LastCrash      string `json:"last_crash,omitempty"`
}

// parseStatusV2 reads a status reply in a version-2 header, appended
// fields included; an error reply (a daemon that does not speak version 2
// answers error 2) is returned as an error naming its code.
func parseStatusV2(msg []byte) (*statusV2, error) {
	h, err := wire.ParseHeader(msg)
	if err != nil || h.Magic != wire.Magic {
		return nil, errors.New("bad reply header")
	}
	p := msg[headerSize:]
	if int(h.PayloadLen) != len(p) {
		return nil, errors.New("reply length does not match its header")
	}
	if h.Type == typeError && len(p) >= wire.ErrRespFixedSize {
		return nil, fmt.Errorf("error reply %d/%d", be.Uint32(p[wire.ErrRespStatus:]), be.Uint32(p[wire.ErrRespCode:]))
	}
	if h.Type != typeStResp {
		return nil, fmt.Errorf("reply msg_type %#x", h.Type)
	}
	if h.Version != version2 {
		return nil, fmt.Errorf("status reply in a version-%d header", h.Version)
	}
	if len(p) < wire.StatusRespFixedSize {
		return nil, errors.New("short status reply")
	}
	st := &statusV2{VersionMax: be.Uint16(p[wire.StatusRespVersionMax:])}
	off := wire.StatusRespBackendLen
	str := func() (string, error) {
		if off+2 > len(p) {
			return "", errors.New("status reply ends in a length field")
		}
		n := int(be.Uint16(p[off:]))
		off += 2
		if off+n > len(p) {
			return "", errors.New("status reply string runs past the payload")
		}
		s := string(p[off : off+n])
		off += n
		return s, nil
	}
	if _, err := str(); err != nil { // backend
		return nil, err
	}
	if st.DaemonVersion, err = str(); err != nil {
		return nil, err
	}
	if off+24 > len(p) {
		return nil, errors.New("status reply has no version-2 fields")
	}
	st.DaemonPID = be.Uint32(p[off:])
	st.Features = be.Uint32(p[off+4:])
	st.BackendState = be.Uint16(p[off+8:])
	st.WorkerPID = be.Uint32(p[off+10:])
	st.WorkerRestarts = be.Uint32(p[off+14:])
	st.JobsRunning = be.Uint32(p[off+18:])
	off += 22
	if st.LastCrash, err = str(); err != nil {
		return nil, err
	}
	return st, nil
}

// v2Support is what the daemon offers, as the bench found out at start.
type v2Support struct {
	V2       bool      `json:"v2"`       // a v2 status request was answered with the v2 fields
	Progress bool      `json:"progress"` // features bit 0
	SHM      bool      `json:"shm"`      // features bit 1
	Worker   bool      `json:"worker"`   // the daemon's --help has --keep-alive-ms (worker process)
	Delay    bool      `json:"step_delay"`
	Status   *statusV2 `json:"status,omitempty"`
	Why      string    `json:"why,omitempty"` // when !V2: what the daemon answered
}

// notSupported is the text of a row group the daemon cannot serve.
func (v *v2Support) notSupported(what string) string {
	var miss []string
	if !v.V2 {
		miss = append(miss, "protocol version 2 ("+v.Why+")")
	} else {
		switch what {
		case "progress":
			miss = append(miss, "PROGRESS bit in the features of its v2 status")
		case "shm":
			miss = append(miss, "SHM bit in the features of its v2 status")
		case "worker":
			miss = append(miss, "worker process (no --keep-alive-ms in its --help)")
		case "cancel":
			if !v.Progress {
				miss = append(miss, "PROGRESS bit in the features of its v2 status")
			}
			if !v.Delay {
				miss = append(miss, "--step-delay-ms in its --help")
			}
		}
	}
	return "not supported by this daemon: no " + strings.Join(miss, ", no ")
}

func u32(b []byte, off int) uint32 { return binary.BigEndian.Uint32(b[off:]) }
