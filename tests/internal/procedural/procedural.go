// Package procedural is an independent Go reference of weave-compute's
// "procedural" backend, written from docs/BACKEND.md (algorithm version 1)
// without looking at the C code, so integration tests can check the daemon's
// pixels byte for byte.
package procedural

import "encoding/binary"

// Params are the inputs of one render, as the request carries them.
type Params struct {
	Width, Height uint32
	Steps         uint32
	CFGBits       uint32 // IEEE 754 bit pattern of cfg_scale, as on the wire
	Seed          uint64 // the seed actually used (never 0)
	ClipL         []byte
	ClipG         []byte
	T5            []byte
}

const (
	fnvOffset = 0xcbf29ce484222325
	fnvPrime  = 0x100000001b3
)

// FNV1a64 is FNV-1a 64 over b, continuing from h (start with FNVOffset).
func FNV1a64(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// FNVOffset is the FNV-1a 64 offset basis.
const FNVOffset uint64 = fnvOffset

// SplitMix64 is a splitmix64 generator.
type SplitMix64 struct{ S uint64 }

// Next returns the next output and advances the state.
func (g *SplitMix64) Next() uint64 {
	g.S += 0x9e3779b97f4a7c15
	z := g.S
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// tri is the triangle wave of period 512, range 0..255.
func tri(v int64) int64 {
	u := v & 511 // two's complement low 9 bits: v mod 512, non-negative
	if u < 256 {
		return u
	}
	return 511 - u
}

// PromptHash is step 1: FNV-1a 64 over the length-prefixed prompts.
func PromptHash(p *Params) uint64 {
	h := FNVOffset
	var l [4]byte
	for _, s := range [][]byte{p.ClipL, p.ClipG, p.T5} {
		binary.BigEndian.PutUint32(l[:], uint32(len(s)))
		h = FNV1a64(h, l[:])
		h = FNV1a64(h, s)
	}
	return h
}

// imageKey is step 2.
func imageKey(p *Params, ph uint64) uint64 {
	var b [32]byte
	binary.BigEndian.PutUint64(b[0:], ph)
	binary.BigEndian.PutUint64(b[8:], p.Seed)
	binary.BigEndian.PutUint32(b[16:], p.Width)
	binary.BigEndian.PutUint32(b[20:], p.Height)
	binary.BigEndian.PutUint32(b[24:], p.Steps)
	binary.BigEndian.PutUint32(b[28:], p.CFGBits)
	return FNV1a64(FNVOffset, b[:])
}

// Render returns the width*height*3 RGB bytes the backend produces.
func Render(p *Params) []byte {
	ph := PromptHash(p)
	key := imageKey(p, ph)

	// Step 3: palette from P.
	var mul, off [3]int64
	g := SplitMix64{S: ph}
	for c := 0; c < 3; c++ {
		r := g.Next()
		mul[c] = 1 + int64(r&3)
		off[c] = int64((r >> 8) & 511)
	}
	var palette [256][3]byte
	for t := int64(0); t < 256; t++ {
		for c := 0; c < 3; c++ {
			palette[t][c] = byte(tri(t*mul[c] + off[c]))
		}
	}

	// Step 4: geometry from K.
	g = SplitMix64{S: key}
	var fx, fy, phs [3]int64
	for i := 0; i < 3; i++ {
		r := g.Next()
		fx[i] = int64(r&7) - 3
		fy[i] = int64((r>>4)&7) - 3
		phs[i] = int64((r >> 8) & 511)
	}
	r := g.Next()
	w, h := int64(p.Width), int64(p.Height)
	cx := int64(r&0xFFFF) % w
	cy := int64((r>>16)&0xFFFF) % h
	rs := 6 + uint((r>>32)&3)
	rp := int64((r >> 40) & 511)

	// Step 5: pixels.
	out := make([]byte, 0, w*h*3)
	for y := int64(0); y < h; y++ {
		for x := int64(0); x < w; x++ {
			a := tri(fx[0]*x+fy[0]*y+phs[0]) +
				tri(fx[1]*x+fy[1]*y+phs[1]) +
				tri(fx[2]*x+fy[2]*y+phs[2])
			dx, dy := x-cx, y-cy
			b := tri(((dx*dx + dy*dy) >> rs) + rp)
			t := (a + b) >> 2
			out = append(out, palette[t][0], palette[t][1], palette[t][2])
		}
	}
	return out
}
