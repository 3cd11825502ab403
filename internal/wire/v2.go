package wire

import "fmt"

// Protocol version 2 (SPEC section 11): the header version, the new
// message types, the 0x0005 flag bits (which are also the bits of the
// status reply's features field), the heartbeat phases and backend states,
// the offset of every fixed field of the new payloads, and builders for
// them in the style of messages.go.

// Version2 is the header version of SPEC section 11. Every version-1
// message is valid in a version-2 header with the same payload.
const Version2 uint16 = 2

// Message types valid only in a version-2 header (SPEC 11.1).
const (
	TypeGenerateOptions uint16 = 0x0005 // generate request with options (client)
	TypeSHMResponse     uint16 = 0x0006 // generate response, pixels in shared memory (daemon)
	TypeQueued          uint16 = 0x0010 // queued (daemon)
	TypeProgress        uint16 = 0x0011 // progress (daemon)
	TypeHeartbeat       uint16 = 0x0012 // heartbeat (daemon)
)

// Flag bits of a 0x0005 request (SPEC 11.2).
const (
	FlagProgress uint32 = 1 << 0 // send 11.3's queued, progress and heartbeat messages
	FlagSHM      uint32 = 1 << 1 // pixels in shared memory (0x0006)
)

// Bits of the version-2 status reply's features field (SPEC 11.6): the
// 0x0005 flag bits the daemon honours.
const (
	FeatureProgress = FlagProgress
	FeatureSHM      = FlagSHM
)

// Heartbeat phases (SPEC 11.3).
const (
	PhaseQueued  uint32 = 1
	PhaseRunning uint32 = 2
)

// Backend states of the version-2 status reply (SPEC 11.6).
const (
	BackendUnloaded   uint16 = 0 // no worker; the next job starts one
	BackendStarting   uint16 = 1
	BackendLoaded     uint16 = 2
	BackendRestarting uint16 = 3 // after a crash, waiting out the back-off
)

// Limits of the version-2 payloads.
const (
	MaxSHMImageSize = 1 << 30 // image_size of a 0x0006 reply
	MaxLastCrashLen = 255     // last_crash of a version-2 status reply
)

// Generate request with options payload (0x0005, SPEC 11.2), offsets from
// the payload start: request_id, flags and reserved, then section 4's
// fields OptReqShift bytes later than in 0x0001.
const (
	OptReqShift      = 8
	OptReqRequestID  = GenReqRequestID // u64
	OptReqFlags      = 8               // u32
	OptReqReserved   = 12              // u32
	OptReqModelID    = GenReqModelID + OptReqShift
	OptReqWidth      = GenReqWidth + OptReqShift
	OptReqHeight     = GenReqHeight + OptReqShift
	OptReqSteps      = GenReqSteps + OptReqShift
	OptReqCfgScale   = GenReqCfgScale + OptReqShift
	OptReqSeed       = GenReqSeed + OptReqShift
	OptReqClipLOff   = GenReqClipLOff + OptReqShift
	OptReqClipLLen   = GenReqClipLLen + OptReqShift
	OptReqClipGOff   = GenReqClipGOff + OptReqShift
	OptReqClipGLen   = GenReqClipGLen + OptReqShift
	OptReqT5Off      = GenReqT5Off + OptReqShift
	OptReqT5Len      = GenReqT5Len + OptReqShift
	OptReqFixedSize  = GenReqFixedSize + OptReqShift // 68; prompt_data follows
	OptReqSlotStride = GenReqSlotStride
)

// Shared-memory generate response payload (0x0006, SPEC 11.4).
const (
	SHMRespRequestID = 0  // u64
	SHMRespStatus    = 8  // u32
	SHMRespGenTimeMS = 12 // u32 generation_time_ms
	SHMRespWidth     = 16 // u32
	SHMRespHeight    = 20 // u32
	SHMRespChannels  = 24 // u32
	SHMRespImageSize = 28 // u64
	SHMRespSeed      = 36 // u64
	SHMRespSize      = 44 // the whole payload (the pixels travel in a memfd)
)

// Queued payload (0x0010, SPEC 11.3).
const (
	QueuedRequestID  = 0  // u64
	QueuedPosition   = 8  // u32, 1 = next to run
	QueuedQueueDepth = 12 // u32
	QueuedSize       = 16
)

