package protocol

import (
	"encoding/binary"
	"math/bits"
)

// Version-2 wire constants (SPEC section 11).
const (
	// FlagProgress (bit 0 of a 0x0005 request's flags) asks for the queued,
	// progress and heartbeat messages of SPEC 11.3.
	FlagProgress uint32 = 1 << 0
	// FlagSHM (bit 1) asks for the pixels in shared memory (0x0006, SPEC
	// 11.4); the reply-size rule does not apply then.
	FlagSHM uint32 = 1 << 1

	// GenerateOptionsFixedSize is the 0x0005 payload before prompt_data.
	GenerateOptionsFixedSize = 68
	// SHMResponseSize is the 0x0006 payload.
	SHMResponseSize = 44
	// MaxSHMImageSize bounds image_size in a 0x0006 reply (2^30).
	MaxSHMImageSize = 1 << 30
	// QueuedSize, ProgressSize and HeartbeatSize are the payloads of the
	// three progress messages.
	QueuedSize    = 16
	ProgressSize  = 20
	HeartbeatSize = 16
	// StatusV2FixedSize is what a version-2 status response appends after
	// daemon_version, with an empty last_crash (its length field included).
	StatusV2FixedSize = 24
	// GenerationTotalsSize is the optional pair generations and
	// generation_us after last_crash (two u64s).
	GenerationTotalsSize = 16

	// PhaseQueued and PhaseRunning are the heartbeat phases.
	PhaseQueued  uint32 = 1
	PhaseRunning uint32 = 2

	// Backend states of the version-2 status response.
	BackendUnloaded   uint16 = 0
	BackendStarting   uint16 = 1
	BackendLoaded     uint16 = 2
	BackendRestarting uint16 = 3
)

// GenerateOptionsRequest is message 0x0005 (SPEC 11.2): a generate request
// with flags. It is always sent in a version-2 header; the embedded
// request's Version is ignored by the encoder and set to 2 by the decoder.
type GenerateOptionsRequest struct {
	GenerateRequest
	Flags uint32 // FlagProgress, FlagSHM; unknown bits are carried as they are
}

// SHMGenerateResponse is message 0x0006 (SPEC 11.4). The pixels are in the
// memfd that travels with the message (SCM_RIGHTS), which is not part of
// the codec.
type SHMGenerateResponse struct {
	RequestID        uint64
	Status           uint32 // 200 (encoders write the field as it is)
	GenerationTimeMS uint32
	Width            uint32
	Height           uint32
	Channels         uint32 // 3 or 4
	ImageSize        uint64 // width*height*channels, at most MaxSHMImageSize
	Seed             uint64
}

// Queued is message 0x0010 (SPEC 11.3).
type Queued struct {
	RequestID  uint64
	Position   uint32 // 1 = next to run; 1..QueueDepth
	QueueDepth uint32 // jobs waiting in all
}

// Progress is message 0x0011 (SPEC 11.3).
type Progress struct {
	RequestID uint64
	Step      uint32 // 1..Steps
	Steps     uint32 // >= 1
	ElapsedMS uint32 // since the job started
}

// Heartbeat is message 0x0012 (SPEC 11.3).
type Heartbeat struct {
	RequestID uint64
	Phase     uint32 // PhaseQueued or PhaseRunning
	ElapsedMS uint32 // since the request was read
}

// StatusV2 is what a version-2 status response appends (SPEC 11.6).
type StatusV2 struct {
	DaemonPID      uint32
	Features       uint32 // the 0x0005 flag bits the daemon honours
	BackendState   uint16 // Backend*; other values are reported as they are
	WorkerPID      uint32 // 0 when there is no worker
	WorkerRestarts uint32
	JobsRunning    uint32
	LastCrash      string // empty when none; a daemon sends at most 255 bytes
	// Generations (jobs the backend finished with an image since the
	// daemon started) and GenerationUS (the sum of their generation times,
	// in microseconds) are the optional pair after last_crash; valid only
	// when HasGenerations (the reply carried them: a daemon written before
	// them ends at last_crash). Both wrap at 2^64. The encoder writes the
	// pair only when HasGenerations, as it does the seed extension.
	Generations    uint64
	GenerationUS   uint64
	HasGenerations bool
}

// MsgType returns TypeGenerateOptions.
func (GenerateOptionsRequest) MsgType() MsgType { return TypeGenerateOptions }

// MsgType returns TypeSHMResponse.
func (SHMGenerateResponse) MsgType() MsgType { return TypeSHMResponse }

// MsgType returns TypeQueued.
func (Queued) MsgType() MsgType { return TypeQueued }

// MsgType returns TypeProgress.
func (Progress) MsgType() MsgType { return TypeProgress }

// MsgType returns TypeHeartbeat.
func (Heartbeat) MsgType() MsgType { return TypeHeartbeat }

// NewGenerateOptionsRequest returns a 0x0005 request for model 0 with the
// prompt in all three slots and the given flags.
func NewGenerateOptionsRequest(id uint64, prompt string, width, height, steps uint32, cfg float32, seed uint64, flags uint32) *GenerateOptionsRequest {
	r := NewGenerateRequest(id, prompt, width, height, steps, cfg, seed)
	r.Version = Version2
	return &GenerateOptionsRequest{GenerateRequest: *r, Flags: flags}
}

