package main

// An independent, deliberately plain reading of proto_spec/SPEC.md, used only
// to cross-check the expectations written into the vectors: every vector's
// result, error code, echoed request_id and decoded fields must agree with
// it, and roundtrip: yes/no must agree with a canonical re-encoding. It
// shares no code with the generator's layout helpers.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/weave-app/weave/go/protocol/vecfile"
)

type refOut struct {
	ok     bool
	code   uint32
	id     uint64 // request decoder errors
	typ    string
	fields map[string]string
}

func refErr(code uint32, id uint64) refOut { return refOut{code: code, id: id} }

func u(v uint64) string { return strconv.FormatUint(v, 10) }

var be = binary.BigEndian

const refMaxPayload = 10485760 - 16

// refFrame runs the header checks shared by both decoders; the decoder
// serves versions vmin..vmax, and accepts says which types a version has.
func refFrame(b []byte, vmin, vmax uint16, accepts func(version, msgType uint16) bool) (payload []byte, version, msgType uint16, res *refOut) {
	if len(b) < 16 {
		r := refErr(11, 0)
		return nil, 0, 0, &r
	}
	if be.Uint32(b[0:]) != 0x57455645 {
		r := refErr(1, 0)
		return nil, 0, 0, &r
	}
	version = be.Uint16(b[4:])
	if version < vmin || version > vmax {
		r := refErr(2, 0)
		return nil, 0, 0, &r
	}
	msgType = be.Uint16(b[6:])
	plen := be.Uint32(b[8:])
	if plen > refMaxPayload {
		r := refErr(13, 0)
		return nil, 0, 0, &r
	}
	have := len(b) - 16
	var id uint64
	if plen >= 8 && have >= 8 {
		id = be.Uint64(b[16:])
	}
	if !accepts(version, msgType) {
		r := refErr(12, id)
		return nil, 0, 0, &r
	}
	if uint64(have) < uint64(plen) {
		r := refErr(11, id)
		return nil, 0, 0, &r
	}
	return b[16 : 16+int(plen)], version, msgType, nil
}

func refDecodeRequest(b []byte, vmin, vmax uint16) refOut {
	p, version, t, res := refFrame(b, vmin, vmax, func(ver, t uint16) bool { return t == 1 || t == 3 || (ver == 2 && t == 5) })
	if res != nil {
		return *res
	}
	if t == 5 {
		return refDecodeOptions(p, version)
	}
	if t == 3 {
		if len(p) < 8 {
			return refErr(11, 0)
		}
		return refOut{ok: true, typ: "status_request", fields: map[string]string{
			"version": u(uint64(version)), "request_id": u(be.Uint64(p)),
		}}
	}
	if len(p) < 60 {
		var id uint64
		if len(p) >= 8 {
			id = be.Uint64(p)
		}
		return refErr(11, id)
	}
	return refGenerate(p, version, true)
}

// refGenerate checks a section 4 payload (at least 60 bytes); replyRule
// says whether the reply-size rule applies.
func refGenerate(p []byte, version uint16, replyRule bool) refOut {
	id := be.Uint64(p[0:])
	model, w, h, steps := be.Uint32(p[8:]), be.Uint32(p[12:]), be.Uint32(p[16:]), be.Uint32(p[20:])
	cfgBits := be.Uint32(p[24:])
	seed := be.Uint64(p[28:])
	if model != 0 {
		return refErr(3, id)
	}
	side := func(v uint32) bool { return v >= 64 && v <= 2048 && v%64 == 0 }
	if !side(w) || !side(h) {
		return refErr(5, id)
	}
	if steps < 1 || steps > 100 {
		return refErr(6, id)
	}
	cfg := float64(math.Float32frombits(cfgBits))
	if math.IsNaN(cfg) || math.IsInf(cfg, 0) || cfg < 0 || cfg > 20 {
		return refErr(7, id)
	}
	data := p[60:]
	var prompts [3][]byte
	for i := 0; i < 3; i++ {
		off := uint64(be.Uint32(p[36+8*i:]))
		n := uint64(be.Uint32(p[40+8*i:]))
		if n < 1 || n > 2048 || off+n > uint64(len(data)) {
			return refErr(4, id)
		}
		prompts[i] = data[off : off+n]
		if !utf8.Valid(prompts[i]) {
			return refErr(4, id)
		}
	}
	if replyRule && 16+32+uint64(w)*uint64(h)*3+8 > 10485760 {
		return refErr(5, id)
	}
	return refOut{ok: true, typ: "generate_request", fields: map[string]string{
		"version": u(uint64(version)), "request_id": u(id), "model_id": u(uint64(model)),
		"width": u(uint64(w)), "height": u(uint64(h)), "steps": u(uint64(steps)),
		"cfg_bits": u(uint64(cfgBits)), "seed": u(seed),
		"clip_l_hex": hex.EncodeToString(prompts[0]),
		"clip_g_hex": hex.EncodeToString(prompts[1]),
		"t5_hex":     hex.EncodeToString(prompts[2]),
	}}
}