// Progress payload (0x0011, SPEC 11.3).
const (
	ProgressRequestID = 0  // u64
	ProgressStep      = 8  // u32
	ProgressSteps     = 12 // u32
	ProgressElapsedMS = 16 // u32
	ProgressSize      = 20
)

// Heartbeat payload (0x0012, SPEC 11.3).
const (
	HeartbeatRequestID = 0  // u64
	HeartbeatPhase     = 8  // u32
	HeartbeatElapsedMS = 12 // u32
	HeartbeatSize      = 16
)

// Version-2 status response fields (SPEC 11.6), offsets from X, the end of
// daemon_version (see StatusV2X).
const (
	StatusV2DaemonPID      = 0  // u32
	StatusV2Features       = 4  // u32
	StatusV2BackendState   = 8  // u16
	StatusV2WorkerPID      = 10 // u32
	StatusV2WorkerRestarts = 14 // u32
	StatusV2JobsRunning    = 18 // u32
	StatusV2LastCrashLen   = 22 // u16, then last_crash
	StatusV2FixedSize      = 24 // the appended fields with an empty last_crash
)

// The optional pair after last_crash of a version-2 status response (SPEC
// 11.6), offsets from Y, the end of last_crash (see StatusV2Y). A daemon
// written before the pair ends its reply at last_crash; a decoder reads the
// pair when at least StatusV2GenerationsSize bytes follow last_crash, and
// ignores fewer.
const (
	StatusV2Generations     = 0  // u64 generations
	StatusV2GenerationUS    = 8  // u64 generation_us
	StatusV2GenerationsSize = 16 // the pair
)

// StatusV2X is X of SPEC 11.6, the payload offset where the version-2
// fields of a status response start, for the given backend and
// daemon_version lengths.
func StatusV2X(backendLen, daemonVersionLen int) int {
	return StatusRespFixedSize + backendLen + daemonVersionLen
}

// StatusV2Y is Y of SPEC 11.6, the payload offset after last_crash (where
// the generations pair starts), for the given string lengths.
func StatusV2Y(backendLen, daemonVersionLen, lastCrashLen int) int {
	return StatusV2X(backendLen, daemonVersionLen) + StatusV2FixedSize + lastCrashLen
}

// NewHeaderV2 is a correct version-2 header for msgType whose payload_len
// is filled in by Frame.
func NewHeaderV2(msgType uint16) Header {
	h := NewHeader(msgType)
	h.Version = Version2
	return h
}

// GenerateOptionsRequest is a generate request with options (0x0005, SPEC
// 11.2): section 4's request with flags and reserved after request_id. The
// embedded request's Header is the message's.
type GenerateOptionsRequest struct {
	GenerateRequest
	Flags    uint32
	Reserved uint32 // senders write 0
}

// Payload lays out the payload fields.
func (r GenerateOptionsRequest) Payload() *Msg {
	inner := r.GenerateRequest.Payload()
	p := &Msg{}
	p.Add(inner.Fields[0].Name, inner.Fields[0].Data) // request_id
	p.U32(fmt.Sprintf("flags (0x%08X)", r.Flags), r.Flags)
	p.U32("reserved", r.Reserved)
	for _, f := range inner.Fields[1:] {
		p.Add(f.Name, f.Data)
	}
	return p
}

// Msg is the whole message.
func (r GenerateOptionsRequest) Msg() *Msg { return Frame(r.Header, r.Payload()) }

// SHMGenerateResponse is a shared-memory generate response (0x0006, SPEC
// 11.4); the memfd that carries the pixels is not part of the bytes.
type SHMGenerateResponse struct {
	Header    Header
	RequestID uint64
	Status    uint32
	GenTimeMS uint32
	Width     uint32
	Height    uint32
	Channels  uint32
	ImageSize uint64
	Seed      uint64
	Trailing  []byte
}

// Payload lays out the payload fields.
func (r SHMGenerateResponse) Payload() *Msg {
	p := imageFields(r.RequestID, r.Status, r.GenTimeMS, r.Width, r.Height, r.Channels)
	p.U64("image_size", r.ImageSize)
	p.U64("seed", r.Seed)
	return trailing(p, r.Trailing)
}

