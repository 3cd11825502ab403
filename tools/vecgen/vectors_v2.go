package main

// Vectors for protocol version 2 (SPEC section 11). Every vector here runs a
// decoder that serves versions 1..2 (`versions: 1..2`), except the few that
// show what a version-1-only decoder (no `versions` key) makes of the new
// types. The layouts come from internal/wire (v2.go), as msg.go's do.

import (
	"fmt"
	"strings"

	"github.com/weave-app/weave/internal/wire"
)

// Version-2 wire constants (internal/wire), under the names the vector
// tables use.
const (
	typeGenerateOptions = wire.TypeGenerateOptions
	typeSHMResponse     = wire.TypeSHMResponse
	typeQueued          = wire.TypeQueued
	typeProgress        = wire.TypeProgress
	typeHeartbeat       = wire.TypeHeartbeat

	flagProgress = wire.FlagProgress
	flagSHM      = wire.FlagSHM

	served12 = "1..2"
)

// The version-2 layout types.
type (
	optReq   = wire.GenerateOptionsRequest // 0x0005
	shmResp  = wire.SHMGenerateResponse    // 0x0006
	statusV2 = wire.StatusResponseV2       // 0x0004 in a version-2 header
)

func v2Hdr(msgType uint16) hdr { return wire.NewHeaderV2(msgType) }

// in12 marks v as run by a decoder serving versions 1..2.
func in12(v vector) vector {
	v.versions = served12
	return v
}

func newOptReq(flags uint32) optReq {
	r := exampleReq()
	r.Header = v2Hdr(typeGenerateOptions)
	return optReq{GenerateRequest: r, Flags: flags}
}

// badOptReq is newOptReq with the distinctive errID.
func badOptReq(flags uint32) optReq {
	r := newOptReq(flags)
	r.RequestID = errID
	return r
}

// optReqFields is the decoded form: section 4's with flags after request_id.
func optReqFields(r optReq) []kv {
	fs := genReqFields(r.GenerateRequest)
	out := []kv{fs[0], fs[1], {"flags", num(uint64(r.Flags))}}
	return append(out, fs[2:]...)
}

func newSHMResp(w, h, c uint32) shmResp {
	return shmResp{Header: v2Hdr(typeSHMResponse), RequestID: 1, Status: statusOK, GenTimeMS: 1234,
		Width: w, Height: h, Channels: c, ImageSize: uint64(w) * uint64(h) * uint64(c), Seed: 0x0123456789ABCDEF}
}

func shmRespFields(r shmResp) []kv {
	return append(imageFields(r.Header, r.RequestID, r.Status, r.GenTimeMS, r.Width, r.Height, r.Channels),
		kv{"image_size", num(r.ImageSize)}, kv{"seed", num(r.Seed)})
}

func queued(position, depth uint32) wire.Queued {
	return wire.Queued{Header: v2Hdr(typeQueued), RequestID: 1, Position: position, QueueDepth: depth}
}

func progress(step, steps, elapsed uint32) wire.Progress {
	return wire.Progress{Header: v2Hdr(typeProgress), RequestID: 1, Step: step, Steps: steps, ElapsedMS: elapsed}
}

func heartbeat(phase, elapsed uint32) wire.Heartbeat {
	return wire.Heartbeat{Header: v2Hdr(typeHeartbeat), RequestID: 1, Phase: phase, ElapsedMS: elapsed}
}

// event is one of the three progress messages (SPEC 11.3) laid out, with
// its vector type and decoded form.
type event struct {
	msgType uint16
	typ     string // vector type: queued, progress, heartbeat
	m       *msg
	fields  []kv
}

// newEvent: request_id, then the u32 fields called names.
func newEvent(h hdr, typ string, m *msg, id uint64, names []string, values ...uint32) event {
	fs := []kv{{"version", dec(uint64(h.Version))}, {"request_id", num(id)}}
	for i, n := range names {
		fs = append(fs, kv{n, dec(uint64(values[i]))})
	}
	return event{msgType: h.Type, typ: typ, m: m, fields: fs}
}

func queuedEvent(q wire.Queued) event {
	return newEvent(q.Header, "queued", q.Msg(), q.RequestID, []string{"position", "queue_depth"}, q.Position, q.QueueDepth)
}

func progressEvent(p wire.Progress) event {
	return newEvent(p.Header, "progress", p.Msg(), p.RequestID, []string{"step", "steps", "elapsed_ms"}, p.Step, p.Steps, p.ElapsedMS)
}

func heartbeatEvent(h wire.Heartbeat) event {
	return newEvent(h.Header, "heartbeat", h.Msg(), h.RequestID, []string{"phase", "elapsed_ms"}, h.Phase, h.ElapsedMS)
}

func newStatusV2() statusV2 {
	s := newStatusResp()
	s.Header = v2Hdr(typeStatusResponse)
	s.VersionMax = 2
	return statusV2{StatusResponse: s, DaemonPID: 4321, Features: wire.FeatureProgress | wire.FeatureSHM,
		BackendState: wire.BackendLoaded, WorkerPID: 4322, WorkerRestarts: 0, JobsRunning: 1, LastCrashLen: -1}
}

func statusV2Fields(r statusV2) []kv {
	fs := append(statusRespFields(r.StatusResponse),
		kv{"daemon_pid", dec(uint64(r.DaemonPID))},
		kv{"features", num(uint64(r.Features))},
		kv{"backend_state", dec(uint64(r.BackendState))},
		kv{"worker_pid", dec(uint64(r.WorkerPID))},
		kv{"worker_restarts", dec(uint64(r.WorkerRestarts))},
		kv{"jobs_running", dec(uint64(r.JobsRunning))},
		kv{"last_crash", r.LastCrash},
	)
	// The optional pair is listed only when the message carries it.
	if r.HasGenerations {
		fs = append(fs, kv{"generations", num(r.Generations)}, kv{"generation_us", num(r.GenerationUS)})
	}
	return fs
}

