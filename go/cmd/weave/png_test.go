package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/weave-app/weave/go/internal/fakedaemon"
)

// requireExact decodes p with image/png (which checks every chunk's CRC
// and the zlib stream's Adler-32) and requires exactly img's pixels.
func requireExact(t *testing.T, p []byte, img *rawImage, what string) {
	t.Helper()
	got, err := png.Decode(bytes.NewReader(p))
	require.NoError(t, err, what)
	require.Equal(t, image.Rect(0, 0, img.w, img.h), got.Bounds(), what)
	var pix []byte
	switch g := got.(type) {
	case *image.RGBA: // color type 2: opaque
		require.Equal(t, 3, img.ch, what)
		pix = g.Pix
	case *image.NRGBA: // color type 6
		require.Equal(t, 4, img.ch, what)
		require.Equal(t, img.pix, g.Pix, what)
		return
	default:
		t.Fatalf("%s: decoded as %T", what, got)
	}
	for i := 0; i < img.w*img.h; i++ {
		if pix[4*i] != img.pix[3*i] || pix[4*i+1] != img.pix[3*i+1] || pix[4*i+2] != img.pix[3*i+2] || pix[4*i+3] != 0xff {
			t.Fatalf("%s: pixel %d = %v, want %v", what, i, pix[4*i:4*i+4], img.pix[3*i:3*i+3])
		}
	}
}

// Images that stress the fast coder: noise (every byte value, long and
// short codes), a constant image (two symbols: the filtered zero and the
// filter type byte, plus end-of-block), steep skew (a code that must be
// limited to litBits), tiny and wide images, one band and many, rows
// spanning several blocks, RGB and RGBA; at every level.
func TestPNGLevelsDecodeExactly(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	noise := func(n int) []byte {
		b := make([]byte, n)
		rnd.Read(b)
		return b
	}
	skew := func(n int) []byte {
		// Value v with probability about 2^-v (after the Sub filter too:
		// each byte differs from its left neighbour by a skewed amount).
		b := make([]byte, n)
		acc := byte(0)
		for i := range b {
			v := byte(0)
			for v < 40 && rnd.Intn(2) == 0 {
				v++
			}
			acc += v
			b[i] = acc
		}
		return b
	}
	cases := []struct {
		name    string
		w, h, c int
		pix     func(n int) []byte
	}{
		{"1x1 RGB", 1, 1, 3, noise},
		{"3x2 RGBA", 3, 2, 4, noise},
		{"noise 512x512 RGB", 512, 512, 3, noise},
		{"noise 300x700 RGBA", 300, 700, 4, noise},
		{"constant 1024x256 RGB", 1024, 256, 3, func(n int) []byte { return bytes.Repeat([]byte{7}, n) }},
		{"skew 640x640 RGB", 640, 640, 3, skew},
		{"wide 2048x40 RGBA", 2048, 40, 4, noise},
		{"procedural 1856x1856 RGB", 1856, 1856, 3, func(n int) []byte { return fakedaemon.Pixels(1856, 1856, 9) }},
	}
	for _, tc := range cases {
		img := &rawImage{w: tc.w, h: tc.h, ch: tc.c, pix: tc.pix(tc.w * tc.h * tc.c)}
		for _, level := range []pngCompression{pngFast, pngDefault, pngBest} {
			if level == pngBest && tc.w*tc.h > 1<<20 {
				continue // slow, and no different from default here
			}
			var buf bytes.Buffer
			require.NoError(t, encodePNG(context.Background(), &buf, img, level))
			requireExact(t, buf.Bytes(), img, tc.name+"/"+level.String())
		}
	}
}

// The fast coder's result must not depend on how many workers share the
// bands.
func TestFastPNGBandsAnyWorkers(t *testing.T) {
	img := &rawImage{w: 1024, h: 1024, ch: 3, pix: fakedaemon.Pixels(1024, 1024, 5)}
	old := bandsPerWorker
	defer func() { bandsPerWorker = old }()
	for _, k := range []int{1, 3, 16} {
		bandsPerWorker = k
		var buf bytes.Buffer
		require.NoError(t, encodePNG(context.Background(), &buf, img, pngFast))
		requireExact(t, buf.Bytes(), img, "bands per worker")
		// Huffman coding halves the procedural images; far from a stored
		// (uncompressed) stream.
		assert.Less(t, buf.Len(), len(img.pix)*6/10)
	}
}

