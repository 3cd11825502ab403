package main

// Vectors for the request decoder (the daemon's side: types 1 and 3).

import (
	"fmt"
	"strings"
)

// errID is the request_id of error vectors whose id is readable, so that a
// decoder that echoes the wrong bytes (or none) is caught.
const errID uint64 = 0x1122334455667788

func allVectors() []vector {
	var vs []vector
	vs = append(vs, requestOKVectors()...)
	vs = append(vs, requestHeaderErrorVectors()...)
	vs = append(vs, requestPayloadErrorVectors()...)
	vs = append(vs, requestPromptErrorVectors()...)
	vs = append(vs, requestTruncationVectors()...)
	vs = append(vs, requestOrderVectors()...)
	vs = append(vs, responseOKVectors()...)
	vs = append(vs, responseErrorVectors()...)
	vs = append(vs, v2Vectors()...)
	return vs
}

func okGen(name, comment, desc string, r genReq, roundtrip bool) vector {
	return okReq(name, comment, desc, r.Msg(), roundtrip, "generate_request", genReqFields(r))
}

func okStatusReq(name, comment, desc string, r statusReq, roundtrip bool) vector {
	return okReq(name, comment, desc, r.Msg(), roundtrip, "status_request", statusReqFields(r))
}

// badReq is the worked example with a readable, distinctive request_id.
func badReq() genReq {
	r := exampleReq()
	r.RequestID = errID
	return r
}

// repeatTo returns s repeated and cut to exactly n bytes.
func repeatTo(s string, n int) string {
	return strings.Repeat(s, n/len(s)+1)[:n]
}