// withGenerations is s carrying SPEC 11.6's optional pair.
func withGenerations(s statusV2, generations, generationUS uint64) statusV2 {
	s.HasGenerations, s.Generations, s.GenerationUS = true, generations, generationUS
	return s
}

// The generations pair of the realistic vectors: 42 images in 329.412345 s
// (a mean of 7843.151 ms).
const (
	exampleGenerations  = 42
	exampleGenerationUS = 329_412_345
)

func v2Vectors() []vector {
	var vs []vector
	vs = append(vs, v2RequestOKVectors()...)
	vs = append(vs, v2RequestErrorVectors()...)
	vs = append(vs, v2ResponseOKVectors()...)
	vs = append(vs, v2ResponseErrorVectors()...)
	return vs
}

func v2RequestOKVectors() []vector {
	var vs []vector
	add := func(v vector) { vs = append(vs, in12(v)) }
	opt := func(name, comment, desc string, r optReq, roundtrip bool) {
		add(okReq(name, comment, desc, r.Msg(), roundtrip, "generate_request_options", optReqFields(r)))
	}

	r := newOptReq(0)
	if m := r.Msg(); m.Size() != 126 {
		panic(fmt.Sprintf("0x0005 worked example is %d bytes, want 126", m.Size()))
	}
	opt("req_v2_ok_options_example",
		"SPEC 11.2: the worked example as 0x0005 with flags 0: request_id, flags, reserved, then\nsection 4's fields 8 bytes later; payload 68 + 42 = 110, 126 bytes in all.",
		"0x0005 worked example, no flags", r, true)

	opt("req_v2_ok_options_progress", "0x0005 with flags PROGRESS (bit 0).",
		"0x0005 with PROGRESS", newOptReq(flagProgress), true)

	r = newOptReq(flagSHM)
	r.Width, r.Height = 2048, 2048
	opt("req_v2_ok_options_shm_2048x2048",
		"0x0005 with SHM at 2048x2048: the reply is 11.4's fixed 44 bytes, so the reply-size\ncheck (error 5 without SHM) does not apply: valid.",
		"0x0005 with SHM at 2048x2048 accepted", r, true)

	r = newOptReq(flagProgress | flagSHM)
	r.Width, r.Height = 2048, 1920
	opt("req_v2_ok_options_progress_shm", "0x0005 with PROGRESS and SHM (flags 3), 2048x1920.",
		"0x0005 with PROGRESS and SHM", r, true)

	r = newOptReq(0xFFFFFFFF)
	r.Width, r.Height = 2048, 2048
	opt("req_v2_ok_options_unknown_flags",
		"flags 0xFFFFFFFF: unknown bits are ignored and reported as sent; SHM is among them, so\n2048x2048 is valid.",
		"0x0005 with every flag bit set", r, true)

	r = newOptReq(0)
	r.Width, r.Height = 1856, 1856
	opt("req_v2_ok_options_1856_no_shm", "0x0005 without SHM at 1856x1856, the largest square whose inline reply fits.",
		"0x0005 1856x1856 without SHM accepted", r, true)

	r = newOptReq(flagProgress)
	r.Reserved = 0xDEADBEEF
	opt("req_v2_ok_options_reserved_nonzero",
		"0x0005 reserved = 0xDEADBEEF: receivers ignore it. Roundtrip no: encoders write 0.",
		"0x0005 non-zero reserved ignored", r, false)

	r = newOptReq(0)
	r.GenerateRequest = newGenReq("a red fox", "a red fox in the snow", "a red fox in the snow, watercolour")
	r.Header = v2Hdr(typeGenerateOptions)
	r.RequestID, r.Seed, r.Steps, r.CfgBits = 0x0102030405060708, 0x1112131415161718, 100, f32bits(20.0)
	opt("req_v2_ok_options_distinct_prompts",
		"0x0005 with three different prompts at offsets 0, 9, 30 of prompt_data (which starts at\npayload offset 68), distinct bytes in request_id and seed, steps 100, cfg 20.0.",
		"0x0005 distinct prompts and byte order", r, true)

	r = newOptReq(0)
	r.PromptData = []byte("a red fox jumps")
	r.ClipL, r.ClipG, r.T5 = slot{Off: 0, Len: 9}, slot{Off: 2, Len: 7}, slot{Off: 0, Len: 15}
	opt("req_v2_ok_options_overlapping_prompts",
		"0x0005 with overlapping prompt ranges [0,9), [2,9), [0,15) in 15 bytes: offsets are\nrelative to prompt_data, as in section 4. Roundtrip no.",
		"0x0005 overlapping prompts accepted", r, false)

	g := exampleReq()
	g.Header.Version = 2
	add(okGen("req_v2_ok_generate_v1_type_in_v2_header",
		"SPEC 11.1: 0x0001 in a version-2 header is valid with the same payload (one inline\nreply, the 10 MiB rule, no progress); version 2 is reported.",
		"0x0001 in a version-2 header accepted", g, true))

	add(okGen("req_v2_ok_generate_v1_header",
		"The worked example in a version-1 header, decoded by a decoder serving 1..2: exactly\nas in version 1.",
		"v1 request decoded by a 1..2 decoder", exampleReq(), true))

	sr := statusReq{Header: v2Hdr(typeStatusRequest), RequestID: 9}
	add(okStatusReq("req_v2_ok_status_v2_header",
		"0x0003 in a version-2 header: valid; the daemon answers it with 11.6's fields\n(resp_v2_ok_status is such a reply).",
		"status request in a version-2 header accepted", sr, true))

	sr = statusReq{Header: v2Hdr(typeStatusRequest), RequestID: 9, Trailing: []byte{1, 2, 3}}
	add(okStatusReq("req_v2_ok_status_v2_header_trailing",
		"0x0003 in a version-2 header with 3 bytes after request_id: ignored. Roundtrip no.",
		"v2 status request trailing bytes ignored", sr, false))
	return vs
}