// The fast level's code comes from a sample of the rows: an image whose
// rows repeat with a period that divides the sampling step must still get
// a code fitted to all of its rows, and bytes the sample never saw must
// still code. Here one row in 8 is noise and the rest constant: a code
// from the noise rows alone would cost 8 bits a byte (~100 %), one from
// all rows about 1/8 * 100 % + 7/8 * 1 bit.
func TestFastPNGSampledCode(t *testing.T) {
	const w, h = 1024, 512
	rnd := rand.New(rand.NewSource(2))
	pix := make([]byte, w*h*3)
	for y := 0; y < h; y += 8 {
		rnd.Read(pix[y*w*3 : (y+1)*w*3])
	}
	img := &rawImage{w: w, h: h, ch: 3, pix: pix}
	var buf bytes.Buffer
	require.NoError(t, encodePNG(context.Background(), &buf, img, pngFast))
	requireExact(t, buf.Bytes(), img, "period 8")
	assert.Less(t, buf.Len(), len(pix)*35/100)
}

// huffmanLengths gives a complete prefix code (Kraft sum exactly 1, as
// inflaters require) within the length limit, also for frequencies whose
// optimal code is much deeper.
func TestHuffmanLengths(t *testing.T) {
	fib := make([]uint32, 257)
	a, b := uint32(1), uint32(1)
	for i := range fib {
		fib[i] = a
		a, b = b, a+b
		if a > 1<<30 {
			a, b = 1, 1
		}
	}
	rnd := rand.New(rand.NewSource(2))
	random := make([]uint32, 257)
	for i := range random {
		if rnd.Intn(3) > 0 {
			random[i] = uint32(rnd.Intn(100000))
		}
	}
	random[eob] = 1
	for _, tc := range []struct {
		name    string
		freq    []uint32
		maxBits int
	}{
		{"fibonacci", fib, litBits},
		{"fibonacci 7", fib[:19], 7},
		{"two", []uint32{5, 0, 1}, litBits},
		{"random", random, litBits},
		{"uniform", nil, litBits},
	} {
		if len(tc.freq) == 0 {
			tc.freq = make([]uint32, 257)
			for i := range tc.freq {
				tc.freq[i] = 9
			}
		}
		lens := make([]uint8, len(tc.freq))
		huffmanLengths(tc.freq, tc.maxBits, lens)
		var kraft uint64 // in units of 2^-maxBits
		for s, l := range lens {
			if tc.freq[s] == 0 {
				assert.Zero(t, l, "%s: unused symbol %d", tc.name, s)
				continue
			}
			require.NotZero(t, l, "%s: used symbol %d", tc.name, s)
			require.LessOrEqual(t, int(l), tc.maxBits, tc.name)
			kraft += 1 << uint(tc.maxBits-int(l))
		}
		assert.Equal(t, uint64(1)<<uint(tc.maxBits), kraft, "%s: complete code", tc.name)
	}
}

// --fsync is accepted and documented; the file is the same.
func TestGenerateFsync(t *testing.T) {
	e := newTestEnv(t)
	e.startFake(t, nil)
	r := e.run(t, "generate", "x", "--width", "64", "--height", "64", "-o", "x.png", "--fsync")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	requireRGB(t, decodePNG(t, filepath.Join(e.work, "x.png")), 64, 64, fakedaemon.Pixels(64, 64, fakedaemon.DefaultSeed))
	o, err := parseGenerateArgs([]string{"x", "--fsync"})
	require.NoError(t, err)
	assert.True(t, o.fsync)
	o, err = parseGenerateArgs([]string{"x"})
	require.NoError(t, err)
	assert.False(t, o.fsync, "no fsync by default")
	assert.Contains(t, generateUsage, "--fsync")
}

// WEAVE_DEBUG_TIMING prints where the time went, on stderr only.
func TestGenerateDebugTiming(t *testing.T) {
	e := newTestEnv(t)
	e.startFake(t, nil)
	e.vars["WEAVE_DEBUG_TIMING"] = "1"
	r := e.run(t, "generate", "x", "--width", "64", "--height", "64", "-o", "x.png")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.True(t, strings.HasPrefix(r.stderr, "weave: timing: args "), r.stderr)
	for _, part := range []string{"dial+request+reply", "encode", "write", "fsync", "close+rename", "total since main"} {
		assert.Contains(t, r.stderr, part)
	}
	assert.NotContains(t, r.stdout, "timing")
}

// BenchmarkEncodePNG times the PNG encoders on a 1024x1024 RGB image:
// go test ./go/cmd/weave -run - -bench EncodePNG.
func BenchmarkEncodePNG(b *testing.B) {
	const w, h = 1024, 1024
	img := &rawImage{w: w, h: h, ch: 3, pix: fakedaemon.Pixels(w, h, 1)}
	for _, level := range []pngCompression{pngFast, pngDefault} {
		level := level
		b.Run(level.String(), func(b *testing.B) {
			b.SetBytes(w * h * 3)
			for i := 0; i < b.N; i++ {
				if err := encodePNG(context.Background(), io.Discard, img, level); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
