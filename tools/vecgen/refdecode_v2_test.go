package main

// The reference decoder's reading of SPEC section 11 (version 2).

import (
	"math/bits"
)

// refDecodeOptions checks a 0x0005 payload: 68 bytes before prompt_data,
// section 4's checks on the fields after flags and reserved, the reply-size
// rule only without SHM.
func refDecodeOptions(p []byte, version uint16) refOut {
	if len(p) < 68 {
		var id uint64
		if len(p) >= 8 {
			id = be.Uint64(p)
		}
		return refErr(11, id)
	}
	flags := be.Uint32(p[8:])
	// Section 4's layout: request_id, then everything after reserved.
	v1 := append(append([]byte{}, p[:8]...), p[16:]...)
	out := refGenerate(v1, version, flags&2 == 0)
	if !out.ok {
		return out
	}
	out.typ = "generate_request_options"
	out.fields["flags"] = u(uint64(flags))
	return out
}

func refDecodeV2Response(p []byte, version uint16, t uint16) refOut {
	bad := refErr(11, 0)
	f := map[string]string{"version": u(uint64(version))}
	switch t {
	case 6:
		if len(p) < 44 || be.Uint32(p[8:]) != 200 {
			return bad
		}
		w, h, c, n := be.Uint32(p[16:]), be.Uint32(p[20:]), be.Uint32(p[24:]), be.Uint64(p[28:])
		if w == 0 || h == 0 || (c != 3 && c != 4) {
			return bad
		}
		hi, lo := bits.Mul64(uint64(w)*uint64(h), uint64(c))
		if hi != 0 || lo != n || n > 1<<30 {
			return bad
		}
		f["request_id"], f["status"] = u(be.Uint64(p)), "200"
		f["generation_time_ms"] = u(uint64(be.Uint32(p[12:])))
		f["width"], f["height"], f["channels"] = u(uint64(w)), u(uint64(h)), u(uint64(c))
		f["image_size"], f["seed"] = u(n), u(be.Uint64(p[36:]))
		return refOut{ok: true, typ: "shm_generate_response", fields: f}
	case 0x10:
		if len(p) < 16 {
			return bad
		}
		pos, depth := be.Uint32(p[8:]), be.Uint32(p[12:])
		if pos == 0 || pos > depth {
			return bad
		}
		f["request_id"], f["position"], f["queue_depth"] = u(be.Uint64(p)), u(uint64(pos)), u(uint64(depth))
		return refOut{ok: true, typ: "queued", fields: f}
	case 0x11:
		if len(p) < 20 {
			return bad
		}
		step, steps := be.Uint32(p[8:]), be.Uint32(p[12:])
		if steps == 0 || step == 0 || step > steps {
			return bad
		}
		f["request_id"], f["step"], f["steps"] = u(be.Uint64(p)), u(uint64(step)), u(uint64(steps))
		f["elapsed_ms"] = u(uint64(be.Uint32(p[16:])))
		return refOut{ok: true, typ: "progress", fields: f}
	default: // 0x12
		if len(p) < 16 {
			return bad
		}
		phase := be.Uint32(p[8:])
		if phase != 1 && phase != 2 {
			return bad
		}
		f["request_id"], f["phase"], f["elapsed_ms"] = u(be.Uint64(p)), u(uint64(phase)), u(uint64(be.Uint32(p[12:])))
		return refOut{ok: true, typ: "heartbeat", fields: f}
	}
}

// refStatusV2 reads 11.6's fields from x (the payload after daemon_version)
// into the version-1 reading out: generations and generation_us only when
// at least 16 bytes follow last_crash.
func refStatusV2(x []byte, out refOut) refOut {
	if len(x) < 24 {
		return refErr(11, 0)
	}
	n := int(be.Uint16(x[22:]))
	if n > len(x)-24 {
		return refErr(11, 0)
	}
	out.typ = "status_response_v2"
	out.fields["daemon_pid"] = u(uint64(be.Uint32(x[0:])))
	out.fields["features"] = u(uint64(be.Uint32(x[4:])))
	out.fields["backend_state"] = u(uint64(be.Uint16(x[8:])))
	out.fields["worker_pid"] = u(uint64(be.Uint32(x[10:])))
	out.fields["worker_restarts"] = u(uint64(be.Uint32(x[14:])))
	out.fields["jobs_running"] = u(uint64(be.Uint32(x[18:])))
	out.fields["last_crash"] = string(x[24 : 24+n])
	if y := x[24+n:]; len(y) >= 16 {
		out.fields["generations"] = u(be.Uint64(y[0:]))
		out.fields["generation_us"] = u(be.Uint64(y[8:]))
	}
	return out
}

// refEncodeV2 is refPayload for the version-2 types; 0x0005 and the
// version-2 status response are built on the version-1 payloads they
// extend.
func refEncodeV2(typ string, num func(string) uint64, hx func(string) []byte, str func(string) string, has func(string) bool) (uint16, []byte, bool) {
	var p []byte
	p64 := func(x uint64) { p = be.AppendUint64(p, x) }
	p32 := func(x uint64) { p = be.AppendUint32(p, uint32(x)) }
	p16 := func(x uint64) { p = be.AppendUint16(p, uint16(x)) }
	switch typ {
	case "generate_request_options":
		// Section 4's payload with flags and reserved after request_id.
		_, g, _ := refPayload("generate_request", num, hx, str, has)
		p = append(p, g[:8]...)
		p32(num("flags"))
		p32(0)
		return 5, append(p, g[8:]...), true
	case "shm_generate_response":
		p64(num("request_id"))
		for _, k := range []string{"status", "generation_time_ms", "width", "height", "channels"} {
			p32(num(k))
		}
		p64(num("image_size"))
		p64(num("seed"))
		return 6, p, true
	case "queued":
		p64(num("request_id"))
		p32(num("position"))
		p32(num("queue_depth"))
		return 0x10, p, true
	case "progress":
		p64(num("request_id"))
		p32(num("step"))
		p32(num("steps"))
		p32(num("elapsed_ms"))
		return 0x11, p, true
	case "heartbeat":
		p64(num("request_id"))
		p32(num("phase"))
		p32(num("elapsed_ms"))
		return 0x12, p, true
	case "status_response_v2":
		// Section 7's payload, then 11.6's fields, the generations pair
		// only when the vector lists it.
		_, p, _ = refPayload("status_response", num, hx, str, has)
		p32(num("daemon_pid"))
		p32(num("features"))
		p16(num("backend_state"))
		p32(num("worker_pid"))
		p32(num("worker_restarts"))
		p32(num("jobs_running"))
		p = refStr16(p, str("last_crash"))
		if has("generations") {
			p64(num("generations"))
			p64(num("generation_us"))
		}
		return 4, p, true
	}
	return 0, nil, false
}
