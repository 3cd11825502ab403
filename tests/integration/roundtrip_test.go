package integration_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/weave-app/weave/go/protocol"
	"github.com/weave-app/weave/internal/wire"
	"github.com/weave-app/weave/tests/internal/daemontest"
	"github.com/weave-app/weave/tests/internal/procedural"
)

// TestSameSeedIdentical: the same request twice gives the same pixels; a
// different seed or prompt gives different pixels.
func TestSameSeedIdentical(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	c := d.Client(t)
	gen := func(prompt string, seed uint64) *protocol.GenerateResponse {
		resp, err := c.Generate(daemontest.Context(t), protocol.NewGenerateRequest(0, prompt, 128, 64, 3, 5.5, seed))
		require.NoError(t, err)
		require.True(t, resp.HasSeed)
		require.Equal(t, seed, resp.Seed)
		return resp
	}
	a := gen("a lighthouse at dusk", 123456789)
	b := gen("a lighthouse at dusk", 123456789)
	assert.True(t, bytes.Equal(a.Pixels, b.Pixels), "same seed, same request: pixels differ")
	other := gen("a lighthouse at dusk", 123456790)
	assert.False(t, bytes.Equal(a.Pixels, other.Pixels), "a different seed gave the same image")
	otherPrompt := gen("a lighthouse at dawn", 123456789)
	assert.False(t, bytes.Equal(a.Pixels, otherPrompt.Pixels), "a different prompt gave the same image")

	// And across a daemon restart (no state carried between processes).
	code, err := d.Stop()
	require.NoError(t, err)
	require.Equal(t, 0, code)
	d2 := daemontest.Start(t, daemontest.Options{RuntimeDir: d.RuntimeDir})
	resp, err := d2.Client(t).Generate(daemontest.Context(t), protocol.NewGenerateRequest(0, "a lighthouse at dusk", 128, 64, 3, 5.5, 123456789))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(a.Pixels, resp.Pixels), "same request on a new daemon: pixels differ")
}

// TestSeedZeroPicksAndReports: seed 0 asks the daemon to choose; it reports
// the seed it used (non-zero, different between calls), and asking for that
// seed reproduces the same pixels.
func TestSeedZeroPicksAndReports(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	c := d.Client(t)
	req := protocol.NewGenerateRequest(0, "pick a seed", 64, 128, 2, 7, 0)
	first, err := c.Generate(daemontest.Context(t), req)
	require.NoError(t, err)
	require.True(t, first.HasSeed, "the daemon reports the seed it chose")
	require.NotZero(t, first.Seed)
	second, err := c.Generate(daemontest.Context(t), req)
	require.NoError(t, err)
	require.True(t, second.HasSeed)
	assert.NotEqual(t, first.Seed, second.Seed, "two seed-0 requests got the same seed (not random)")

	again := *req
	again.Seed = first.Seed
	repro, err := c.Generate(daemontest.Context(t), &again)
	require.NoError(t, err)
	assert.Equal(t, first.Seed, repro.Seed)
	assert.True(t, bytes.Equal(first.Pixels, repro.Pixels), "the reported seed does not reproduce the image")
}

// requireSamePixels compares two RGB buffers and reports the first differing
// pixel instead of dumping megabytes.
func requireSamePixels(t *testing.T, want, got []byte, width int) {
	t.Helper()
	require.Equal(t, len(want), len(got), "pixel buffer length")
	if bytes.Equal(want, got) {
		return
	}
	n := 0
	first := -1
	for i := 0; i+2 < len(want); i += 3 {
		if !bytes.Equal(want[i:i+3], got[i:i+3]) {
			if first < 0 {
				first = i / 3
			}
			n++
		}
	}
	t.Fatalf("%d of %d pixels differ; first at x=%d y=%d: want %x, got %x",
		n, len(want)/3, first%width, first/width, want[first*3:first*3+3], got[first*3:first*3+3])
}