func v2RequestErrorVectors() []vector {
	var vs []vector
	add := func(v vector) { vs = append(vs, in12(v)) }
	optErr := func(name, comment, desc string, r optReq, code uint32) {
		add(errReq(name, comment, desc, r.Msg(), code, errID))
	}

	// Versions outside 1..2.
	for _, ver := range []uint16{0, 3, 0xFFFF} {
		r := badOptReq(0)
		r.Header.Version = ver
		add(errReq(fmt.Sprintf("req_v2_err_version_%d", ver),
			fmt.Sprintf("0x0005 in a version-%d header, to a decoder serving 1..2: error 2, request_id 0.", ver),
			fmt.Sprintf("version %d unsupported by a 1..2 decoder", ver), r.Msg(), errUnsupportedVersion, 0))
	}
	h := v2Hdr(typeGenerateOptions)
	h.Version, h.PayloadLen = 3, 0xFFFFFFFF
	add(errReq("req_v2_order_version_before_size", "Version 3 and payload_len 0xFFFFFFFF (header only): version first: error 2.",
		"version checked before size (1..2 decoder)", frame(h, &msg{}), errUnsupportedVersion, 0))
	h = v2Hdr(typeGenerateOptions)
	h.PayloadLen = maxPayloadLen + 1
	add(errReq("req_v2_err_options_too_large", "0x0005 header claiming payload_len 10485745: error 13, request_id 0.",
		"0x0005 payload_len over the limit", frame(h, &msg{}), errTooLarge, 0))
	h = v2Hdr(0x0007)
	h.PayloadLen = 0xFFFFFFFF
	add(errReq("req_v2_order_size_before_type", "Version 2, msg_type 0x0007, payload_len 0xFFFFFFFF: size first: error 13.",
		"v2 size checked before message type", frame(h, &msg{}), errTooLarge, 0))

	// The new types in a version-1 header: unknown there (error 12).
	v1opt := badOptReq(flagSHM)
	v1opt.Header.Version = 1
	add(errReq("req_v2_err_options_in_v1_header",
		"0x0005 in a version-1 header: the new types are valid only in version 2: error 12,\nrequest_id echoed (8 payload bytes).",
		"0x0005 in a version-1 header is unknown", v1opt.Msg(), errUnknownType, errID))
	vs = append(vs, errReq("req_v2_err_options_in_v1_header_v1_decoder",
		"The same 0x0005 in a version-1 header to a version-1-only decoder: error 12 too,\nrequest_id echoed.",
		"0x0005 unknown to a version-1 decoder", v1opt.Msg(), errUnknownType, errID))

	// Daemon-sent types are not requests, in either version.
	shm := newSHMResp(2, 2, 3)
	shm.RequestID = errID
	add(errReq("req_v2_err_type_0006", "A whole 0x0006 (shared-memory reply) sent to the daemon: error 12, request_id echoed.",
		"0x0006 sent to the request decoder", shm.Msg(), errUnknownType, errID))
	q, pr, hb := queued(1, 1), progress(1, 28, 10), heartbeat(2, 10)
	q.RequestID, pr.RequestID, hb.RequestID = errID, errID, errID
	for _, e := range []event{queuedEvent(q), progressEvent(pr), heartbeatEvent(hb)} {
		t := e.msgType
		add(errReq(fmt.Sprintf("req_v2_err_type_%04x", t),
			fmt.Sprintf("A whole 0x%04X (%s) sent to the daemon: error 12, request_id echoed.", t, e.typ),
			fmt.Sprintf("0x%04X sent to the request decoder", t), e.m, errUnknownType, errID))
	}
	p := &msg{}
	p.U64("request_id", errID)
	add(errReq("req_v2_err_type_0007", "msg_type 0x0007 (not defined) in a version-2 header: error 12, request_id echoed.",
		"undefined type 0x0007 in version 2", frame(v2Hdr(0x0007), p), errUnknownType, errID))

	// Payload length: 68 bytes before prompt_data.
	for _, n := range []int{67, 60, 8, 7, 0} {
		id := uint64(0)
		echo := "0 (< 8 payload bytes)"
		if n >= 8 {
			id, echo = errID, "echoed"
		}
		m := frame(v2Hdr(typeGenerateOptions), badOptReq(0).Payload().Cut(n))
		add(errReq(fmt.Sprintf("req_v2_err_options_payload_%d", n),
			fmt.Sprintf("0x0005 whose payload_len is %d (< 68), all bytes present: error 11; request_id %s.", n, echo),
			fmt.Sprintf("0x0005 payload of %d bytes is malformed", n), m, errMalformed, id))
	}
	full := badOptReq(0).Msg()
	for _, n := range []int{20, 24, 40, 83, 125} {
		id := uint64(0)
		if n >= headerSize+8 {
			id = errID
		}
		add(errReq(fmt.Sprintf("req_v2_trunc_options_at_%03d", n),
			fmt.Sprintf("The 126-byte 0x0005 example cut to %d bytes; the header still claims 110: error 11.", n),
			fmt.Sprintf("0x0005 truncated to %d of 126 bytes", n), full.Cut(n), errMalformed, id))
	}

	// Section 4's checks, at their new offsets.
	r := badOptReq(0)
	r.ModelID = 1
	optErr("req_v2_err_options_model_1", "0x0005 with model_id 1 (at payload offset 16): error 3, request_id echoed.",
		"0x0005 invalid model", r, errInvalidModel)
	r = badOptReq(flagSHM)
	r.Width = 63
	optErr("req_v2_err_options_width_63", "0x0005 with SHM and width 63: the side rule still applies: error 5.",
		"0x0005 width 63", r, errInvalidDimensions)
	r = badOptReq(flagSHM)
	r.Height = 2112
	optErr("req_v2_err_options_shm_height_2112", "0x0005 with SHM and height 2112 (> 2048): SHM lifts only the reply-size rule: error 5.",
		"0x0005 with SHM height 2112", r, errInvalidDimensions)
	r = badOptReq(0)
	r.Steps = 101
	optErr("req_v2_err_options_steps_101", "0x0005 with steps 101: error 6.", "0x0005 invalid steps", r, errInvalidSteps)
	r = badOptReq(0)
	r.CfgBits = 0x7FC00000
	optErr("req_v2_err_options_cfg_nan", "0x0005 with cfg_scale NaN (0x7FC00000): error 7.", "0x0005 cfg NaN", r, errInvalidCfg)
	r = badOptReq(0)
	r.ClipG.Len = 0
	optErr("req_v2_err_options_clip_g_len_0", "0x0005 with clip_g_len 0: error 4.", "0x0005 empty prompt", r, errInvalidPrompt)
	r = badOptReq(0)
	r.T5.Off = 42 - 13
	optErr("req_v2_err_options_t5_past_end",
		"0x0005 t5 offset 29 len 14 ends one past the 42 bytes of prompt_data (offsets count\nfrom payload offset 68, not 60): error 4.",
		"0x0005 prompt one byte past prompt_data", r, errInvalidPrompt)
	r = badOptReq(0)
	r.ClipL = slot{Off: 0xFFFFFFFF, Len: 1}
	optErr("req_v2_err_options_clip_l_offset_ffffffff", "0x0005 clip_l offset 0xFFFFFFFF len 1 (wraps in 32 bits): error 4.",
		"0x0005 prompt offset wraps", r, errInvalidPrompt)
	r = withPromptOpt(1, "ab\xED\xA0\x80cd")
	optErr("req_v2_err_options_clip_g_utf8_surrogate", "0x0005 clip_g \"ab\" ED A0 80 \"cd\" (a surrogate): not UTF-8: error 4.",
		"0x0005 prompt invalid UTF-8", r, errInvalidPrompt)
	for _, f := range []uint32{0, flagProgress} {
		r = badOptReq(f)
		r.Width, r.Height = 2048, 2048
		optErr(fmt.Sprintf("req_v2_err_options_2048x2048_flags_%d", f),
			fmt.Sprintf("0x0005 without SHM (flags %d) at 2048x2048: the inline reply would be 12582968 bytes\n> 10485760: error 5, as in section 4.", f),
			fmt.Sprintf("0x0005 flags %d 2048x2048 reply too large", f), r, errInvalidDimensions)
	}
	g := badReq()
	g.Header.Version = 2
	g.Width, g.Height = 2048, 2048
	add(errReq("req_v2_err_generate_v2_header_2048x2048",
		"0x0001 in a version-2 header at 2048x2048: the 10 MiB reply rule holds as in version 1:\nerror 5.",
		"0x0001 in version 2 keeps the reply-size rule", g.Msg(), errInvalidDimensions, errID))

	// Check order of 0x0005: section 4's.
	r = badOptReq(0)
	r.ModelID = 1
	add(errReq("req_v2_order_options_length_before_model",
		"0x0005 payload_len 24 (complete) whose model_id is 1: length first: error 11, request_id echoed.",
		"0x0005 length checked before model", frame(v2Hdr(typeGenerateOptions), r.Payload().Cut(24)), errMalformed, errID))
	r = badOptReq(0)
	r.ModelID, r.Width = 1, 63
	optErr("req_v2_order_options_model_before_dims", "0x0005 model_id 1 and width 63: model first: error 3.",
		"0x0005 model checked before dimensions", r, errInvalidModel)
	r = badOptReq(0)
	r.Height, r.Steps = 100, 0
	optErr("req_v2_order_options_dims_before_steps", "0x0005 height 100 and steps 0: dimensions first: error 5.",
		"0x0005 dimensions checked before steps", r, errInvalidDimensions)
	r = badOptReq(0)
	r.Steps, r.CfgBits = 0, 0x7F800000
	optErr("req_v2_order_options_steps_before_cfg", "0x0005 steps 0 and cfg +Inf: steps first: error 6.",
		"0x0005 steps checked before cfg", r, errInvalidSteps)
	r = badOptReq(0)
	r.CfgBits, r.ClipL.Len = 0xFF800000, 0
	optErr("req_v2_order_options_cfg_before_prompt", "0x0005 cfg -Inf and clip_l_len 0: cfg first: error 7.",
		"0x0005 cfg checked before prompts", r, errInvalidCfg)
	r = badOptReq(0)
	r.Width, r.Height, r.T5.Len = 2048, 2048, 0
	optErr("req_v2_order_options_prompt_before_reply_size",
		"0x0005 without SHM at 2048x2048 with t5_len 0: prompts before the reply size: error 4.",
		"0x0005 prompts checked before reply size", r, errInvalidPrompt)
	r = badOptReq(flagSHM)
	r.Width, r.Height, r.ClipL.Len = 2048, 2048, 2049
	optErr("req_v2_order_options_shm_prompt",
		"0x0005 with SHM at 2048x2048 and clip_l_len 2049: the prompt rule still applies: error 4.",
		"0x0005 with SHM still checks prompts", r, errInvalidPrompt)
	return vs
}

