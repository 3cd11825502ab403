package main

// Vectors for the response decoder (the client's side: types 2, 4, 255).
// A decode failure is reported as error.status 400 with the protocol code;
// there is no request_id to echo.

import (
	"fmt"
	"strings"
)

// pixels2x2RGB: red, green / blue, white.
func pixels2x2RGB() []byte {
	return []byte{
		0xFF, 0x00, 0x00, 0x00, 0xFF, 0x00,
		0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF,
	}
}

// pattern returns n deterministic bytes.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*37 + 11)
	}
	return b
}

func okGenResp(name, comment, desc string, r genResp, roundtrip bool) vector {
	return okResp(name, comment, desc, r.Msg(), roundtrip, "generate_response", genRespFields(r))
}

func okErrResp(name, comment, desc string, r errResp, roundtrip bool) vector {
	return okResp(name, comment, desc, r.Msg(), roundtrip, "error", errRespFields(r))
}

func okStatusResp(name, comment, desc string, r statusResp, roundtrip bool) vector {
	return okResp(name, comment, desc, r.Msg(), roundtrip, "status_response", statusRespFields(r))
}

func responseOKVectors() []vector {
	var vs []vector
	add := func(v vector) { vs = append(vs, v) }

	r := newGenResp(2, 2, 3, pixels2x2RGB())
	add(okGenResp("resp_ok_generate_2x2_rgb",
		"Generate response, 2x2 RGB (red, green / blue, white), image_data_len 12, followed by\nthe 8-byte seed extension 0x0123456789ABCDEF.",
		"2x2 RGB image with seed extension", r, true))

	r = newGenResp(1, 1, 4, []byte{0x10, 0x20, 0x30, 0x80})
	r.HasSeed = false
	add(okGenResp("resp_ok_generate_1x1_rgba_no_seed",
		"1x1 RGBA ending right after the pixels (another v1 daemon): seed is reported\nas none.",
		"1x1 RGBA without seed extension", r, true))

	r = newGenResp(3, 1, 3, pattern(9))
	r.Seed = 42
	add(okGenResp("resp_ok_generate_3x1_rgb",
		"3x1 RGB: rows are tightly packed (9 bytes, no row padding). Seed 42.",
		"3x1 RGB image, no row padding", r, true))

	r = newGenResp(1, 1, 3, []byte{1, 2, 3})
	r.Seed = 0
	add(okGenResp("resp_ok_generate_seed_zero",
		"Seed extension present with value 0: reported as 0, which is not the same as none.",
		"seed extension holding 0", r, true))

	r = newGenResp(2, 2, 3, pixels2x2RGB())
	r.RequestID, r.GenTimeMS, r.Seed = 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF
	add(okGenResp("resp_ok_generate_max_fields",
		"request_id, generation_time_ms and seed at their maximum values.",
		"generate response with maximum field values", r, true))

	r = newGenResp(2, 2, 3, pixels2x2RGB())
	r.Trailing = []byte{0xAA, 0xBB, 0xCC, 0xDD}
	add(okGenResp("resp_ok_generate_trailing_after_seed",
		"4 bytes after the seed (a newer version's fields): ignored. Roundtrip no.",
		"bytes after the seed ignored", r, false))

	r = newGenResp(2, 2, 3, pixels2x2RGB())
	r.HasSeed = false
	r.Trailing = []byte{1, 2, 3, 4, 5, 6, 7}
	add(okGenResp("resp_ok_generate_7_bytes_after_pixels",
		"7 bytes after the pixels: fewer than the 8 a seed needs, so seed none and the bytes\nare ignored. Roundtrip no.",
		"7 bytes after pixels: seed unknown", r, false))

	r = newGenResp(2, 2, 3, pixels2x2RGB())
	r.Header.Reserved = 0xFFFFFFFF
	add(okGenResp("resp_ok_generate_reserved_nonzero",
		"Header reserved = 0xFFFFFFFF: ignored. Roundtrip no: encoders write 0.",
		"non-zero reserved header field ignored", r, false))

	codes := []struct {
		code uint32
		id   uint64
		msg  string
	}{
		{errInvalidMagic, 0, "invalid magic"},
		{errUnsupportedVersion, 0, "unsupported protocol version 2 (this daemon speaks 1..1)"},
		{errInvalidModel, 5, "model_id 1 is unknown (v1 has only model 0)"},
		{errInvalidPrompt, 5, "clip_l prompt is not valid UTF-8"},
		{errInvalidDimensions, 5, "reply for 2048x2048 RGB would exceed 10485760 bytes; the largest square that fits is 1856x1856"},
		{errInvalidSteps, 5, "steps 0 is outside 1..100"},
		{errInvalidCfg, 5, "cfg_scale is NaN; it must be finite, 0.0..20.0"},
		{errOutOfMemory, 5, "out of memory"},
		{errGPU, 5, "backend failure"},
		{errTimeout, 0, "request not complete after 60000 ms"},
		{errMalformed, 5, "generate request payload is 20 bytes, shorter than its 60-byte fixed part"},
		{errUnknownType, 0, "message type 0x1234 is not a request this side decodes"},
		{errTooLarge, 0, "payload_len 4294967295 is over the 10485744-byte limit"},
		{errBusy, 0, "server busy (64 connections); try again"},
		{errInternal, 5, "internal error"},
	}
	for _, c := range codes {
		e := newErrResp(c.id, statusOf(c.code), c.code, c.msg)
		add(okErrResp(fmt.Sprintf("resp_ok_error_code_%02d", c.code),
			fmt.Sprintf("Error reply, code %d with status %d (SPEC section 6 table) and a message.", c.code, statusOf(c.code)),
			fmt.Sprintf("error reply code %d", c.code), e, true))
	}

	add(okErrResp("resp_ok_error_empty_message", "Error reply with msg_len 0: payload is exactly 18 bytes.",
		"error reply with empty message", newErrResp(5, statusServerError, errInternal, ""), true))

	add(okErrResp("resp_ok_error_unknown_code_42",
		"Error code 42 is unknown to this client: decoded as is; the client goes by status 500.",
		"unknown error code 42 accepted", newErrResp(5, statusServerError, 42, "something new went wrong"), true))

	add(okErrResp("resp_ok_error_code_0",
		"Error code 0 (\"none\", never sent): a decoder accepts any code (SPEC section 6).",
		"error code 0 accepted", newErrResp(5, statusBadRequest, 0, "no code"), true))

	add(okErrResp("resp_ok_error_utf8_message", "Message with multi-byte UTF-8; msg_len counts bytes.",
		"error message with multi-byte UTF-8",
		newErrResp(5, statusBadRequest, errInvalidPrompt, "prompt \u00ab\u732b\u00bb refused \u2014 \U0001F680"), true))

	add(okErrResp("resp_ok_error_message_300",
		"A 300-byte message: the format allows up to 65535 (this daemon sends at most 255,\nbut a decoder must take what another daemon sends).",
		"error message longer than 255 bytes", newErrResp(5, statusServerError, errGPU, repeatTo("GPU error; ", 300)), true))

	e := newErrResp(5, statusBadRequest, errInvalidSteps, "steps 0 is outside 1..100")
	e.Trailing = []byte{0x00, 0x01, 0x02}
	add(okErrResp("resp_ok_error_trailing",
		"3 bytes after the message (newer fields): ignored. Roundtrip no.",
		"bytes after the error message ignored", e, false))

	add(okStatusResp("resp_ok_status",
		"Status response: backend \"procedural\", daemon_version \"0.1.0\", versions 1..1.",
		"status response", newStatusResp(), true))

	s := newStatusResp()
	s.Backend, s.DaemonVersion = "", ""
	add(okStatusResp("resp_ok_status_empty_strings", "Both strings empty: the payload is exactly 48 bytes.",
		"status response with empty strings", s, true))

	s = newStatusResp()
	s.RequestID, s.UptimeMS, s.RequestsServed = 0x0102030405060708, 0x1112131415161718, 0xFFFFFFFFFFFFFFFF
	s.ConnsOpen, s.MaxConns, s.QueueDepth = 0x21222324, 0xFFFFFFFF, 0x31323334
	s.VersionMin, s.VersionMax = 1, 3
	add(okStatusResp("resp_ok_status_large_counters",
		"Distinct bytes in every counter and version_max 3: catches swapped or misplaced fields.",
		"status response with large counters", s, true))

	s = newStatusResp()
	s.Backend = strings.Repeat("b", 255)
	add(okStatusResp("resp_ok_status_backend_255", "backend at the 255-byte limit.",
		"status response with 255-byte backend", s, true))

	s = newStatusResp()
	s.Trailing = []byte{0xFE, 0xED}
	add(okStatusResp("resp_ok_status_trailing", "2 bytes after daemon_version (newer fields): ignored. Roundtrip no.",
		"status response trailing bytes ignored", s, false))

	return vs
}