// Validate applies section 4's rules in the SPEC order, the reply-size rule
// only without FlagSHM (SPEC 11.2), and returns the *Error the daemon would
// answer with, or nil.
func (r *GenerateOptionsRequest) Validate() error {
	return r.GenerateRequest.validate(r.Flags&FlagSHM == 0)
}

// AppendGenerateOptions appends the encoding of r to dst, in a version-2
// header, prompts back to back (as AppendGenerateRequest), reserved 0. It
// does not call Validate; it fails only when the message would exceed
// MaxMessageSize.
func AppendGenerateOptions(dst []byte, r *GenerateOptionsRequest) ([]byte, error) {
	return appendGenerate(dst, Version2, TypeGenerateOptions, &r.GenerateRequest, r.Flags, 0)
}

// AppendSHMResponse appends the encoding of r (version 2) to dst. Fields
// are written as they are; it never fails.
func AppendSHMResponse(dst []byte, r *SHMGenerateResponse) ([]byte, error) {
	dst = appendMsgHeader(dst, Version2, TypeSHMResponse, SHMResponseSize)
	dst = appendImageFields(dst, r.RequestID, r.Status, r.GenerationTimeMS, r.Width, r.Height, r.Channels)
	dst = appendU64(dst, r.ImageSize)
	return appendU64(dst, r.Seed), nil
}

// AppendQueued appends the encoding of r (version 2) to dst; it never fails.
func AppendQueued(dst []byte, r *Queued) ([]byte, error) {
	dst = appendMsgHeader(dst, Version2, TypeQueued, QueuedSize)
	dst = appendU64(dst, r.RequestID)
	dst = appendU32(dst, r.Position)
	return appendU32(dst, r.QueueDepth), nil
}

// AppendProgress appends the encoding of r (version 2) to dst; it never
// fails.
func AppendProgress(dst []byte, r *Progress) ([]byte, error) {
	dst = appendMsgHeader(dst, Version2, TypeProgress, ProgressSize)
	dst = appendU64(dst, r.RequestID)
	dst = appendU32(dst, r.Step)
	dst = appendU32(dst, r.Steps)
	return appendU32(dst, r.ElapsedMS), nil
}

// AppendHeartbeat appends the encoding of r (version 2) to dst; it never
// fails.
func AppendHeartbeat(dst []byte, r *Heartbeat) ([]byte, error) {
	dst = appendMsgHeader(dst, Version2, TypeHeartbeat, HeartbeatSize)
	dst = appendU64(dst, r.RequestID)
	dst = appendU32(dst, r.Phase)
	return appendU32(dst, r.ElapsedMS), nil
}

func appendStatusV2(dst []byte, s *StatusV2) []byte {
	dst = appendU32(dst, s.DaemonPID)
	dst = appendU32(dst, s.Features)
	dst = appendU16(dst, s.BackendState)
	dst = appendU32(dst, s.WorkerPID)
	dst = appendU32(dst, s.WorkerRestarts)
	dst = appendU32(dst, s.JobsRunning)
	dst = appendStr16(dst, s.LastCrash)
	if s.HasGenerations {
		dst = appendU64(dst, s.Generations)
		dst = appendU64(dst, s.GenerationUS)
	}
	return dst
}

// size is the encoded length of s (the caller has checked last_crash's).
func (s *StatusV2) size() int {
	n := StatusV2FixedSize + len(s.LastCrash)
	if s.HasGenerations {
		n += GenerationTotalsSize
	}
	return n
}

// appendV2Message is AppendMessage for the version-2 types; ok is false for
// any other type.
func appendV2Message(dst []byte, m Message) (out []byte, ok bool, err error) {
	switch v := m.(type) {
	case *GenerateOptionsRequest:
		out, err = AppendGenerateOptions(dst, v)
	case GenerateOptionsRequest:
		out, err = AppendGenerateOptions(dst, &v)
	case *SHMGenerateResponse:
		out, err = AppendSHMResponse(dst, v)
	case SHMGenerateResponse:
		out, err = AppendSHMResponse(dst, &v)
	case *Queued:
		out, err = AppendQueued(dst, v)
	case Queued:
		out, err = AppendQueued(dst, &v)
	case *Progress:
		out, err = AppendProgress(dst, v)
	case Progress:
		out, err = AppendProgress(dst, &v)
	case *Heartbeat:
		out, err = AppendHeartbeat(dst, v)
	case Heartbeat:
		out, err = AppendHeartbeat(dst, &v)
	default:
		return dst, false, nil
	}
	return out, true, err
}