// Msg is the whole message.
func (r SHMGenerateResponse) Msg() *Msg { return Frame(r.Header, r.Payload()) }

// u32Field is one named u32 of a progress message.
type u32Field struct {
	name string
	v    uint32
}

// eventPayload is the payload of the three progress messages (SPEC 11.3):
// request_id, the u32 fields, then the trailing bytes.
func eventPayload(id uint64, tail []byte, fields ...u32Field) *Msg {
	p := &Msg{}
	p.U64("request_id", id)
	for _, f := range fields {
		p.U32(f.name, f.v)
	}
	return trailing(p, tail)
}

// Queued is a queued message (0x0010, SPEC 11.3).
type Queued struct {
	Header     Header
	RequestID  uint64
	Position   uint32
	QueueDepth uint32
	Trailing   []byte
}

// Payload lays out the payload fields.
func (q Queued) Payload() *Msg {
	return eventPayload(q.RequestID, q.Trailing, u32Field{"position", q.Position}, u32Field{"queue_depth", q.QueueDepth})
}

// Msg is the whole message.
func (q Queued) Msg() *Msg { return Frame(q.Header, q.Payload()) }

// Progress is a progress message (0x0011, SPEC 11.3).
type Progress struct {
	Header    Header
	RequestID uint64
	Step      uint32
	Steps     uint32
	ElapsedMS uint32
	Trailing  []byte
}

// Payload lays out the payload fields.
func (g Progress) Payload() *Msg {
	return eventPayload(g.RequestID, g.Trailing, u32Field{"step", g.Step}, u32Field{"steps", g.Steps},
		u32Field{"elapsed_ms", g.ElapsedMS})
}

// Msg is the whole message.
func (g Progress) Msg() *Msg { return Frame(g.Header, g.Payload()) }

// Heartbeat is a heartbeat message (0x0012, SPEC 11.3).
type Heartbeat struct {
	Header    Header
	RequestID uint64
	Phase     uint32
	ElapsedMS uint32
	Trailing  []byte
}

// Payload lays out the payload fields.
func (h Heartbeat) Payload() *Msg {
	return eventPayload(h.RequestID, h.Trailing, u32Field{"phase", h.Phase}, u32Field{"elapsed_ms", h.ElapsedMS})
}

// Msg is the whole message.
func (h Heartbeat) Msg() *Msg { return Frame(h.Header, h.Payload()) }

// StatusResponseV2 is a version-2 status response (0x0004 in a version-2
// header, SPEC 11.6): section 7's fields, then the appended ones. The
// embedded StatusResponse's own Trailing bytes land between
// daemon_version and daemon_pid; the generations pair, when
// HasGenerations, comes after last_crash, and Trailing after that.
type StatusResponseV2 struct {
	StatusResponse
	DaemonPID      uint32
	Features       uint32
	BackendState   uint16
	WorkerPID      uint32
	WorkerRestarts uint32
	JobsRunning    uint32
	LastCrashLen   int64 // < 0: len(LastCrash)
	LastCrash      string
	HasGenerations bool   // lay out the optional pair after last_crash
	Generations    uint64 // with HasGenerations
	GenerationUS   uint64 // with HasGenerations
	Trailing       []byte
}

// Payload lays out the payload fields.
func (r StatusResponseV2) Payload() *Msg {
	p := r.StatusResponse.Payload()
	p.U32("daemon_pid", r.DaemonPID)
	p.U32("features", r.Features)
	p.U16("backend_state", r.BackendState)
	p.U32("worker_pid", r.WorkerPID)
	p.U32("worker_restarts", r.WorkerRestarts)
	p.U32("jobs_running", r.JobsRunning)
	str16(p, "last_crash_len", "last_crash", r.LastCrashLen, r.LastCrash)
	if r.HasGenerations {
		p.U64("generations", r.Generations)
		p.U64("generation_us", r.GenerationUS)
	}
	return trailing(p, r.Trailing)
}

// Msg is the whole message.
func (r StatusResponseV2) Msg() *Msg { return Frame(r.Header, r.Payload()) }