func refDecodeResponse(b []byte, vmin, vmax uint16) refOut {
	p, version, t, res := refFrame(b, vmin, vmax, func(ver, t uint16) bool {
		return t == 2 || t == 4 || t == 0xFF || (ver == 2 && (t == 6 || t == 0x10 || t == 0x11 || t == 0x12))
	})
	if res != nil {
		res.id = 0
		return *res
	}
	bad := refErr(11, 0)
	ver := u(uint64(version))
	switch t {
	case 6, 0x10, 0x11, 0x12:
		return refDecodeV2Response(p, version, t)
	case 2:
		if len(p) < 32 {
			return bad
		}
		status, w, h, c, n := be.Uint32(p[8:]), be.Uint32(p[16:]), be.Uint32(p[20:]), be.Uint32(p[24:]), be.Uint32(p[28:])
		if status != 200 || w == 0 || h == 0 || (c != 3 && c != 4) {
			return bad
		}
		hi, lo := bits.Mul64(uint64(w)*uint64(h), uint64(c))
		if hi != 0 || lo != uint64(n) {
			return bad
		}
		if uint64(len(p))-32 < uint64(n) {
			return bad
		}
		seed := "none"
		if uint64(len(p))-32-uint64(n) >= 8 {
			seed = u(be.Uint64(p[32+int(n):]))
		}
		return refOut{ok: true, typ: "generate_response", fields: map[string]string{
			"version": ver, "request_id": u(be.Uint64(p)), "status": u(uint64(status)),
			"generation_time_ms": u(uint64(be.Uint32(p[12:]))), "width": u(uint64(w)),
			"height": u(uint64(h)), "channels": u(uint64(c)),
			"image_hex": hex.EncodeToString(p[32 : 32+int(n)]), "seed": seed,
		}}
	case 4:
		if len(p) < 48 || be.Uint32(p[8:]) != 200 {
			return bad
		}
		bl := int(be.Uint16(p[44:]))
		if 46+bl+2 > len(p) {
			return bad
		}
		dl := int(be.Uint16(p[46+bl:]))
		if 48+bl+dl > len(p) {
			return bad
		}
		out := refOut{ok: true, typ: "status_response", fields: map[string]string{
			"version": ver, "request_id": u(be.Uint64(p)), "status": "200",
			"version_min": u(uint64(be.Uint16(p[12:]))), "version_max": u(uint64(be.Uint16(p[14:]))),
			"uptime_ms": u(be.Uint64(p[16:])), "requests_served": u(be.Uint64(p[24:])),
			"connections_open": u(uint64(be.Uint32(p[32:]))), "max_connections": u(uint64(be.Uint32(p[36:]))),
			"queue_depth": u(uint64(be.Uint32(p[40:]))),
			"backend":     string(p[46 : 46+bl]), "daemon_version": string(p[48+bl : 48+bl+dl]),
		}}
		if version == 2 {
			return refStatusV2(p[48+bl+dl:], out)
		}
		return out
	default:
		if len(p) < 18 {
			return bad
		}
		n := int(be.Uint16(p[16:]))
		if n > len(p)-18 {
			return bad
		}
		return refOut{ok: true, typ: "error", fields: map[string]string{
			"version": ver, "request_id": u(be.Uint64(p)), "status": u(uint64(be.Uint32(p[8:]))),
			"code": u(uint64(be.Uint32(p[12:]))), "message": string(p[18 : 18+n]),
		}}
	}
}

// refEncode is the canonical encoding of a decoded value (what an encoder
// writes): header reserved 0, prompts back to back, nothing ignored.
func refEncode(v *vecfile.Vector) ([]byte, error) {
	num := func(k string) uint64 {
		n, err := v.Uint(k)
		if err != nil {
			panic(err)
		}
		return n
	}
	hx := func(k string) []byte {
		b, err := v.Hex(k)
		if err != nil {
			panic(err)
		}
		return b
	}
	str := func(k string) string {
		s, err := v.String(k)
		if err != nil {
			panic(err)
		}
		return s
	}
	t, p, ok := refPayload(v.Type, num, hx, str, v.Has)
	if !ok {
		return nil, fmt.Errorf("no encoder for %q", v.Type)
	}
	out := be.AppendUint32(nil, 0x57455645)
	out = be.AppendUint16(out, uint16(num("version")))
	out = be.AppendUint16(out, t)
	out = be.AppendUint32(out, uint32(len(p)))
	out = be.AppendUint32(out, 0)
	return append(out, p...), nil
}