// withPromptOpt is badOptReq(0) whose slot i holds p.
func withPromptOpt(i int, p string) optReq {
	r := badOptReq(0)
	g := withPrompt(i, p)
	g.Header = r.Header
	r.GenerateRequest = g
	return r
}

func v2ResponseOKVectors() []vector {
	var vs []vector
	add := func(v vector) { vs = append(vs, in12(v)) }
	shmOK := func(name, comment, desc string, r shmResp, roundtrip bool) {
		add(okResp(name, comment, desc, r.Msg(), roundtrip, "shm_generate_response", shmRespFields(r)))
	}
	evOK := func(name, comment, desc string, e event, roundtrip bool) {
		add(okResp(name, comment, desc, e.m, roundtrip, e.typ, e.fields))
	}
	stOK := func(name, comment, desc string, s statusV2, roundtrip bool) {
		add(okResp(name, comment, desc, s.Msg(), roundtrip, "status_response_v2", statusV2Fields(s)))
	}

	r := newSHMResp(2, 2, 3)
	if r.Msg().Size() != 60 {
		panic("0x0006 is not 60 bytes")
	}
	shmOK("resp_v2_ok_shm_2x2_rgb",
		"SPEC 11.4: 0x0006 for a 2x2 RGB image: image_size 12, seed 0x0123456789ABCDEF; the\npixels travel in a memfd, so the payload is the fixed 44 bytes.",
		"0x0006 2x2 RGB", r, true)
	r = newSHMResp(2048, 2048, 4)
	r.RequestID, r.GenTimeMS, r.Seed = 0x0102030405060708, 0xFFFFFFFF, 0x1112131415161718
	shmOK("resp_v2_ok_shm_2048x2048_rgba", "0x0006 2048x2048 RGBA: image_size 16777216, distinct bytes in the 64-bit fields.",
		"0x0006 2048x2048 RGBA", r, true)
	r = newSHMResp(16384, 16384, 4)
	shmOK("resp_v2_ok_shm_image_size_2p30", "0x0006 16384x16384 RGBA: image_size exactly 2^30 (1073741824), the limit.",
		"0x0006 image_size at 2^30", r, true)
	r = newSHMResp(1, 1, 3)
	r.Trailing = []byte{0xAA, 0xBB}
	shmOK("resp_v2_ok_shm_trailing", "0x0006 with 2 bytes after seed: ignored. Roundtrip no.",
		"0x0006 trailing bytes ignored", r, false)

	evOK("resp_v2_ok_queued_1_of_1", "SPEC 11.3: queued, position 1 (next to run) of queue_depth 1.",
		"queued position 1 of 1", queuedEvent(queued(1, 1)), true)
	q := queued(3, 5)
	q.RequestID = 0x0102030405060708
	evOK("resp_v2_ok_queued_3_of_5", "queued, position 3 of queue_depth 5, request_id with distinct bytes.",
		"queued position 3 of 5", queuedEvent(q), true)
	q = queued(0xFFFFFFFF, 0xFFFFFFFF)
	evOK("resp_v2_ok_queued_max", "queued with position = queue_depth = 0xFFFFFFFF (position <= queue_depth holds).",
		"queued at the maximum", queuedEvent(q), true)
	q = queued(2, 2)
	q.Trailing = []byte{9, 9, 9, 9}
	evOK("resp_v2_ok_queued_trailing", "queued with 4 bytes after queue_depth: ignored. Roundtrip no.",
		"queued trailing bytes ignored", queuedEvent(q), false)

	evOK("resp_v2_ok_progress_first", "progress: step 1 of 28, elapsed_ms 350.", "progress step 1 of 28",
		progressEvent(progress(1, 28, 350)), true)
	evOK("resp_v2_ok_progress_last", "progress: step 28 of 28 (step = steps is the last).", "progress step 28 of 28",
		progressEvent(progress(28, 28, 9800)), true)
	pr := progress(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
	pr.RequestID = 0xFFFFFFFFFFFFFFFF
	evOK("resp_v2_ok_progress_max", "progress with every field at its maximum (the decoder checks only the rules).",
		"progress at the maximum", progressEvent(pr), true)
	pr = progress(1, 1, 0)
	pr.Trailing = []byte{1}
	evOK("resp_v2_ok_progress_trailing", "progress with 1 byte after elapsed_ms: ignored. Roundtrip no.",
		"progress trailing byte ignored", progressEvent(pr), false)

	evOK("resp_v2_ok_heartbeat_queued", "heartbeat phase 1 (queued), elapsed_ms 500.", "heartbeat phase 1",
		heartbeatEvent(heartbeat(wire.PhaseQueued, 500)), true)
	evOK("resp_v2_ok_heartbeat_running", "heartbeat phase 2 (running), elapsed_ms 0 (sent when the job starts).",
		"heartbeat phase 2", heartbeatEvent(heartbeat(wire.PhaseRunning, 0)), true)
	hb := heartbeat(wire.PhaseRunning, 0x01020304)
	hb.Trailing = []byte{0, 0, 0, 0, 0, 0, 0, 0}
	evOK("resp_v2_ok_heartbeat_trailing", "heartbeat with 8 bytes after elapsed_ms: ignored. Roundtrip no.",
		"heartbeat trailing bytes ignored", heartbeatEvent(hb), false)

	stOK("resp_v2_ok_status",
		"SPEC 11.6: the reply to a version-2 status request: section 7's fields in a version-2\nheader, then daemon_pid, features 3, backend_state 2 (loaded), worker, jobs, last_crash.",
		"version-2 status response", newStatusV2(), true)
	s := newStatusV2()
	s.BackendState, s.WorkerPID, s.WorkerRestarts, s.JobsRunning = 3, 0, 2, 0
	s.LastCrash = "backend crashed (SIGSEGV)"
	stOK("resp_v2_ok_status_crashed",
		"Version-2 status while restarting after a crash: backend_state 3, worker_pid 0,\nworker_restarts 2, last_crash \"backend crashed (SIGSEGV)\".",
		"version-2 status response after a crash", s, true)
	s = newStatusV2()
	s.DaemonPID, s.Features, s.BackendState, s.WorkerPID = 0x21222324, 0x31323334, 0x4142, 0x51525354
	s.WorkerRestarts, s.JobsRunning = 0x61626364, 0x71727374
	stOK("resp_v2_ok_status_distinct_bytes",
		"Distinct bytes in every version-2 field (backend_state 0x4142 is not a known state;\nthe decoder reports it as is).",
		"version-2 status fields in order", s, true)
	s = newStatusV2()
	s.Backend, s.DaemonVersion, s.LastCrash = "", "", strings.Repeat("c", 255)
	stOK("resp_v2_ok_status_crash_255", "Empty backend and daemon_version, last_crash at the 255-byte limit.",
		"version-2 status with 255-byte last_crash", s, true)
	s = newStatusV2()
	s.Trailing = []byte{0xFE, 0xED}
	stOK("resp_v2_ok_status_trailing", "2 bytes after last_crash: ignored. Roundtrip no.",
		"version-2 status trailing bytes ignored", s, false)

	// The optional pair after last_crash (generations, generation_us).
	s = withGenerations(newStatusV2(), exampleGenerations, exampleGenerationUS)
	stOK("resp_v2_ok_status_generations",
		"SPEC 11.6: the 16 bytes after last_crash are generations 42 and generation_us 329412345\n(u64s, big-endian), as this daemon sends them.",
		"version-2 status with the generations pair", s, true)
	s = withGenerations(newStatusV2(), 0, 0)
	stOK("resp_v2_ok_status_generations_zero",
		"The pair present with generations 0 and generation_us 0 (no image yet): present, not\nabsent; re-encoding writes it.",
		"version-2 status with a zero generations pair", s, true)
	s = withGenerations(newStatusV2(), 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF)
	stOK("resp_v2_ok_status_generations_max",
		"generations and generation_us both 0xFFFFFFFFFFFFFFFF (they wrap at 2^64).",
		"version-2 status generations pair at the maximum", s, true)
	s = withGenerations(newStatusV2(), 0x0102030405060708, 0x1112131415161718)
	stOK("resp_v2_ok_status_generations_distinct_bytes",
		"Distinct bytes in generations and generation_us: byte order, and generations first.",
		"version-2 status generations pair in order", s, true)
	s = newStatusV2()
	s.BackendState, s.WorkerPID, s.WorkerRestarts, s.JobsRunning = 3, 0, 2, 0
	s.LastCrash = "backend crashed (SIGSEGV)"
	s = withGenerations(s, exampleGenerations, exampleGenerationUS)
	stOK("resp_v2_ok_status_generations_crashed",
		"The pair after a non-empty last_crash (25 bytes): Y is the end of last_crash, not of\nlast_crash_len.",
		"version-2 status after a crash with the generations pair", s, true)
	s = withGenerations(newStatusV2(), exampleGenerations, exampleGenerationUS)
	s.Trailing = []byte{0xFE, 0xED, 0x01}
	stOK("resp_v2_ok_status_generations_trailing", "The pair, then 3 bytes after generation_us: ignored. Roundtrip no.",
		"version-2 status bytes after the generations pair ignored", s, false)
	s = newStatusV2()
	pair := (&msg{}).U64("generations", exampleGenerations).U64("generation_us", exampleGenerationUS).Bytes()
	s.Trailing = pair[:wire.StatusV2GenerationsSize-1]
	stOK("resp_v2_ok_status_generations_short",
		"15 bytes after last_crash (the pair of resp_v2_ok_status_generations without its last\nbyte): fewer than 16 are ignored and the pair is absent. Roundtrip no.",
		"version-2 status with 15 bytes after last_crash", s, false)

	g := newGenResp(2, 2, 3, pixels2x2RGB())
	g.Header.Version = 2
	add(okGenResp("resp_v2_ok_generate_v2_header", "0x0002 in a version-2 header: the inline reply of version 2, seed included.",
		"0x0002 in a version-2 header", g, true))
	er := newErrResp(5, statusServerError, errGPU, "backend crashed (SIGSEGV)")
	er.Header.Version = 2
	add(okErrResp("resp_v2_ok_error_v2_header", "An error reply in a version-2 header (11.7: 500 / 9, a crashed backend).",
		"error reply in a version-2 header", er, true))
	er = newErrResp(0, statusBadRequest, errUnsupportedVersion, "unsupported protocol version 2 (this daemon speaks 1..1)")
	add(okErrResp("resp_v2_ok_error_v1_header", "Error 2 in a version-1 header, as a version-1 daemon answers a version-2 request\n(11.8: the client falls back to version 1).",
		"error 2 in a version-1 header", er, true))
	add(okStatusResp("resp_v2_ok_status_v1_header", "A version-1 status response decoded by a 1..2 decoder: section 7's fields only.",
		"version-1 status response to a 1..2 decoder", newStatusResp(), true))
	return vs
}

func v2ResponseErrorVectors() []vector {
	var vs []vector
	add := func(v vector) { vs = append(vs, in12(v)) }
	bad := func(name, comment, desc string, m *msg) { add(errRespVec(name, comment, desc, m, errMalformed)) }

	// Header rules.
	r := newSHMResp(2, 2, 3)
	r.Header.Version = 3
	add(errRespVec("resp_v2_err_version_3", "0x0006 in a version-3 header to a 1..2 decoder: error 2.",
		"response version 3 unsupported", r.Msg(), errUnsupportedVersion))
	h := v2Hdr(typeSHMResponse)
	h.PayloadLen = maxPayloadLen + 1
	add(errRespVec("resp_v2_err_shm_too_large", "0x0006 header claiming payload_len 10485745: error 13.",
		"0x0006 payload_len over the limit", frame(h, &msg{}), errTooLarge))
	for _, m := range []struct {
		t uint16
		m *msg
	}{
		{typeSHMResponse, newSHMResp(2, 2, 3).Msg()},
		{typeQueued, queued(1, 1).Msg()},
		{typeProgress, progress(1, 28, 10).Msg()},
		{typeHeartbeat, heartbeat(1, 10).Msg()},
	} {
		b := m.m.Bytes()
		v1 := &msg{}
		v1.Add("header magic", b[0:4])
		v1.U16("header version (1)", 1)
		v1.Add("rest of the message", b[6:])
		add(errRespVec(fmt.Sprintf("resp_v2_err_type_%04x_in_v1_header", m.t),
			fmt.Sprintf("0x%04X in a version-1 header: the version-2 types are unknown in version 1:\nerror 12.", m.t),
			fmt.Sprintf("0x%04X in a version-1 header is unknown", m.t), v1, errUnknownType))
		if m.t == typeSHMResponse || m.t == typeProgress {
			vs = append(vs, errRespVec(fmt.Sprintf("resp_v2_err_type_%04x_in_v1_header_v1_decoder", m.t),
				fmt.Sprintf("0x%04X in a version-1 header to a version-1-only decoder: error 12.", m.t),
				fmt.Sprintf("0x%04X unknown to a version-1 decoder", m.t), v1, errUnknownType))
		}
	}
	opt := newOptReq(0)
	add(errRespVec("resp_v2_err_type_0005", "A 0x0005 request sent to the client: not a response: error 12.",
		"0x0005 sent to the response decoder", opt.Msg(), errUnknownType))
	p := &msg{}
	p.U64("request_id", 5)
	add(errRespVec("resp_v2_err_type_0013", "msg_type 0x0013 (not defined) in a version-2 header: error 12.",
		"undefined type 0x0013 in version 2", frame(v2Hdr(0x0013), p), errUnknownType))

	// 0x0006.
	for _, n := range []int{43, 36, 8, 0} {
		bad(fmt.Sprintf("resp_v2_err_shm_payload_%d", n),
			fmt.Sprintf("0x0006 whose payload_len is %d (< 44), all bytes present: error 11.", n),
			fmt.Sprintf("0x0006 payload of %d bytes", n), frame(v2Hdr(typeSHMResponse), cutPayload(newSHMResp(2, 2, 3).Msg(), n)))
	}
	full := newSHMResp(2, 2, 3).Msg()
	for _, n := range []int{20, 44, 59} {
		bad(fmt.Sprintf("resp_v2_trunc_shm_at_%03d", n),
			fmt.Sprintf("The 60-byte 0x0006 cut to %d bytes; the header still claims 44: error 11.", n),
			fmt.Sprintf("0x0006 truncated to %d of 60 bytes", n), full.Cut(n))
	}
	for _, st := range []uint32{500, 0} {
		r = newSHMResp(2, 2, 3)
		r.Status = st
		bad(fmt.Sprintf("resp_v2_err_shm_status_%d", st), fmt.Sprintf("0x0006 with status %d (must be 200): error 11.", st),
			fmt.Sprintf("0x0006 status %d", st), r.Msg())
	}
	for _, c := range []struct {
		name    string
		w, h, c uint32
	}{{"width_0", 0, 2, 3}, {"height_0", 2, 0, 3}, {"channels_2", 2, 2, 2}, {"channels_5", 2, 2, 5}} {
		r = newSHMResp(c.w, c.h, c.c)
		bad("resp_v2_err_shm_"+c.name,
			fmt.Sprintf("0x0006 %dx%d with %d channels, image_size consistent (%d): error 11.", c.w, c.h, c.c, r.ImageSize),
			"0x0006 "+strings.Replace(c.name, "_", " ", 1), r.Msg())
	}
	for _, n := range []uint64{11, 13, 0, 12 + 1<<32} {
		r = newSHMResp(2, 2, 3)
		r.ImageSize = n
		bad(fmt.Sprintf("resp_v2_err_shm_image_size_%d", n),
			fmt.Sprintf("0x0006 2x2 RGB with image_size %d instead of 12: error 11.", n),
			fmt.Sprintf("0x0006 image_size %d != 12", n), r.Msg())
	}
	big := []struct {
		name    string
		w, h, c uint32
		why     string
	}{
		{"16384x16385_rgba", 16384, 16385, 4, "1073807360 = 2^30 + 65536, just over 2^30"},
		{"65536x65536_rgb", 0x10000, 0x10000, 3, "3*2^32, over 2^30 (and over 32 bits)"},
		{"ffffffff_squared_rgba", 0xFFFFFFFF, 0xFFFFFFFF, 4, "about 2^66: does not fit 64 bits (image_size holds the wrapped product)"},
		{"2p31_squared_rgba", 0x80000000, 0x80000000, 4, "2^64, which wraps to 0 in 64 bits"},
	}
	for _, b := range big {
		r = newSHMResp(b.w, b.h, b.c) // imageSize: the product wrapped to 64 bits
		bad("resp_v2_err_shm_size_"+b.name,
			fmt.Sprintf("0x0006 %dx%dx%d, image_size 0x%X: the product is %s:\nerror 11.", b.w, b.h, b.c, r.ImageSize, b.why),
			"0x0006 image size over 2^30: "+b.name, r.Msg())
	}

	// shortEvent: the progress message typ (payload p, size bytes) whose
	// payload_len is each of cuts.
	shortEvent := func(typ string, h hdr, p *msg, size int, cuts ...int) {
		for _, n := range cuts {
			bad(fmt.Sprintf("resp_v2_err_%s_payload_%d", typ, n), fmt.Sprintf("%s whose payload_len is %d (< %d): error 11.", typ, n, size),
				fmt.Sprintf("%s payload of %d bytes", typ, n), frame(h, p.Cut(n)))
		}
	}

	// 0x0010 queued.
	shortEvent("queued", v2Hdr(typeQueued), queued(1, 1).Payload(), wire.QueuedSize, 15, 12, 8, 0)
	for _, q := range [][2]uint32{{0, 1}, {0, 0}, {2, 1}, {1, 0}} {
		bad(fmt.Sprintf("resp_v2_err_queued_%d_of_%d", q[0], q[1]),
			fmt.Sprintf("queued position %d, queue_depth %d: position must be 1..queue_depth: error 11.", q[0], q[1]),
			fmt.Sprintf("queued position %d of %d", q[0], q[1]), queued(q[0], q[1]).Msg())
	}
	bad("resp_v2_trunc_queued_at_031", "queued (32 bytes) cut to 31; the header still claims 16: error 11.",
		"queued truncated", queued(1, 1).Msg().Cut(31))

	// 0x0011 progress.
	shortEvent("progress", v2Hdr(typeProgress), progress(1, 28, 10).Payload(), wire.ProgressSize, 19, 16, 8, 0)
	for _, s := range [][2]uint32{{0, 28}, {29, 28}, {0, 0}, {1, 0}, {0xFFFFFFFF, 1}} {
		bad(fmt.Sprintf("resp_v2_err_progress_step_%d_of_%d", s[0], s[1]),
			fmt.Sprintf("progress step %d of steps %d: steps must be >= 1 and step 1..steps: error 11.", s[0], s[1]),
			fmt.Sprintf("progress step %d of %d", s[0], s[1]), progress(s[0], s[1], 10).Msg())
	}

	// 0x0012 heartbeat.
	shortEvent("heartbeat", v2Hdr(typeHeartbeat), heartbeat(1, 10).Payload(), wire.HeartbeatSize, 15, 12, 8, 0)
	for _, ph := range []uint32{0, 3, 0xFFFFFFFF} {
		bad(fmt.Sprintf("resp_v2_err_heartbeat_phase_%d", ph),
			fmt.Sprintf("heartbeat phase %d (only 1 queued and 2 running exist): error 11.", ph),
			fmt.Sprintf("heartbeat phase %d", ph), heartbeat(ph, 10).Msg())
	}

	// Version-2 status response.
	v1 := newStatusResp()
	v1.Header = v2Hdr(typeStatusResponse)
	bad("resp_v2_err_status_v1_payload_in_v2_header",
		"A status response in a version-2 header that ends after daemon_version (a version-1\npayload): it ends before last_crash does: error 11.",
		"version-2 status without its version-2 fields", v1.Msg())
	s := newStatusV2()
	base := s.StatusResponse.Payload().Size()
	for _, extra := range []int{4, 8, 10, 14, 18, 22, 23} {
		n := base + extra
		bad(fmt.Sprintf("resp_v2_err_status_payload_ends_at_x_plus_%d", extra),
			fmt.Sprintf("Version-2 status whose payload_len is %d: it ends X+%d bytes after daemon_version,\nbefore last_crash_len does: error 11.", n, extra),
			fmt.Sprintf("version-2 status cut at X+%d", extra), frame(v2Hdr(typeStatusResponse), s.Payload().Cut(n)))
	}
	s = newStatusV2()
	s.LastCrash = "boom"
	s.LastCrashLen = 5
	bad("resp_v2_err_status_last_crash_len_past_end", "last_crash_len 5 with 4 bytes left: runs one byte past the payload: error 11.",
		"version-2 status last_crash past the payload", s.Msg())
	s = newStatusV2()
	s.LastCrashLen = 0xFFFF
	bad("resp_v2_err_status_last_crash_len_ffff", "last_crash_len 65535 with no bytes after it: error 11.",
		"version-2 status last_crash_len 65535", s.Msg())
	s = newStatusV2()
	s.Status = 500
	bad("resp_v2_err_status_500", "Version-2 status response with status 500 (must be 200): error 11.",
		"version-2 status 500", s.Msg())
	s = newStatusV2()
	s.BackendLen = 200
	bad("resp_v2_err_status_backend_len_past_end", "Version-2 status with backend_len 200, past the payload: error 11.",
		"version-2 status backend_len past the payload", s.Msg())
	full = newStatusV2().Msg()
	bad("resp_v2_trunc_status_at_end_minus_1",
		fmt.Sprintf("The %d-byte version-2 status cut one byte short; the header still claims %d: error 11.", full.Size(), full.Size()-headerSize),
		"version-2 status truncated by one byte", full.Cut(full.Size()-1))
	full = withGenerations(newStatusV2(), exampleGenerations, exampleGenerationUS).Msg()
	bad("resp_v2_trunc_status_generations_at_end_minus_1",
		fmt.Sprintf("The %d-byte version-2 status with the generations pair cut one byte short; the header\nstill claims %d: error 11 (a short message, not a short pair).", full.Size(), full.Size()-headerSize),
		"version-2 status with the pair truncated by one byte", full.Cut(full.Size()-1))
	bad("resp_v2_trunc_status_generations_at_y_plus_8",
		fmt.Sprintf("The same message cut after generations (%d bytes: generation_us missing); the header\nstill claims %d: error 11.", full.Size()-8, full.Size()-headerSize),
		"version-2 status truncated inside the generations pair", full.Cut(full.Size()-8))
	return vs
}

// cutPayload returns the first n payload bytes of a framed message.
func cutPayload(m *msg, n int) *msg {
	p := &msg{Fields: m.Fields[5:]}
	return p.Cut(n)
}
