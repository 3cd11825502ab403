package main

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"context"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"image"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weave-app/weave/go/protocol"
)

// rawImage is the pixels of a generate response as they arrived: rows of
// RGB (3 channels) or non-premultiplied RGBA (4), no padding. It is an
// image.Image (for tests and tools) whose At is cheap, but the PNG writer
// below reads Pix directly: no conversion to NRGBA.
type rawImage struct {
	w, h, ch int
	pix      []byte
}

func (r *rawImage) ColorModel() color.Model { return color.NRGBAModel }
func (r *rawImage) Bounds() image.Rectangle { return image.Rect(0, 0, r.w, r.h) }
func (r *rawImage) At(x, y int) color.Color {
	if x < 0 || y < 0 || x >= r.w || y >= r.h {
		return color.NRGBA{}
	}
	i := (y*r.w + x) * r.ch
	if r.ch == 4 {
		return color.NRGBA{R: r.pix[i], G: r.pix[i+1], B: r.pix[i+2], A: r.pix[i+3]}
	}
	return color.NRGBA{R: r.pix[i], G: r.pix[i+1], B: r.pix[i+2], A: 0xFF}
}

// responseImage checks the pixels of a generate response and wraps them
// (no copy).
func responseImage(resp *protocol.GenerateResponse) (*rawImage, error) {
	w, h, ch := int(resp.Width), int(resp.Height), int(resp.Channels)
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("invalid image size %dx%d", resp.Width, resp.Height)
	}
	if ch != 3 && ch != 4 {
		return nil, fmt.Errorf("unsupported channel count %d", resp.Channels)
	}
	if uint64(len(resp.Pixels)) != uint64(w)*uint64(h)*uint64(ch) {
		return nil, fmt.Errorf("image data is %d bytes, want %d", len(resp.Pixels), w*h*ch)
	}
	return &rawImage{w: w, h: h, ch: ch, pix: resp.Pixels}, nil
}

// pngCompression is --png-compression.
type pngCompression int

const (
	pngFast pngCompression = iota
	pngDefault
	pngBest
)

var pngCompressionNames = []string{"fast", "default", "best"}

func (p *pngCompression) Set(s string) error {
	for i, n := range pngCompressionNames {
		if s == n {
			*p = pngCompression(i)
			return nil
		}
	}
	return fmt.Errorf("want %s", strings.Join(pngCompressionNames, ", "))
}

func (p *pngCompression) String() string { return pngCompressionNames[*p] }

// zlibLevel and filter: "fast" is Huffman coding only (no match search)
// after the Sub filter, which turns smooth gradients into small numbers
// that Huffman codes well: measured on 1024x1024 images, about 4x faster
// than deflate's BestSpeed for a file about twice as large, and half the
// size of an uncompressed PNG. "default" and "best" search for matches
// after the Paeth filter: slower, smaller.
func (p pngCompression) zlibLevel() int {
	switch p {
	case pngBest:
		return flate.BestCompression
	case pngDefault:
		return flate.DefaultCompression
	}
	return flate.HuffmanOnly
}

const (
	filterSub   = 1
	filterPaeth = 4
)

// idatChunkSize is the payload size of each IDAT chunk.
const idatChunkSize = 256 << 10

// chunkWriter buffers what zlib writes and emits it as IDAT chunks.
type chunkWriter struct {
	w   io.Writer
	buf []byte
	err error
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && c.err == nil {
		room := idatChunkSize - len(c.buf)
		if room > len(p) {
			room = len(p)
		}
		c.buf = append(c.buf, p[:room]...)
		p = p[room:]
		if len(c.buf) == idatChunkSize {
			c.flush()
		}
	}
	if c.err != nil {
		return 0, c.err
	}
	return n, nil
}

func (c *chunkWriter) flush() {
	if len(c.buf) > 0 && c.err == nil {
		c.err = writeChunk(c.w, "IDAT", c.buf)
	}
	c.buf = c.buf[:0]
}

func writeChunk(w io.Writer, typ string, data []byte) error {
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(data)))
	copy(hdr[4:], typ)
	crc := crc32.NewIEEE()
	crc.Write(hdr[4:])
	crc.Write(data)
	var tail [4]byte
	binary.BigEndian.PutUint32(tail[:], crc.Sum32())
	for _, b := range [][]byte{hdr[:], data, tail[:]} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// encodePNG writes img as an 8-bit RGB (color type 2) or RGBA (6) PNG.