func requestOKVectors() []vector {
	var vs []vector
	add := func(v vector) { vs = append(vs, v) }

	ex := exampleReq()
	if m := ex.Msg(); m.Size() != 118 || ex.Payload().Size() != 102 {
		panic(fmt.Sprintf("worked example is %d bytes (payload %d), want 118 (102)", m.Size(), ex.Payload().Size()))
	}
	add(okGen("request_example_118",
		"SPEC section 4's worked example: \"a cat in space\" x3, 512x512, 28 steps, cfg 7.0\n(0x40E00000), seed 0, request_id 1. payload_len 60 + 42 = 102, 118 bytes in all.",
		"worked example: 118-byte generate request", ex, true))

	r := newGenReq("a", "a", "a")
	r.RequestID, r.Width, r.Height, r.Steps, r.CfgBits, r.Seed = 0, 64, 64, 1, 0x00000000, 0
	add(okGen("req_ok_min_values",
		"Every lower bound at once: 64x64, 1 step, cfg +0.0, 1-byte prompts, request_id 0, seed 0.",
		"smallest valid values accepted", r, true))

	r = exampleReq()
	r.Steps = 100
	add(okGen("req_ok_steps_100", "steps at the upper bound 100 is accepted.", "steps 100 accepted", r, true))

	r = exampleReq()
	r.CfgBits = f32bits(20.0)
	add(okGen("req_ok_cfg_20", "cfg_scale exactly 20.0 (0x41A00000), the inclusive upper bound.", "cfg 20.0 accepted", r, true))

	r = exampleReq()
	r.CfgBits = 0x419FFFFF
	add(okGen("req_ok_cfg_below_20", "cfg_scale 0x419FFFFF, the largest f32 below 20.0.", "cfg just below 20.0 accepted", r, true))

	r = exampleReq()
	r.CfgBits = 0x80000000
	add(okGen("req_ok_cfg_negative_zero",
		"cfg_scale -0.0 (0x80000000): -0.0 >= 0.0 in IEEE 754, so it is in range. The bits\nmust survive decode and re-encode unchanged (not normalised to +0.0).",
		"cfg -0.0 accepted and kept bit for bit", r, true))

	r = exampleReq()
	r.CfgBits = 0x00000001
	add(okGen("req_ok_cfg_min_subnormal", "cfg_scale 0x00000001, the smallest positive subnormal f32; finite and in range.",
		"cfg smallest subnormal accepted", r, true))

	r = exampleReq()
	r.Seed = 0xFFFFFFFFFFFFFFFF
	add(okGen("req_ok_seed_max", "seed 0xFFFFFFFFFFFFFFFF: all 64 bits carried, big-endian.", "maximum seed accepted", r, true))

	r = exampleReq()
	r.RequestID = 0xFFFFFFFFFFFFFFFF
	add(okGen("req_ok_request_id_max", "request_id 0xFFFFFFFFFFFFFFFF: any value is allowed.", "maximum request_id accepted", r, true))

	r = exampleReq()
	r.RequestID, r.Seed = 0x0102030405060708, 0x1112131415161718
	add(okGen("req_ok_byte_order",
		"request_id 0x0102030405060708 and seed 0x1112131415161718: each byte distinct, so a\nswapped or misplaced byte shows.",
		"64-bit fields are big-endian", r, true))

	p := repeatTo("a cat in space, ", 2048)
	add(okGen("req_ok_prompt_max_2048",
		"Each prompt copy at the 2048-byte limit (prompt_data 6144 bytes).",
		"2048-byte prompts accepted", newGenReq(p, p, p), true))

	for _, d := range [][2]uint32{{1856, 1856}, {2048, 1664}, {1664, 2048}, {64, 2048}, {2048, 64}} {
		r = exampleReq()
		r.Width, r.Height = d[0], d[1]
		reply := uint64(16+32+8) + uint64(d[0])*uint64(d[1])*3
		comment := fmt.Sprintf("%dx%d: the RGB reply with seed is 16+32+%d*%d*3+8 = %d bytes <= 10485760.", d[0], d[1], d[0], d[1], reply)
		switch {
		case d[0] == 1856:
			comment += "\nThe largest square that fits (the next, 1920x1920, does not)."
		case d[0] == 2048 && d[1] == 1664:
			comment += "\nNon-square: 2048 wide is fine when the reply fits."
		}
		add(okGen(fmt.Sprintf("req_ok_dims_%dx%d", d[0], d[1]), comment,
			fmt.Sprintf("%dx%d accepted: reply fits in 10 MiB", d[0], d[1]), r, true))
	}

	p = "\u732b in space \U0001F680 caf\u00e9"
	add(okGen("req_ok_prompt_utf8_multibyte",
		"Prompt with 2-, 3- and 4-byte UTF-8 sequences (U+00E9, U+732B, U+1F680). Lengths\ncount bytes, not characters.",
		"multi-byte UTF-8 prompt accepted", newGenReq(p, p, p), true))

	p = "\u007f\u0080\u07ff\u0800\ud7ff\ue000\ufffd\ufffe\uffff\U00010000\U0010ffff"
	add(okGen("req_ok_prompt_utf8_edges",
		"Boundary code points that are valid UTF-8: U+007F U+0080 U+07FF U+0800 U+D7FF U+E000\nU+FFFD U+FFFE U+FFFF U+10000 U+10FFFF (noncharacters are valid UTF-8 too).",
		"UTF-8 boundary code points accepted", newGenReq(p, p, p), true))

	p = "a\x00b"
	add(okGen("req_ok_prompt_nul_byte",
		"A NUL byte inside a prompt is just a byte (strings are length-delimited).",
		"prompt containing NUL accepted", newGenReq(p, p, p), true))

	r = newGenReq("a red fox", "a red fox in the snow", "a red fox in the snow, watercolour")
	add(okGen("req_ok_prompts_distinct",
		"Three different prompts, written back to back in the order clip_l, clip_g, t5 at\noffsets 0, 9, 30: the sender's layout (SPEC section 4), so it round-trips.",
		"distinct prompts per encoder accepted", r, true))

	r = exampleReq()
	r.PromptData = []byte("a red fox jumps")
	r.ClipL, r.ClipG, r.T5 = slot{Off: 0, Len: 9}, slot{Off: 2, Len: 7}, slot{Off: 0, Len: 15}
	add(okGen("req_ok_prompts_overlapping",
		"Distinct prompts at overlapping offsets in one 15-byte prompt_data: clip_l [0,9),\nclip_g [2,9), t5 [0,15). A receiver accepts any offsets within bounds.",
		"overlapping prompt ranges accepted", r, false))

	r = exampleReq()
	r.PromptData = []byte(examplePrompt)
	r.ClipL, r.ClipG, r.T5 = slot{Off: 0, Len: 14}, slot{Off: 0, Len: 14}, slot{Off: 0, Len: 14}
	add(okGen("req_ok_prompts_shared_copy",
		"One copy of the prompt referenced by all three encoders (offset 0 each).",
		"one prompt copy shared by all encoders accepted", r, false))

	r = exampleReq()
	r.PromptData = append(append([]byte{}, r.PromptData...), 0xFF, 0xFE, 0x00, 'x', 0xC0)
	add(okGen("req_ok_prompt_data_trailing",
		"5 bytes after the three prompts, invalid UTF-8 among them: bytes no prompt covers\nare ignored (not validated). Roundtrip no: an encoder does not write them.",
		"unused trailing prompt_data ignored", r, false))

	r = exampleReq()
	{
		gap := []byte{0xC0, 0xFF, 0x80}
		pd := []byte(examplePrompt)
		pd = append(pd, gap...)
		pd = append(pd, examplePrompt...)
		pd = append(pd, gap...)
		pd = append(pd, examplePrompt...)
		r.PromptData = pd
		r.ClipL, r.ClipG, r.T5 = slot{Off: 0, Len: 14}, slot{Off: 17, Len: 14}, slot{Off: 34, Len: 14}
	}
	add(okGen("req_ok_prompt_data_gaps",
		"Invalid UTF-8 bytes in the gaps between the prompts: uncovered bytes are ignored.",
		"unused prompt_data between prompts ignored", r, false))

	r = exampleReq()
	r.Header.Reserved = 0xDEADBEEF
	add(okGen("req_ok_reserved_nonzero",
		"Header reserved = 0xDEADBEEF: receivers ignore it. Roundtrip no: encoders write 0.",
		"non-zero reserved header field ignored", r, false))

	sr := statusReq{Header: defHdr(typeStatusRequest), RequestID: 9}
	add(okStatusReq("req_ok_status", "Status request (extension, SPEC section 7): 8-byte payload, request_id 9.",
		"status request accepted", sr, true))

	sr.RequestID = 0xFFFFFFFFFFFFFFFF
	add(okStatusReq("req_ok_status_request_id_max", "Status request with request_id 0xFFFFFFFFFFFFFFFF.",
		"status request with maximum request_id accepted", sr, true))

	sr = statusReq{Header: defHdr(typeStatusRequest), RequestID: 9, Trailing: []byte{0xDE, 0xAD, 0xBE, 0xEF}}
	add(okStatusReq("req_ok_status_trailing",
		"Status request with 4 bytes after request_id (a newer version's fields): ignored.\nRoundtrip no: they are not part of the decoded value.",
		"status request trailing bytes ignored", sr, false))

	return vs
}