// refPayload is the canonical payload of a vector type and its msg_type;
// ok is false for a type it does not know. has says whether the vector
// lists an optional field.
func refPayload(typ string, num func(string) uint64, hx func(string) []byte, str func(string) string, has func(string) bool) (t uint16, p []byte, ok bool) {
	p64 := func(x uint64) { p = be.AppendUint64(p, x) }
	p32 := func(x uint64) { p = be.AppendUint32(p, uint32(x)) }
	p16 := func(x uint64) { p = be.AppendUint16(p, uint16(x)) }
	switch typ {
	case "generate_request":
		t = 1
		l, g, t5 := hx("clip_l_hex"), hx("clip_g_hex"), hx("t5_hex")
		p64(num("request_id"))
		p32(num("model_id"))
		p32(num("width"))
		p32(num("height"))
		p32(num("steps"))
		p32(num("cfg_bits"))
		p64(num("seed"))
		p32(0)
		p32(uint64(len(l)))
		p32(uint64(len(l)))
		p32(uint64(len(g)))
		p32(uint64(len(l) + len(g)))
		p32(uint64(len(t5)))
		p = append(append(append(p, l...), g...), t5...)
	case "status_request":
		t = 3
		p64(num("request_id"))
	case "generate_response":
		t = 2
		img := hx("image_hex")
		p64(num("request_id"))
		p32(num("status"))
		p32(num("generation_time_ms"))
		p32(num("width"))
		p32(num("height"))
		p32(num("channels"))
		p32(uint64(len(img)))
		p = append(p, img...)
		if str("seed") != "none" {
			p64(num("seed"))
		}
	case "status_response":
		t = 4
		p64(num("request_id"))
		p32(num("status"))
		p16(num("version_min"))
		p16(num("version_max"))
		p64(num("uptime_ms"))
		p64(num("requests_served"))
		p32(num("connections_open"))
		p32(num("max_connections"))
		p32(num("queue_depth"))
		p = refStr16(p, str("backend"))
		p = refStr16(p, str("daemon_version"))
	case "error":
		t = 0xFF
		p64(num("request_id"))
		p32(num("status"))
		p32(num("code"))
		p = refStr16(p, str("message"))
	default:
		return refEncodeV2(typ, num, hx, str, has)
	}
	return t, p, true
}

func TestVectorsAgreeWithReferenceDecoder(t *testing.T) {
	for _, v := range loadVectors(t) {
		var got refOut
		if v.Decoder == "request" {
			got = refDecodeRequest(v.Bytes, v.VersionMin, v.VersionMax)
		} else {
			got = refDecodeResponse(v.Bytes, v.VersionMin, v.VersionMax)
		}
		if got.ok != v.OK() {
			t.Errorf("%s: reference decoder ok=%v (code %d), vector says ok=%v", v.Name, got.ok, got.code, v.OK())
			continue
		}
		if !v.OK() {
			if got.code != v.ErrCode {
				t.Errorf("%s: reference decoder error %d, vector says %d", v.Name, got.code, v.ErrCode)
			}
			if v.ErrStatus != statusOf(v.ErrCode) {
				t.Errorf("%s: error.status %d does not go with code %d", v.Name, v.ErrStatus, v.ErrCode)
			}
			if v.HasErrRequestID && got.id != v.ErrRequestID {
				t.Errorf("%s: reference decoder echoes request_id %d, vector says %d", v.Name, got.id, v.ErrRequestID)
			}
			continue
		}
		if got.typ != v.Type {
			t.Errorf("%s: reference decoder type %s, vector says %s", v.Name, got.typ, v.Type)
			continue
		}
		for _, k := range v.FieldNames() {
			want, err := v.String(k)
			if err != nil {
				t.Fatal(err)
			}
			// Integers compare by value (the vector may write 0x...);
			// hex and text fields, and seed "none", as written.
			if n, err := v.Uint(k); err == nil {
				want = u(n)
			}
			g, present := got.fields[k]
			if !present || g != want {
				t.Errorf("%s: field %s: reference decoder %q, vector %q", v.Name, k, g, want)
			}
		}
		// And nothing the vector leaves out (an optional field it does
		// not list is one the decoder must report absent).
		for k, g := range got.fields {
			if !v.Has(k) {
				t.Errorf("%s: reference decoder reads %s %q, the vector does not list it", v.Name, k, g)
			}
		}
		enc, err := refEncode(v)
		if err != nil {
			t.Errorf("%s: %v", v.Name, err)
			continue
		}
		if same := bytes.Equal(enc, v.Bytes); same != v.Roundtrip {
			t.Errorf("%s: canonical re-encoding equal=%v, but roundtrip=%v", v.Name, same, v.Roundtrip)
		}
	}
}

// refStr16 appends s with its u16 length.
func refStr16(p []byte, s string) []byte {
	return append(be.AppendUint16(p, uint16(len(s))), s...)
}