// It stops with ctx.Err() when ctx is done between rows.
func encodePNG(ctx context.Context, w io.Writer, img *rawImage, level pngCompression) error {
	pieces, err := encodePNGPieces(ctx, img, level)
	if err != nil {
		return err
	}
	for _, p := range pieces {
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// encodePNGPieces returns the PNG of img as pieces to write in order.
func encodePNGPieces(ctx context.Context, img *rawImage, level pngCompression) ([][]byte, error) {
	if level == pngFast {
		return encodeFastPNG(ctx, img)
	}
	var buf bytes.Buffer
	if err := encodeDeflatePNG(ctx, &buf, img, level); err != nil {
		return nil, err
	}
	return [][]byte{buf.Bytes()}, nil
}

// writeHeader writes the PNG signature and the IHDR chunk of img.
func writeHeader(w io.Writer, img *rawImage) error {
	if _, err := io.WriteString(w, "\x89PNG\r\n\x1a\n"); err != nil {
		return err
	}
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(img.w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(img.h))
	ihdr[8] = 8 // bit depth
	ihdr[9] = 2 // truecolor
	if img.ch == 4 {
		ihdr[9] = 6 // truecolor with alpha
	}
	return writeChunk(w, "IHDR", ihdr[:])
}

// encodeDeflatePNG writes the PNG of img with compress/zlib at level.
func encodeDeflatePNG(ctx context.Context, w io.Writer, img *rawImage, level pngCompression) error {
	if err := writeHeader(w, img); err != nil {
		return err
	}
	cw := &chunkWriter{w: w, buf: make([]byte, 0, idatChunkSize)}
	zw, err := zlib.NewWriterLevel(cw, level.zlibLevel())
	if err != nil {
		return err
	}
	stride := img.w * img.ch
	line := make([]byte, 1+stride)
	var prev []byte
	for y := 0; y < img.h; y++ {
		if y%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		row := img.pix[y*stride : (y+1)*stride]
		filterRowPaeth(line, row, prev, img.ch)
		if _, err := zw.Write(line); err != nil {
			return err
		}
		prev = row
	}
	if err := zw.Close(); err != nil {
		return err
	}
	cw.flush()
	if cw.err != nil {
		return cw.err
	}
	return writeChunk(w, "IEND", nil)
}

// parallelMinBytes is the image size from which the fast encoder splits
// the rows over several goroutines.
const parallelMinBytes = 256 << 10

// fastBlockBytes is how many bytes of filtered rows the fast encoder
// filters, sums and codes at a time: small enough to stay in the cache
// between the three.
const fastBlockBytes = 16 << 10

// bandsPerWorker is how many bands of rows each worker of the fast
// encoder gets on average (encodeFastPNG).
var bandsPerWorker = 4

// fastBand is one band of rows coded by one goroutine: a complete IDAT
// chunk (length, type, data, CRC) whose data continues the zlib stream.
type fastBand struct {
	chunk  []byte
	adler  uint32
	rawLen int
	err    error
}

// encodeFastPNG returns the PNG of img, the IDAT chunks of its Sub-filtered
// rows, Huffman coded only (huffman.go) with one code for the whole image
// (fastcode.go). Huffman-only deflate has no back references, so bands of
// rows are coded independently, one goroutine each: every band is one
// dynamic block (the same code) ended by a sync flush (byte-aligned, not
// final), the last one final; the concatenation is one valid deflate
// stream (as pigz does). Each band is its own IDAT chunk, its CRC
// computed by its goroutine; the Adler-32 of the whole is combined from
// those of the bands and sent in a last 4-byte IDAT chunk.
func encodeFastPNG(ctx context.Context, img *rawImage) ([][]byte, error) {
	stride := img.w * img.ch
	workers, bands := 1, 1
	if img.h*stride >= parallelMinBytes {
		// More bands than workers, taken from a shared counter: on a busy
		// machine a worker that gets less CPU does fewer bands instead of
		// making everyone wait for its half.
		workers = runtime.GOMAXPROCS(0)
		if workers > 8 {
			workers = 8
		}
		bands = bandsPerWorker * workers
		if max := img.h * stride / parallelMinBytes; bands > max {
			bands = max
		}
		if bands > img.h {
			bands = img.h
		}
		if workers > bands {
			workers = bands
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	code := newFastCode(img)
	res := make([]fastBand, bands)
	var next int32 = -1
	rows := fastBlockBytes / (1 + stride)
	if rows < 1 {
		rows = 1
	}
	work := func() {
		// One block buffer a worker (fresh memory costs page faults).
		blk := make([]byte, rows*(1+stride))
		for {
			b := int(atomic.AddInt32(&next, 1))
			if b >= bands {
				return
			}
			encodeFastBand(ctx, img, code, img.h*b/bands, img.h*(b+1)/bands, b == 0, b == bands-1, blk, &res[b])
		}
	}
	var wg sync.WaitGroup
	for i := 1; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
	var head bytes.Buffer
	if err := writeHeader(&head, img); err != nil {
		return nil, err
	}
	pieces := [][]byte{head.Bytes()}
	var total uint32 = 1 // Adler-32 of nothing
	for i := range res {
		if res[i].err != nil {
			return nil, res[i].err
		}
		total = adler32Combine(total, res[i].adler, res[i].rawLen)
		pieces = append(pieces, res[i].chunk)
	}
	var tail bytes.Buffer
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], total)
	if err := writeChunk(&tail, "IDAT", sum[:]); err != nil {
		return nil, err
	}
	if err := writeChunk(&tail, "IEND", nil); err != nil {
		return nil, err
	}
	return append(pieces, tail.Bytes()), nil
}

// encodeFastBand codes rows y0..y1 of img into r as one block of code:
// filter a block of rows, Adler-32 of it while it is in the cache, then
// its code. blk holds a whole number of filtered rows.
func encodeFastBand(ctx context.Context, img *rawImage, code *fastCode, y0, y1 int, first, last bool, blk []byte, r *fastBand) {
	stride := img.w * img.ch
	lineLen := 1 + stride
	rows := len(blk) / lineLen
	// About half of the filtered bytes for the smooth images of the
	// procedural backend; the coder grows it when needed.
	bw := bitWriter{out: make([]byte, 8, 8+(y1-y0)*lineLen/2+4096)}
	copy(bw.out[4:], "IDAT") // the length goes in at the end
	if first {
		// zlib header: deflate, 32 KiB window, "fastest" level, FCHECK.
		bw.out = append(bw.out, 0x78, 0x01)
	}
	bw.writeDynamicHeader(&code.lens, last)
	sum := adler32.New()
	for y := y0; y < y1; y += rows {
		if err := ctx.Err(); err != nil {
			r.err = err
			return
		}
		n := rows
		if y+n > y1 {
			n = y1 - y
		}
		data := blk[:n*lineLen]
		for i := 0; i < n; i++ {
			off := (y + i) * stride
			filterRowSub(data[i*lineLen:(i+1)*lineLen], img.pix[off:off+stride], img.ch)
		}
		sum.Write(data)
		code.writeData(&bw, data)
	}
	code.writeEOB(&bw)
	if last {
		bw.alignByte()
	} else {
		bw.syncFlush()
	}
	chunk := bw.out
	binary.BigEndian.PutUint32(chunk[0:4], uint32(len(chunk)-8))
	crc := crc32.ChecksumIEEE(chunk[4:])
	chunk = append(chunk, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(chunk[len(chunk)-4:], crc)
	r.chunk, r.adler, r.rawLen = chunk, sum.Sum32(), (y1-y0)*lineLen
}

// filterRowSubHist writes filter type 1 (Sub) of row into line and counts
// every byte of line (the filter type byte too: it is coded like any
// other) into the four histograms h4, whose sum is the histogram: smooth
// images repeat the same few values, and counting them all in one table
// makes each increment wait for the one before.
func filterRowSubHist(line, row []byte, bpp int, h4 *[4][256]uint32) {
	hist := &h4[0]
	line[0] = filterSub
	hist[filterSub]++
	out := line[1 : 1+len(row)]
	for i := 0; i < bpp; i++ {
		out[i] = row[i]
		hist[row[i]]++
	}
	prev := row[:len(row)-bpp]
	cur := row[bpp:]
	dst := out[bpp:]
	dst = dst[:len(cur)]
	i := 0
	for ; i+4 <= len(cur); i += 4 {
		c, p, d := cur[i:i+4], prev[i:i+4], dst[i:i+4]
		v0, v1, v2, v3 := c[0]-p[0], c[1]-p[1], c[2]-p[2], c[3]-p[3]
		d[0], d[1], d[2], d[3] = v0, v1, v2, v3
		h4[0][v0]++
		h4[1][v1]++
		h4[2][v2]++
		h4[3][v3]++
	}
	for ; i < len(cur); i++ {
		v := cur[i] - prev[i]
		dst[i] = v
		hist[v]++
	}
}

// adler32Combine returns the Adler-32 of A followed by B, given adler32(A),
// adler32(B) and len(B).
func adler32Combine(a1, a2 uint32, len2 int) uint32 {
	const base = 65521
	rem := uint64(len2 % base)
	s1 := uint64(a1 & 0xffff)
	s2 := (rem * s1) % base
	s1 += uint64(a2&0xffff) + base - 1
	s2 += uint64(a1>>16) + uint64(a2>>16) + base - rem
	s1 %= base
	s2 %= base
	return uint32(s2<<16 | s1)
}

// filterRowPaeth writes filter type 4 (Paeth) of row (previous row prev,
// nil for the first) into line.
func filterRowPaeth(line, row, prev []byte, bpp int) {
	line[0] = filterPaeth
	out := line[1:]
	for i := range row {
		var a, b, c int
		if i >= bpp {
			a = int(row[i-bpp])
		}
		if prev != nil {
			b = int(prev[i])
			if i >= bpp {
				c = int(prev[i-bpp])
			}
		}
		p := a + b - c
		pa, pb, pc := abs(p-a), abs(p-b), abs(p-c)
		pred := c
		if pa <= pb && pa <= pc {
			pred = a
		} else if pb <= pc {
			pred = b
		}
		out[i] = row[i] - byte(pred)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// pngTimes are the durations of writing a PNG (WEAVE_DEBUG_TIMING).
type pngTimes struct {
	encode, write, sync, rename time.Duration
}

// writePNGAtomic encodes img as PNG into a temporary file in the directory
// of path and renames it over path, so a failure (or ctx being done, e.g.
// Ctrl-C) never leaves a partial file, and a reader never sees one. The
// file gets mode 0666 minus the umask. With durable the file is also
// fsynced before the rename, so it survives a power loss or a kernel crash
// soon after weave exits (without it the data reach the disk when the
// kernel writes them back, within about 30 s; until then such a crash can
// leave an empty or old file, never a partial one from a weave failure).
func writePNGAtomic(ctx context.Context, path string, img *rawImage, level pngCompression, durable bool) error {
	_, err := writePNGAtomicTimed(ctx, path, img, level, durable)
	return err
}

func writePNGAtomicTimed(ctx context.Context, path string, img *rawImage, level pngCompression, durable bool) (t pngTimes, err error) {
	t0 := time.Now()
	// Encode first, in memory (the PNG is at most a few MiB), so the file
	// is written in a few large writes.
	pieces, err := encodePNGPieces(ctx, img, level)
	if err != nil {
		return t, err
	}
	t1 := time.Now()
	t.encode = t1.Sub(t0)
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return t, err
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	for _, p := range pieces {
		if _, err = tmp.Write(p); err != nil {
			return t, err
		}
	}
	if err = tmp.Chmod(0o666 &^ umask()); err != nil {
		return t, err
	}
	t2 := time.Now()
	t.write = t2.Sub(t1)
	if durable {
		if err = tmp.Sync(); err != nil {
			return t, err
		}
	}
	t3 := time.Now()
	t.sync = t3.Sub(t2)
	if err = tmp.Close(); err != nil {
		return t, err
	}
	// The last moment to give up: after the rename the file is whole.
	if err = ctx.Err(); err != nil {
		return t, err
	}
	err = os.Rename(tmpName, path)
	t.rename = time.Since(t3)
	return t, err
}

// writePNGStream encodes img to w (-o -).
func writePNGStream(ctx context.Context, w io.Writer, img *rawImage, level pngCompression) error {
	return encodePNG(ctx, w, img, level)
}

// umask returns the process umask from /proc/self/status (reading it with
// umask(2) would change it for a moment), 022 when unknown.
func umask() os.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0o022
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v := strings.TrimPrefix(string(line), "Umask:"); len(v) != len(line) {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err != nil {
				return 0o022
			}
			return os.FileMode(n) & 0o777
		}
	}
	return 0o022
}