// requestHeaderErrorVectors: errors decided on the 16-byte header alone
// (1, 2, 13) and the message type (12).
func requestHeaderErrorVectors() []vector {
	var vs []vector
	add := func(v vector) { vs = append(vs, v) }

	for _, c := range []struct {
		name  string
		magic uint32
		what  string
	}{
		{"wevf", 0x57455646, "\"WEVF\" (last byte off by one)"},
		{"byte_swapped", 0x45564557, "0x45564557 (\"WEVE\" written little-endian)"},
		{"zero", 0x00000000, "all zero"},
	} {
		r := badReq()
		r.Header.Magic = c.magic
		add(errReq("req_err_magic_"+c.name,
			"Magic "+c.what+" on an otherwise valid request: error 1. Header errors (1, 2, 13)\nare decided before any payload byte is read, so request_id is 0.",
			"invalid magic "+c.what, r.Msg(), errInvalidMagic, 0))
	}

	for _, ver := range []uint16{0, 2, 0xFFFF} {
		r := badReq()
		r.Header.Version = ver
		add(errReq(fmt.Sprintf("req_err_version_%d", ver),
			fmt.Sprintf("Header version %d on an otherwise valid request: error 2, request_id 0 (a header\nerror; the reply goes out in a version-1 header).", ver),
			fmt.Sprintf("unsupported version %d", ver), r.Msg(), errUnsupportedVersion, 0))
	}

	sr := statusReq{Header: defHdr(typeStatusRequest), RequestID: errID}
	sr.Header.Version = 2
	add(errReq("req_err_status_version_2", "Status request with header version 2: error 2, request_id 0.",
		"status request with unsupported version 2", sr.Msg(), errUnsupportedVersion, 0))

	for _, plen := range []uint32{maxPayloadLen + 1, 0xFFFFFFFF} {
		h := defHdr(typeGenerateRequest)
		h.PayloadLen = int64(plen)
		add(errReq(fmt.Sprintf("req_err_too_large_%d", plen),
			fmt.Sprintf("Header only (16 bytes), payload_len %d > 10485744: error 13, judged before the\nmissing payload (no 11) and before allocating or reading anything.", plen),
			fmt.Sprintf("payload_len %d over the 10 MiB limit", plen), frame(h, &msg{}), errTooLarge, 0))
	}

	h := defHdr(typeStatusRequest)
	h.PayloadLen = maxPayloadLen + 1
	add(errReq("req_err_too_large_status_request", "Status request header claiming payload_len 10485745: error 13.",
		"status request payload_len over the limit", frame(h, &msg{}), errTooLarge, 0))

	// Unknown types with no payload: nothing to echo.
	for _, t := range []uint16{0x0000, 0x0002, 0x0004, 0x00FF, 0x1234, 0xFFFF} {
		h := defHdr(t)
		add(errReq(fmt.Sprintf("req_err_type_%04x_header_only", t),
			fmt.Sprintf("msg_type 0x%04X is not a request the daemon serves: error 12. Header only, so\nrequest_id 0.", t),
			fmt.Sprintf("unknown request type 0x%04X", t), frame(h, &msg{}), errUnknownType, 0))
	}

	// Unknown types with a payload: SPEC section 9 echoes the first 8 payload
	// bytes (every message type starts with request_id) when they exist.
	resp := newGenResp(2, 2, 3, pixels2x2RGB())
	resp.RequestID = errID
	add(errReq("req_err_type_0002_generate_response",
		"A whole generate response sent to the daemon: error 12. The payload has 8 bytes, so\nrequest_id is echoed (SPEC section 9).",
		"generate response sent to the request decoder", resp.Msg(), errUnknownType, errID))

	er := newErrResp(errID, statusBadRequest, errInvalidModel, "invalid model")
	add(errReq("req_err_type_00ff_error",
		"A whole error reply sent to the daemon: error 12, request_id echoed (SPEC section 9).",
		"error message sent to the request decoder", er.Msg(), errUnknownType, errID))

	st := newStatusResp()
	st.RequestID = errID
	add(errReq("req_err_type_0004_status_response",
		"A whole status response sent to the daemon: error 12, request_id echoed.",
		"status response sent to the request decoder", st.Msg(), errUnknownType, errID))

	p := &msg{}
	p.U64("request_id", errID)
	add(errReq("req_err_type_1234",
		"msg_type 0x1234 with an 8-byte payload: error 12, the 8 bytes echoed as request_id.",
		"unknown request type 0x1234 with payload", frame(defHdr(0x1234), p), errUnknownType, errID))

	p = &msg{}
	p.Add("payload (7 bytes)", []byte{1, 2, 3, 4, 5, 6, 7})
	add(errReq("req_err_type_0000_short_payload",
		"msg_type 0x0000 with a 7-byte payload: error 12, request_id 0 (fewer than 8 bytes).",
		"unknown request type 0x0000 with 7-byte payload", frame(defHdr(0x0000), p), errUnknownType, 0))

	return vs
}