func responseErrorVectors() []vector {
	var vs []vector
	add := func(v vector) { vs = append(vs, v) }
	bad := func(name, comment, desc string, m *msg) {
		add(errRespVec(name, comment, desc, m, errMalformed))
	}
	base := func() genResp { return newGenResp(2, 2, 3, pixels2x2RGB()) }

	// Header.
	r := base()
	r.Header.Magic = 0x57455646
	add(errRespVec("resp_err_magic", "Generate response with magic \"WEVF\": error 1.",
		"response with invalid magic", r.Msg(), errInvalidMagic))

	e := newErrResp(5, statusBadRequest, errInvalidSteps, "steps")
	e.Header.Magic = 0
	add(errRespVec("resp_err_magic_error_reply", "Error reply with magic 0: error 1 (the header is checked for every type).",
		"error reply with invalid magic", e.Msg(), errInvalidMagic))

	for _, ver := range []uint16{0, 2} {
		r = base()
		r.Header.Version = ver
		add(errRespVec(fmt.Sprintf("resp_err_version_%d", ver),
			fmt.Sprintf("Generate response with version %d: this client speaks 1 only: error 2.", ver),
			fmt.Sprintf("response with unsupported version %d", ver), r.Msg(), errUnsupportedVersion))
	}

	for _, plen := range []uint32{maxPayloadLen + 1, 0xFFFFFFFF} {
		h := defHdr(typeGenerateResponse)
		h.PayloadLen = int64(plen)
		add(errRespVec(fmt.Sprintf("resp_err_too_large_%d", plen),
			fmt.Sprintf("Header only, payload_len %d > 10485744: error 13 before anything is read\nor allocated.", plen),
			fmt.Sprintf("response payload_len %d over the limit", plen), frame(h, &msg{}), errTooLarge))
	}

	h := defHdr(typeGenerateResponse)
	h.PayloadLen = maxPayloadLen
	bad("resp_trunc_payload_len_at_limit",
		"Header only, payload_len exactly 10485744 (allowed): not 13; the payload is\nmissing: error 11.",
		"response payload_len at the limit, then truncated", frame(h, &msg{}))

	req := exampleReq()
	add(errRespVec("resp_err_type_0001_generate_request",
		"The worked example request sent to the client: type 0x0001 is not a response: error 12.",
		"generate request sent to the response decoder", req.Msg(), errUnknownType))

	sr := statusReq{Header: defHdr(typeStatusRequest), RequestID: 9}
	add(errRespVec("resp_err_type_0003_status_request", "A status request sent to the client: error 12.",
		"status request sent to the response decoder", sr.Msg(), errUnknownType))

	for _, t := range []uint16{0x0000, 0x1234} {
		p := &msg{}
		p.U64("request_id", 5)
		add(errRespVec(fmt.Sprintf("resp_err_type_%04x", t),
			fmt.Sprintf("msg_type 0x%04X with an 8-byte payload: unknown to the client: error 12.", t),
			fmt.Sprintf("unknown response type 0x%04X", t), frame(defHdr(t), p), errUnknownType))
	}

	h = defHdr(0x1234)
	h.Version = 2
	add(errRespVec("resp_order_version_before_type", "Version 2 and msg_type 0x1234: version first: error 2.",
		"response version checked before type", frame(h, &msg{}), errUnsupportedVersion))

	// Stream truncation of the 2x2 response (68 bytes, payload 52).
	full := base().Msg()
	if full.Size() != 68 {
		panic("2x2 response is not 68 bytes")
	}
	for _, n := range []int{0, 4, 6, 8, 12, 16, 24, 28, 32, 36, 40, 44, 48, 54, 60, 64, 67} {
		what := fmt.Sprintf("payload %d of 52", n-headerSize)
		if n < headerSize {
			what = "inside the header"
		}
		bad(fmt.Sprintf("resp_trunc_generate_at_%03d", n),
			fmt.Sprintf("The 68-byte 2x2 response cut to %d bytes (%s); the header still\nclaims 52: error 11.", n, what),
			fmt.Sprintf("generate response truncated to %d of 68 bytes", n), full.Cut(n))
	}

	// Consistent framing, payload shorter than the fixed part.
	for _, n := range []int{0, 8, 12, 16, 20, 24, 28, 31} {
		bad(fmt.Sprintf("resp_err_generate_payload_%d", n),
			fmt.Sprintf("Generate response whose payload_len is %d (< 32), all bytes present: error 11.", n),
			fmt.Sprintf("generate response payload of %d bytes", n), frame(defHdr(typeGenerateResponse), base().Payload().Cut(n)))
	}

	r = base()
	r.HasSeed = false
	r.Image = r.Image[:6]
	r.ImageDataLen = 12
	bad("resp_err_image_short",
		"image_data_len 12 (= 2*2*3) but the payload holds only 6 pixel bytes\n(payload_len 38 < 32 + 12): error 11.",
		"payload shorter than 32 + image_data_len", r.Msg())

	r = newGenResp(2048, 2048, 3, nil)
	r.HasSeed = false
	r.ImageDataLen = 2048 * 2048 * 3
	bad("resp_err_image_len_past_payload",
		"2048x2048 RGB with the correct image_data_len 12582912 but a 32-byte payload: error 11.",
		"image_data_len past the payload", r.Msg())

	for _, n := range []int{11, 13, 0} {
		r = base()
		r.Image = pattern(n)
		bad(fmt.Sprintf("resp_err_image_len_%d_not_12", n),
			fmt.Sprintf("2x2 RGB with image_data_len %d (and %d pixel bytes) instead of 12: error 11.", n, n),
			fmt.Sprintf("image_data_len %d != width*height*channels 12", n), r.Msg())
	}

	for _, c := range []uint32{0, 1, 2, 5} {
		r = newGenResp(2, 2, c, pattern(int(4*c)))
		bad(fmt.Sprintf("resp_err_channels_%d", c),
			fmt.Sprintf("channels %d (only 3 and 4 exist), image_data_len consistent (%d): error 11.", c, 4*c),
			fmt.Sprintf("channels %d", c), r.Msg())
	}

	r = newGenResp(0, 2, 3, nil)
	bad("resp_err_width_0", "width 0 (image_data_len 0 = 0*2*3, consistent): error 11.", "image width 0", r.Msg())
	r = newGenResp(2, 0, 3, nil)
	bad("resp_err_height_0", "height 0 (image_data_len 0, consistent): error 11.", "image height 0", r.Msg())

	for _, st := range []uint32{500, 400, 0, 201} {
		r = base()
		r.Status = st
		bad(fmt.Sprintf("resp_err_generate_status_%d", st),
			fmt.Sprintf("Generate response with status %d (must be 200): error 11.", st),
			fmt.Sprintf("generate response status %d", st), r.Msg())
	}

	// Overflow traps in width*height*channels.
	ovf := []struct {
		name    string
		w, h, c uint32
		n       uint32
		why     string
	}{
		{"65536x65536_rgb", 0x10000, 0x10000, 3, 0, "65536*65536*3 = 3*2^32 wraps to 0 in 32 bits"},
		{"ffffffff_squared_rgb", 0xFFFFFFFF, 0xFFFFFFFF, 3, 3, "0xFFFFFFFF^2*3 wraps to 3 in 32 bits"},
		{"ffffffff_squared_rgba", 0xFFFFFFFF, 0xFFFFFFFF, 4, 4, "0xFFFFFFFF^2*4 wraps to 4 in 32 bits"},
		{"2p31_squared_rgba", 0x80000000, 0x80000000, 4, 0, "2^31*2^31*4 = 2^64 wraps to 0 even in 64 bits"},
	}
	for _, o := range ovf {
		if uint32(uint64(o.w)*uint64(o.h)*uint64(o.c)) != o.n {
			panic("overflow vector " + o.name + ": wrong wrapped length")
		}
		r = newGenResp(o.w, o.h, o.c, pattern(int(o.n)))
		r.HasSeed = false
		bad("resp_err_dims_overflow_"+o.name,
			fmt.Sprintf("width 0x%X height 0x%X channels %d, image_data_len %d with %d pixel bytes:\n%s; the true product does not fit a u32: error 11.", o.w, o.h, o.c, o.n, o.n, o.why),
			"width*height*channels overflow: "+o.why, r.Msg())
	}

	r = newGenResp(0x3FFFFFFC, 1, 4, nil)
	r.HasSeed = false
	r.ImageDataLen = 0xFFFFFFF0
	r.Trailing = pattern(16)
	bad("resp_err_image_len_plus_32_wraps",
		"1073741820x1x4: image_data_len 0xFFFFFFF0 is the correct product, but 32 + it wraps to\n16 in 32 bits; the 48-byte payload is far too short: error 11.",
		"32 + image_data_len wraps in 32 bits", r.Msg())

	// Error replies.
	e = newErrResp(5, statusBadRequest, errInvalidSteps, "123456789")
	e.MsgLen = 10
	bad("resp_err_error_msg_len_past_payload", "msg_len 10 with 9 message bytes: runs one byte past the payload: error 11.",
		"error msg_len past the payload", e.Msg())

	e = newErrResp(5, statusBadRequest, errInvalidSteps, "short")
	e.MsgLen = 0xFFFF
	bad("resp_err_error_msg_len_ffff", "msg_len 65535 with 5 message bytes: error 11.",
		"error msg_len 65535 past the payload", e.Msg())

	for _, n := range []int{17, 8, 0} {
		e = newErrResp(5, statusBadRequest, errInvalidSteps, "")
		bad(fmt.Sprintf("resp_err_error_payload_%d", n),
			fmt.Sprintf("Error reply whose payload_len is %d (< 18), all bytes present: error 11.", n),
			fmt.Sprintf("error payload of %d bytes", n), frame(defHdr(typeError), e.Payload().Cut(n)))
	}

	e = newErrResp(5, statusBadRequest, errInvalidSteps, "boom")
	for _, n := range []int{24, 34, 37} {
		bad(fmt.Sprintf("resp_trunc_error_at_%03d", n),
			fmt.Sprintf("The 38-byte error reply cut to %d bytes; the header still claims 22: error 11.", n),
			fmt.Sprintf("error reply truncated to %d of 38 bytes", n), e.Msg().Cut(n))
	}

	// Status responses.
	s := newStatusResp()
	s.Backend, s.DaemonVersion = "", ""
	for _, n := range []int{47, 8, 0} {
		bad(fmt.Sprintf("resp_err_status_payload_%d", n),
			fmt.Sprintf("Status response whose payload_len is %d (< 48), all bytes present: error 11.", n),
			fmt.Sprintf("status response payload of %d bytes", n), frame(defHdr(typeStatusResponse), s.Payload().Cut(n)))
	}

	s = newStatusResp()
	s.BackendLen = 20
	bad("resp_err_status_backend_len_past_end",
		"backend_len 20 but only 10 backend bytes, then daemon_version: runs past the payload: error 11.",
		"status backend_len past the payload", s.Msg())

	s = newStatusResp()
	s.DaemonVersionLen = 6
	bad("resp_err_status_daemon_version_len_past_end",
		"daemon_version_len 6 with 5 bytes left: runs one byte past the payload: error 11.",
		"status daemon_version_len past the payload", s.Msg())

	s = newStatusResp()
	s.Backend, s.DaemonVersion = "", ""
	s.BackendLen = 0xFFFF
	bad("resp_err_status_backend_len_ffff",
		"48-byte payload with backend_len 65535: error 11.",
		"status backend_len 65535 past the payload", s.Msg())

	s = newStatusResp()
	s.Status = 500
	bad("resp_err_status_500", "Status response with status 500 (must be 200): error 11.",
		"status response status 500", s.Msg())

	s = newStatusResp()
	full = s.Msg()
	for _, n := range []int{24, 62, full.Size() - 1} {
		bad(fmt.Sprintf("resp_trunc_status_at_%03d", n),
			fmt.Sprintf("The %d-byte status response cut to %d bytes; the header still claims %d:\nerror 11.", full.Size(), n, full.Size()-headerSize),
			fmt.Sprintf("status response truncated to %d of %d bytes", n, full.Size()), full.Cut(n))
	}

	return vs
}
