package procedural

import (
	"fmt"
	"testing"
)

// The check values and the reference table of docs/BACKEND.md.
func TestPrimitives(t *testing.T) {
	if got := FNV1a64(FNVOffset, nil); got != 0xcbf29ce484222325 {
		t.Errorf("FNV-1a of empty = %#x", got)
	}
	if got := FNV1a64(FNVOffset, []byte("a")); got != 0xaf63dc4c8601ec8c {
		t.Errorf("FNV-1a of \"a\" = %#x", got)
	}
	g := SplitMix64{}
	if got := g.Next(); got != 0xe220a8397b1dcdaf {
		t.Errorf("splitmix64 from 0 = %#x", got)
	}
	for v, want := range map[int64]int64{0: 0, 255: 255, 256: 255, 511: 0, 512: 0, -1: 0, -2: 1, -256: 255, -257: 255} {
		if got := tri(v); got != want {
			t.Errorf("tri(%d) = %d, want %d", v, got, want)
		}
	}
}

func TestReferenceValues(t *testing.T) {
	cases := []struct {
		name              string
		p                 Params
		promptHash, fnv   uint64
		first3, lastPixel string
	}{
		{"example", Params{Width: 512, Height: 512, Steps: 28, CFGBits: 0x40E00000, Seed: 42,
			ClipL: []byte("a cat in space"), ClipG: []byte("a cat in space"), T5: []byte("a cat in space")},
			0xa5a14ca002a9510b, 0x7f1e36aafdd3461f, "4439a8 473da4 473da4", "2f1dc4"},
		{"small", Params{Width: 64, Height: 64, Steps: 1, CFGBits: 0, Seed: 1,
			ClipL: []byte("red"), ClipG: []byte("green"), T5: []byte("blue")},
			0x0c51521f322bc6c7, 0x653328f84d08abab, "17b6cf 0fb8d1 07bad3", "f8faec"},
		{"wide", Params{Width: 128, Height: 64, Steps: 100, CFGBits: 0x41A00000, Seed: 0xFFFFFFFFFFFFFFFF,
			ClipL: []byte{0xc3, 0xbc}, ClipG: []byte{0xc3, 0xbc}, T5: []byte{0xc3, 0xbc}},
			0xa96077e79e55221c, 0x4dd20d17d777c32b, "37fadf 37fadf 39f9db", "11f2d4"},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			if got := PromptHash(&c.p); got != c.promptHash {
				t.Errorf("P = %#x, want %#x", got, c.promptHash)
			}
			px := Render(&c.p)
			if len(px) != int(c.p.Width*c.p.Height*3) {
				t.Fatalf("len %d", len(px))
			}
			if got := FNV1a64(FNVOffset, px); got != c.fnv {
				t.Errorf("FNV-1a of pixels = %#x, want %#x", got, c.fnv)
			}
			if got := fmt.Sprintf("%x %x %x", px[0:3], px[3:6], px[6:9]); got != c.first3 {
				t.Errorf("first pixels %s, want %s", got, c.first3)
			}
			if got := fmt.Sprintf("%x", px[len(px)-3:]); got != c.lastPixel {
				t.Errorf("last pixel %s, want %s", got, c.lastPixel)
			}
		})
	}
}
