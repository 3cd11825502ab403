package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/weave-app/weave/internal/wire"
)

// Protocol version 2 (proto_spec/SPEC.md section 11), as raw bytes: the
// bench's v2 requests and what it reads of the daemon's v2 replies, laid
// out and read with internal/wire's version-2 layouts.

const (
	version2 = wire.Version2

	typeGenOptions = wire.TypeGenerateOptions // generate request with options (11.2)
	typeSHMResp    = wire.TypeSHMResponse     // generate response, pixels in a memfd (11.4)
	typeQueued     = wire.TypeQueued          // 11.3
	typeProgress   = wire.TypeProgress
	typeHeartbeat  = wire.TypeHeartbeat

	flagProgress = wire.FlagProgress
	flagSHM      = wire.FlagSHM
)

// optionsRequest is a 0x0005 request (version-2 header) for a side x side
// image with the bench's prompt, cfg and seed, the prompt written three
// times back to back as in generateRequest.
func optionsRequest(id uint64, side, steps uint32, flags uint32) []byte {
	r := wire.GenerateOptionsRequest{
		GenerateRequest: wire.GenerateRequest{
			Header:    wire.NewHeaderV2(typeGenOptions),
			RequestID: id,
			Width:     side,
			Height:    side,
			Steps:     steps,
			CfgBits:   math.Float32bits(benchCFG),
			Seed:      benchSeed,
		},
		Flags: flags,
	}
	r.SetPrompts(benchPrompt, benchPrompt, benchPrompt)
	return r.Msg().Bytes()
}

// statusRequestV2 is the 24-byte status request in a version-2 header.
func statusRequestV2(id uint64) []byte {
	r := wire.NewStatusRequest(id)
	r.Header = wire.NewHeaderV2(wire.TypeStatusRequest)
	return r.Msg().Bytes()
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
	if off+wire.StatusV2FixedSize > len(p) {
		return nil, errors.New("status reply has no version-2 fields")
	}
	x := p[off:]
	st.DaemonPID = be.Uint32(x[wire.StatusV2DaemonPID:])
	st.Features = be.Uint32(x[wire.StatusV2Features:])
	st.BackendState = be.Uint16(x[wire.StatusV2BackendState:])
	st.WorkerPID = be.Uint32(x[wire.StatusV2WorkerPID:])
	st.WorkerRestarts = be.Uint32(x[wire.StatusV2WorkerRestarts:])
	st.JobsRunning = be.Uint32(x[wire.StatusV2JobsRunning:])
	off += wire.StatusV2LastCrashLen
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

// notSupported is the text of a row group the daemon cannot serve: what
// (progress, shm, worker, cancel) needs, and which of it is missing.
func (v *v2Support) notSupported(what string) string {
	var miss []string
	needV2 := what != "worker"
	if needV2 && !v.V2 {
		miss = append(miss, "protocol version 2 ("+v.Why+")")
	}
	switch what {
	case "progress", "cancel":
		if v.V2 && !v.Progress {
			miss = append(miss, "PROGRESS bit in the features of its v2 status")
		}
	case "shm":
		if v.V2 && !v.SHM {
			miss = append(miss, "SHM bit in the features of its v2 status")
		}
	case "worker":
		if !v.Worker {
			miss = append(miss, "worker process (no --keep-alive-ms in its --help)")
		}
	}
	if what == "cancel" && !v.Delay {
		miss = append(miss, "--step-delay-ms in its --help")
	}
	return "not supported by this daemon: no " + strings.Join(miss, ", no ")
}

func u32(b []byte, off int) uint32 { return binary.BigEndian.Uint32(b[off:]) }