func requestPayloadErrorVectors() []vector {
	var vs []vector
	add := func(v vector) { vs = append(vs, v) }

	// Payload shorter than the fixed part, framed consistently.
	for _, n := range []int{59, 8, 7, 0} {
		id := uint64(0)
		if n >= 8 {
			id = errID
		}
		echo := "0 (< 8 payload bytes)"
		if n >= 8 {
			echo = "echoed (>= 8 payload bytes)"
		}
		m := frame(defHdr(typeGenerateRequest), badReq().Payload().Cut(n))
		add(errReq(fmt.Sprintf("req_err_generate_payload_%d", n),
			fmt.Sprintf("Generate request whose payload_len is %d (< 60) and whose %d bytes are all there:\nerror 11; request_id %s.", n, n, echo),
			fmt.Sprintf("generate payload of %d bytes is malformed", n), m, errMalformed, id))
	}
	for _, n := range []int{7, 0} {
		sr := statusReq{Header: defHdr(typeStatusRequest), RequestID: errID}
		p := &msg{}
		p.U64("request_id", sr.RequestID)
		m := frame(defHdr(typeStatusRequest), p.Cut(n))
		add(errReq(fmt.Sprintf("req_err_status_payload_%d", n),
			fmt.Sprintf("Status request with a %d-byte payload (< 8): error 11, request_id 0.", n),
			fmt.Sprintf("status payload of %d bytes is malformed", n), m, errMalformed, 0))
	}

	for _, model := range []uint32{1, 0xFFFFFFFF} {
		r := badReq()
		r.ModelID = model
		add(errReq(fmt.Sprintf("req_err_model_%d", model),
			fmt.Sprintf("model_id %d (only 0 exists): error 3, request_id echoed.", model),
			fmt.Sprintf("invalid model %d", model), r.Msg(), errInvalidModel, errID))
	}

	dims := []struct {
		name string
		w, h uint32
		why  string
	}{
		{"width_63", 63, 512, "width 63: below 64"},
		{"width_65", 65, 512, "width 65: not a multiple of 64"},
		{"width_0", 0, 512, "width 0"},
		{"width_2112", 2112, 512, "width 2112: multiple of 64 but above 2048"},
		{"width_0x80000000", 0x80000000, 512, "width 0x80000000: multiple of 64, far above 2048 (w*h*3 wraps in 32 bits)"},
		{"height_100", 512, 100, "height 100: not a multiple of 64"},
		{"height_0", 512, 0, "height 0"},
		{"height_4096", 512, 4096, "height 4096: above 2048"},
	}
	for _, d := range dims {
		r := badReq()
		r.Width, r.Height = d.w, d.h
		add(errReq("req_err_dims_"+d.name, d.why+": error 5 (width/height rule).",
			"invalid dimensions: "+d.why, r.Msg(), errInvalidDimensions, errID))
	}

	for _, d := range [][2]uint32{{2048, 2048}, {1920, 1920}, {1920, 1856}, {2048, 1728}, {1728, 2048}} {
		r := badReq()
		r.Width, r.Height = d[0], d[1]
		reply := uint64(16+32+8) + uint64(d[0])*uint64(d[1])*3
		add(errReq(fmt.Sprintf("req_err_dims_%dx%d_reply_too_large", d[0], d[1]),
			fmt.Sprintf("%dx%d passes the side rule, but its RGB reply would be %d bytes > 10485760: error 5,\nwhose message names the largest square that fits (1856x1856).", d[0], d[1], reply),
			fmt.Sprintf("%dx%d refused: reply would exceed 10 MiB", d[0], d[1]), r.Msg(), errInvalidDimensions, errID))
	}

	for _, s := range []uint32{0, 101, 0xFFFFFFFF} {
		r := badReq()
		r.Steps = s
		add(errReq(fmt.Sprintf("req_err_steps_%d", s), fmt.Sprintf("steps %d is outside 1..100: error 6.", s),
			fmt.Sprintf("invalid steps %d", s), r.Msg(), errInvalidSteps, errID))
	}

	cfgs := []struct {
		name string
		bits uint32
		what string
	}{
		{"nan", 0x7FC00000, "quiet NaN 0x7FC00000"},
		{"nan_signaling", 0x7F800001, "signalling NaN 0x7F800001"},
		{"nan_negative", 0xFFC00000, "negative quiet NaN 0xFFC00000"},
		{"pos_inf", 0x7F800000, "+Inf 0x7F800000"},
		{"neg_inf", 0xFF800000, "-Inf 0xFF800000"},
		{"neg_0_5", f32bits(-0.5), fmt.Sprintf("-0.5 (0x%08X)", f32bits(-0.5))},
		{"neg_min_subnormal", 0x80000001, "the smallest negative subnormal 0x80000001 (below 0.0)"},
		{"20_5", f32bits(20.5), fmt.Sprintf("20.5 (0x%08X)", f32bits(20.5))},
		{"above_20", 0x41A00001, "0x41A00001, the next f32 above 20.0"},
		{"1e30", f32bits(1e30), fmt.Sprintf("1e30 (0x%08X)", f32bits(1e30))},
	}
	for _, c := range cfgs {
		r := badReq()
		r.CfgBits = c.bits
		add(errReq("req_err_cfg_"+c.name, "cfg_scale "+c.what+": error 7.",
			"invalid cfg "+c.what, r.Msg(), errInvalidCfg, errID))
	}
	return vs
}