// TestRoundTripPixelsMatchReference: generate with fixed seeds through the
// real client and daemon and compare every pixel with the independent Go
// reference of the procedural backend (tests/internal/procedural, written
// from docs/BACKEND.md).
func TestRoundTripPixelsMatchReference(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	c := d.Client(t)
	cases := []struct {
		name string
		req  *protocol.GenerateRequest
	}{
		{"doc example 512x512", protocol.NewGenerateRequest(1, "a cat in space", 512, 512, 28, 7.0, 42)},
		{"doc small, three prompts", &protocol.GenerateRequest{RequestID: 2, Width: 64, Height: 64, Steps: 1,
			CFGScale: 0, Seed: 1, ClipL: "red", ClipG: "green", T5: "blue"}},
		{"doc wide, max seed", protocol.NewGenerateRequest(3, "\u00fc", 128, 64, 100, 20.0, 0xFFFFFFFFFFFFFFFF)},
		{"non-square 192x320", protocol.NewGenerateRequest(4, "a lighthouse at dusk", 192, 320, 12, 3.5, 987654321)},
		{"tall 64x2048", protocol.NewGenerateRequest(5, "tall", 64, 2048, 2, 1.25, 5)},
		{"largest reply 1856x1856", protocol.NewGenerateRequest(6, "the largest square that fits", 1856, 1856, 50, 12.0, 0x0123456789ABCDEF)},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Generate(daemontest.Context(t), tc.req)
			require.NoError(t, err)
			assert.EqualValues(t, tc.req.RequestID, resp.RequestID)
			assert.EqualValues(t, 200, resp.Status)
			require.EqualValues(t, tc.req.Width, resp.Width)
			require.EqualValues(t, tc.req.Height, resp.Height)
			require.EqualValues(t, 3, resp.Channels)
			require.True(t, resp.HasSeed)
			require.Equal(t, tc.req.Seed, resp.Seed, "the requested seed is the one used")
			want := procedural.Render(&procedural.Params{
				Width: tc.req.Width, Height: tc.req.Height, Steps: tc.req.Steps,
				CFGBits: math.Float32bits(tc.req.CFGScale), Seed: tc.req.Seed,
				ClipL: []byte(tc.req.ClipL), ClipG: []byte(tc.req.ClipG), T5: []byte(tc.req.T5),
			})
			requireSamePixels(t, want, resp.Pixels, int(tc.req.Width))
		})
	}
}

// TestRoundTripOverlappingPromptOffsets: a request whose three prompts
// overlap inside prompt_data (legal, SPEC section 4) renders from the bytes
// the offsets select.
func TestRoundTripOverlappingPromptOffsets(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	data := []byte("xxhello worldyy")
	msg := rawGenerate(77, 64, 64, 3, math.Float32bits(2.0), 99,
		[3][2]uint32{{2, 11}, {2, 5}, {8, 5}}, data)
	reply, err := d.Client(t).Send(daemontest.Context(t), msg)
	require.NoError(t, err)
	m, err := protocol.DecodeResponse(reply)
	require.NoError(t, err)
	resp, ok := m.(*protocol.GenerateResponse)
	require.True(t, ok, "got %T: %v", m, m)
	want := procedural.Render(&procedural.Params{Width: 64, Height: 64, Steps: 3, CFGBits: math.Float32bits(2.0), Seed: 99,
		ClipL: []byte("hello world"), ClipG: []byte("hello"), T5: []byte("world")})
	requireSamePixels(t, want, resp.Pixels, 64)
}

// rawGenerate lays out a generate request with internal/wire (independent
// of the codecs), with explicit prompt offsets/lengths into data.
func rawGenerate(id uint64, w, h, steps, cfgBits uint32, seed uint64, prompts [3][2]uint32, data []byte) []byte {
	return wire.GenerateRequest{
		Header:     wire.NewHeader(wire.TypeGenerateRequest),
		RequestID:  id,
		Width:      w,
		Height:     h,
		Steps:      steps,
		CfgBits:    cfgBits,
		Seed:       seed,
		ClipL:      wire.Slot{Off: prompts[0][0], Len: prompts[0][1]},
		ClipG:      wire.Slot{Off: prompts[1][0], Len: prompts[1][1]},
		T5:         wire.Slot{Off: prompts[2][0], Len: prompts[2][1]},
		PromptData: data,
	}.Msg().Bytes()
}