// decodeGenerateOptions decodes a 0x0005 payload (SPEC 11.2): length (68),
// then section 4's checks in section 4's order, the reply size only
// without FlagSHM.
func decodeGenerateOptions(p []byte) (*GenerateOptionsRequest, error) {
	id := echoID(p)
	if len(p) < GenerateOptionsFixedSize {
		return nil, newError(CodeMalformed, id, "generate request with options payload is %d bytes, want at least %d", len(p), GenerateOptionsFixedSize)
	}
	flags := binary.BigEndian.Uint32(p[8:])
	g, err := decodeGenerateFields(id, p[16:16+generateFieldsSize], p[GenerateOptionsFixedSize:], flags&FlagSHM == 0)
	if err != nil {
		return nil, err
	}
	g.Version = Version2
	return &GenerateOptionsRequest{GenerateRequest: *g, Flags: flags}, nil
}

// v2ResponseSize is the least payload of a version-2 response type, 0 for
// any other type.
func v2ResponseSize(t MsgType) int {
	switch t {
	case TypeSHMResponse:
		return SHMResponseSize
	case TypeQueued:
		return QueuedSize
	case TypeProgress:
		return ProgressSize
	case TypeHeartbeat:
		return HeartbeatSize
	}
	return 0
}

// decodeV2Response decodes the payload of a 0x0006, 0x0010, 0x0011 or
// 0x0012 message (the caller has checked the type against the version).
func decodeV2Response(t MsgType, p []byte) (Message, error) {
	id := echoID(p)
	want := v2ResponseSize(t)
	if want == 0 {
		return nil, newError(CodeUnknownType, id, "%s is not a response", t)
	}
	if len(p) < want {
		return nil, newError(CodeMalformed, id, "%s payload is %d bytes, want at least %d", t, len(p), want)
	}
	f := fieldReader(p[8:])
	switch t {
	case TypeSHMResponse:
		r := &SHMGenerateResponse{RequestID: id}
		f.readImageFields(&r.Status, &r.GenerationTimeMS, &r.Width, &r.Height, &r.Channels)
		r.ImageSize = f.u64()
		r.Seed = f.u64()
		if err := checkSHMResponse(r); err != nil {
			return nil, err
		}
		return r, nil
	case TypeQueued:
		r := &Queued{RequestID: id, Position: f.u32(), QueueDepth: f.u32()}
		if r.Position == 0 || r.Position > r.QueueDepth {
			return nil, newError(CodeMalformed, id, "queued position %d of queue_depth %d (want 1..queue_depth)", r.Position, r.QueueDepth)
		}
		return r, nil
	case TypeProgress:
		r := &Progress{RequestID: id, Step: f.u32(), Steps: f.u32(), ElapsedMS: f.u32()}
		if r.Steps == 0 || r.Step == 0 || r.Step > r.Steps {
			return nil, newError(CodeMalformed, id, "progress step %d of %d (want steps >= 1, step 1..steps)", r.Step, r.Steps)
		}
		return r, nil
	}
	r := &Heartbeat{RequestID: id, Phase: f.u32(), ElapsedMS: f.u32()}
	if r.Phase != PhaseQueued && r.Phase != PhaseRunning {
		return nil, newError(CodeMalformed, id, "heartbeat phase %d (want %d queued or %d running)", r.Phase, PhaseQueued, PhaseRunning)
	}
	return r, nil
}

// checkSHMResponse applies SPEC 11.4's rules: section 5's status, sides
// and channels (checkImage), image_size exactly width*height*channels (the
// product computed without overflow) and at most MaxSHMImageSize.
func checkSHMResponse(r *SHMGenerateResponse) error {
	id := r.RequestID
	if err := checkImage(id, "shared-memory response", r.Status, r.Width, r.Height, r.Channels); err != nil {
		return err
	}
	hi, lo := bits.Mul64(uint64(r.Width)*uint64(r.Height), uint64(r.Channels))
	if hi != 0 || lo != r.ImageSize {
		return newError(CodeMalformed, id, "image_size is %d, but %dx%dx%d is not", r.ImageSize, r.Width, r.Height, r.Channels)
	}
	if r.ImageSize > MaxSHMImageSize {
		return newError(CodeMalformed, id, "image_size %d is over the %d-byte limit", r.ImageSize, MaxSHMImageSize)
	}
	return nil
}

// decodeStatusV2 reads SPEC 11.6's fields from x, the payload after
// daemon_version: CodeMalformed when it ends before last_crash does; the
// generations pair when at least GenerationTotalsSize bytes follow
// last_crash (fewer, and any bytes after the pair, are ignored).
func decodeStatusV2(id uint64, x fieldReader) (*StatusV2, error) {
	if len(x) < StatusV2FixedSize {
		return nil, newError(CodeMalformed, id, "version-2 status response has %d bytes after daemon_version, want at least %d", len(x), StatusV2FixedSize)
	}
	s := &StatusV2{
		DaemonPID:      x.u32(),
		Features:       x.u32(),
		BackendState:   x.u16(),
		WorkerPID:      x.u32(),
		WorkerRestarts: x.u32(),
		JobsRunning:    x.u32(),
	}
	var err *Error
	if s.LastCrash, err = x.str16(id, "last_crash length"); err != nil {
		return nil, err
	}
	if len(x) >= GenerationTotalsSize {
		s.Generations, s.GenerationUS, s.HasGenerations = x.u64(), x.u64(), true
	}
	return s, nil
}