var slotNames = []string{"clip_l", "clip_g", "t5"}

// slotOf returns a pointer to slot i (0 clip_l, 1 clip_g, 2 t5) of r.
func slotOf(r *genReq, i int) *slot {
	switch i {
	case 0:
		return &r.ClipL
	case 1:
		return &r.ClipG
	}
	return &r.T5
}

// withPrompt is a request whose slot i holds p and the others the example.
func withPrompt(i int, p string) genReq {
	ps := []string{examplePrompt, examplePrompt, examplePrompt}
	ps[i] = p
	r := newGenReq(ps[0], ps[1], ps[2])
	r.RequestID = errID
	return r
}

func requestPromptErrorVectors() []vector {
	var vs []vector
	add := func(v vector) { vs = append(vs, v) }
	promptErr := func(name, comment, desc string, r genReq) {
		add(errReq("req_err_prompt_"+name, comment, desc, r.Msg(), errInvalidPrompt, errID))
	}
	const size = 42 // prompt_data of the example

	for i, sn := range slotNames {
		r := badReq()
		slotOf(&r, i).Len = 0
		promptErr(sn+"_len_0", sn+"_len 0 (lengths are 1..2048): error 4.", sn+" prompt empty", r)

		r = withPrompt(i, repeatTo("a cat in space, ", 2049))
		promptErr(sn+"_len_2049", sn+" is 2049 bytes, all present in prompt_data: error 4 (limit 2048).",
			sn+" prompt 2049 bytes", r)

		r = badReq()
		slotOf(&r, i).Off = size - 14 + 1
		promptErr(sn+"_past_end",
			fmt.Sprintf("%s offset %d len 14 ends at %d, one past the %d bytes of prompt_data: error 4.", sn, size-13, size+1, size),
			sn+" prompt runs one byte past prompt_data", r)
	}

	r := badReq()
	r.ClipG = slot{Off: size, Len: 1}
	promptErr("clip_g_offset_at_end",
		fmt.Sprintf("clip_g offset %d (= prompt_data length) len 1: one byte past the end: error 4.", size),
		"prompt offset equal to prompt_data length", r)

	r = badReq()
	r.ClipL = slot{Off: 0xFFFFFFFF, Len: 1}
	promptErr("clip_l_offset_ffffffff",
		"clip_l offset 0xFFFFFFFF len 1: offset+len wraps to 0 in 32 bits, which a naive\nbounds check accepts. Error 4.",
		"prompt offset 0xFFFFFFFF wraps in 32 bits", r)

	r = badReq()
	r.T5 = slot{Off: 0xFFFFFFF0, Len: 0x20}
	promptErr("t5_offset_wraps",
		"t5 offset 0xFFFFFFF0 len 0x20: offset+len wraps to 0x10 (16 <= 42) in 32 bits. Error 4.",
		"prompt offset+len wraps to a small number", r)

	r = badReq()
	r.ClipG = slot{Off: 0xFFFFFFFF, Len: 2048}
	promptErr("clip_g_offset_ffffffff_len_2048",
		"clip_g offset 0xFFFFFFFF len 2048: offset+len wraps to 2047 in 32 bits. Error 4.",
		"prompt offset 0xFFFFFFFF with maximum length", r)

	r = badReq()
	r.PromptData = nil
	r.ClipL, r.ClipG, r.T5 = slot{Off: 0, Len: 1}, slot{Off: 0, Len: 1}, slot{Off: 0, Len: 1}
	promptErr("data_empty",
		"payload_len exactly 60: no prompt_data, so any prompt (len >= 1) is out of bounds: error 4.",
		"empty prompt_data", r)

	utf8Bad := []struct {
		name  string
		bytes string
		what  string
	}{
		{"bad_continuation", "\xC3\x28", "C3 28 (lead byte followed by ASCII)"},
		{"overlong_2byte", "\xC0\x80", "C0 80 (overlong NUL)"},
		{"surrogate", "\xED\xA0\x80", "ED A0 80 (UTF-16 surrogate U+D800)"},
		{"above_10ffff", "\xF4\x90\x80\x80", "F4 90 80 80 (U+110000, above U+10FFFF)"},
	}
	for _, u := range utf8Bad {
		for i, sn := range slotNames {
			r := withPrompt(i, "ab"+u.bytes+"cd")
			promptErr(fmt.Sprintf("%s_utf8_%s", sn, u.name),
				fmt.Sprintf("%s is \"ab\" %s \"cd\": not valid UTF-8: error 4.", sn, u.what),
				fmt.Sprintf("%s prompt invalid UTF-8: %s", sn, u.what), r)
		}
	}

	extra := []struct {
		slot  int
		name  string
		bytes string
		what  string
	}{
		{0, "lone_continuation", "ab\x80cd", "a lone continuation byte 80"},
		{1, "byte_ff", "ab\xFFcd", "byte FF (never valid)"},
		{2, "overlong_3byte", "ab\xE0\x80\x80cd", "E0 80 80 (overlong 3-byte NUL)"},
		{0, "overlong_4byte", "ab\xF0\x80\x80\x80cd", "F0 80 80 80 (overlong 4-byte NUL)"},
		{1, "f5_lead", "ab\xF5\x80\x80\x80cd", "F5 80 80 80 (lead byte above F4)"},
		{2, "truncated_at_end", "ab\xE2\x82", "E2 82 at its end (3-byte sequence cut short)"},
		{1, "surrogate_low", "ab\xED\xBF\xBFcd", "ED BF BF (UTF-16 surrogate U+DFFF)"},
	}
	for _, u := range extra {
		sn := slotNames[u.slot]
		r := withPrompt(u.slot, u.bytes)
		promptErr(fmt.Sprintf("%s_utf8_%s", sn, u.name),
			fmt.Sprintf("%s contains %s: not valid UTF-8: error 4.", sn, u.what),
			fmt.Sprintf("%s prompt invalid UTF-8: %s", sn, u.what), r)
	}

	// The length cuts a valid sequence: validity is judged on the prompt's
	// own bytes, not on prompt_data.
	r = newGenReq("caf\u00e9", "caf\u00e9", "caf\u00e9")
	r.RequestID = errID
	r.ClipG.Len = 4
	promptErr("clip_g_len_splits_sequence",
		"prompt_data is \"caf\u00e9\" x3 (valid), but clip_g_len 4 ends inside \u00e9 (C3 A9): the\nprompt \"caf\" C3 is not valid UTF-8 on its own: error 4.",
		"prompt length splits a UTF-8 sequence", r)

	return vs
}

// requestTruncationVectors cut the 118-byte example at every field
// boundary; the header still claims payload_len 102.
func requestTruncationVectors() []vector {
	var vs []vector
	full := exampleReq().Msg()
	cuts := []int{0, 4, 6, 8, 12, // inside the header
		16, 24, 28, 32, 36, 40, 44, 52, 56, 60, 64, 68, 72, 76, // fixed payload fields
		90, 104, 117} // after each prompt copy, and one byte short
	for _, n := range cuts {
		m := full.Cut(n)
		var comment string
		var id uint64
		switch {
		case n < headerSize:
			comment = fmt.Sprintf("The worked example cut to its first %d bytes: fewer than the 16 header bytes, so\nnothing can be judged but the length: error 11, request_id 0.", n)
		case n-headerSize < 8:
			comment = fmt.Sprintf("The worked example cut to %d bytes (payload %d of 102): the header is valid, the\nmessage is incomplete: error 11; fewer than 8 payload bytes, so request_id 0.", n, n-headerSize)
		default:
			id = 1
			comment = fmt.Sprintf("The worked example cut to %d bytes (payload %d of 102): error 11; request_id 1\nis echoed because 8 payload bytes are present.", n, n-headerSize)
		}
		vs = append(vs, errReq(fmt.Sprintf("req_trunc_example_at_%03d", n), comment,
			fmt.Sprintf("worked example truncated to %d of 118 bytes", n), m, errMalformed, id))
	}

	r := badReq()
	r.Header.Magic = 0x57455646
	vs = append(vs, errReq("req_trunc_header_bad_magic_at_008",
		"8 bytes with a wrong magic: a header shorter than 16 bytes is judged on length alone,\nso error 11 (not 1), request_id 0.",
		"8-byte partial header with bad magic is malformed", r.Msg().Cut(8), errMalformed, 0))

	h := defHdr(typeGenerateRequest)
	h.PayloadLen = maxPayloadLen
	vs = append(vs, errReq("req_trunc_payload_len_at_limit",
		"Header only, payload_len exactly 10485744 (the limit, allowed): not error 13; the\npayload is missing: error 11, request_id 0.",
		"payload_len at the limit passes the size check, then truncated", frame(h, &msg{}), errMalformed, 0))
	return vs
}

// requestOrderVectors carry two faults each: the SPEC's check order decides.
func requestOrderVectors() []vector {
	var vs []vector
	add := func(v vector) { vs = append(vs, v) }

	r := badReq()
	r.Header.Magic, r.Header.Version = 0x57455646, 2
	add(errReq("req_order_magic_before_version", "Bad magic and version 2: magic is checked first: error 1.",
		"magic checked before version", r.Msg(), errInvalidMagic, 0))

	h := defHdr(typeGenerateRequest)
	h.Version, h.PayloadLen = 2, 0xFFFFFFFF
	add(errReq("req_order_version_before_size", "Version 2 and payload_len 0xFFFFFFFF (header only): version first: error 2.",
		"version checked before size", frame(h, &msg{}), errUnsupportedVersion, 0))

	h = defHdr(0x1234)
	h.PayloadLen = 0xFFFFFFFF
	add(errReq("req_order_size_before_type", "payload_len 0xFFFFFFFF and msg_type 0x1234 (header only): size first: error 13.",
		"size checked before message type", frame(h, &msg{}), errTooLarge, 0))

	h = defHdr(typeGenerateRequest)
	h.Magic, h.PayloadLen = 0x57455646, 102
	add(errReq("req_order_magic_before_truncation",
		"Complete 16-byte header with bad magic claiming payload_len 102, no payload: header\nchecks come first: error 1, not 11.",
		"magic checked before the missing payload", frame(h, &msg{}), errInvalidMagic, 0))

	h = defHdr(0x1234)
	h.PayloadLen = 102
	add(errReq("req_order_type_before_truncation",
		"msg_type 0x1234 claiming payload_len 102, no payload: the type is a header check:\nerror 12, request_id 0 (no payload bytes).",
		"message type checked before the missing payload", frame(h, &msg{}), errUnknownType, 0))

	p := &msg{}
	p.Add("payload (4 bytes)", []byte{0, 0, 0, 1})
	add(errReq("req_order_type_before_length",
		"msg_type 0x0002 with a 4-byte payload: type before payload length: error 12.",
		"message type checked before payload length", frame(defHdr(typeGenerateResponse), p), errUnknownType, 0))

	r = badReq()
	r.ModelID = 1
	add(errReq("req_order_length_before_model",
		"Generate payload_len 20 (complete) whose model_id is 1: length first: error 11,\nrequest_id echoed.",
		"payload length checked before model", frame(defHdr(typeGenerateRequest), r.Payload().Cut(20)), errMalformed, errID))

	add(errReq("req_order_truncation_before_model",
		"model_id 1 in a message cut to 40 of 118 bytes (header claims 102): error 11, not 3;\nrequest_id echoed.",
		"truncation checked before model", r.Msg().Cut(40), errMalformed, errID))

	r = badReq()
	r.ModelID, r.Width = 1, 63
	add(errReq("req_order_model_before_dims", "model_id 1 and width 63: model first: error 3.",
		"model checked before dimensions", r.Msg(), errInvalidModel, errID))

	r = badReq()
	r.Height, r.Steps = 100, 0
	add(errReq("req_order_dims_before_steps", "height 100 and steps 0: dimensions first: error 5.",
		"dimensions checked before steps", r.Msg(), errInvalidDimensions, errID))

	r = badReq()
	r.Steps, r.CfgBits = 101, 0x7FC00000
	add(errReq("req_order_steps_before_cfg", "steps 101 and cfg NaN: steps first: error 6.",
		"steps checked before cfg", r.Msg(), errInvalidSteps, errID))

	r = badReq()
	r.CfgBits, r.ClipL.Len = 0x7F800000, 0
	add(errReq("req_order_cfg_before_prompt", "cfg +Inf and clip_l_len 0: cfg first: error 7.",
		"cfg checked before prompts", r.Msg(), errInvalidCfg, errID))

	r = badReq()
	r.Width, r.Height, r.T5.Len = 2048, 2048, 0
	add(errReq("req_order_prompt_before_reply_size",
		"2048x2048 (reply too large) and t5_len 0: prompts come before the reply-size check:\nerror 4.",
		"prompts checked before reply size", r.Msg(), errInvalidPrompt, errID))

	r = badReq()
	r.Width, r.Height, r.Steps = 2048, 2048, 0
	add(errReq("req_order_steps_before_reply_size",
		"2048x2048 (reply too large) and steps 0: the reply-size check is last: error 6.",
		"steps checked before reply size", r.Msg(), errInvalidSteps, errID))

	return vs
}
