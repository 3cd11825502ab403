package main

import "encoding/binary"

// The "fast" level's code: one Huffman code for the whole image, built from
// the byte histogram of a sample of its Sub-filtered rows, and sent as the
// header of one dynamic block per band (png.go, encodeFastPNG). Counting
// every byte was a third of the encoder's time; a sample of one row in
// histSampleStep is as good a guide for images whose rows resemble their
// neighbours, and every byte value gets a code (a count of at least one),
// so a row the sample missed still codes, at worst a few bits longer.

// histSampleStep: one row in this many is filtered and counted for the
// code, in images of parallelMinBytes and more (smaller ones count all).
const histSampleStep = 8

// pairMinBytes is the image size from which coding two bytes per look-up
// pays for building the 65 536-entry pair table (~0.1 ms).
const pairMinBytes = parallelMinBytes

// fastCode is the literal code of one image: tab for single bytes, pair
// (when built) for two bytes at once: the second byte's code after the
// first's, the bits in the low 24 and the total length (at most
// 2*litBits = 24) from bit 27.
type fastCode struct {
	lens [257]uint8
	tab  [257]huffCode
	pair []uint32
}

const pairLenShift = 27

// newFastCode builds the code for img from its sampled histogram.
func newFastCode(img *rawImage) *fastCode {
	stride := img.w * img.ch
	step := 1
	if img.h*stride >= parallelMinBytes {
		step = histSampleStep
	}
	var h4 [4][256]uint32
	line := make([]byte, 1+stride)
	// Row k*step + (5k mod step) for k = 0, 1, ...: one row in step, at
	// every offset in turn (5 is prime to step), so an image whose rows
	// repeat with a period dividing step is still sampled at each phase.
	for k := 0; ; k++ {
		y := k*step + (5*k)%step
		if y >= img.h {
			break
		}
		filterRowSubHist(line, img.pix[y*stride:(y+1)*stride], img.ch, &h4)
	}
	var freq [257]uint32
	for v := 0; v < 256; v++ {
		f := uint64(h4[0][v]+h4[1][v]+h4[2][v]+h4[3][v])*uint64(step) + 1
		if f > 1<<31 {
			f = 1 << 31
		}
		freq[v] = uint32(f)
	}
	freq[eob] = 1
	c := &fastCode{}
	huffmanLengths(freq[:], litBits, c.lens[:])
	canonicalCodes(c.lens[:], c.tab[:])
	if img.h*stride >= pairMinBytes {
		c.pair = make([]uint32, 1<<16)
		for a := 0; a < 256; a++ {
			ca := c.tab[a]
			la := uint32(ca >> 16)
			bitsA := uint32(ca & 0xffff)
			for b := 0; b < 256; b++ {
				cb := c.tab[b]
				// The index is the little-endian load of the two bytes.
				c.pair[a|b<<8] = (bitsA | uint32(cb&0xffff)<<la) | (la+uint32(cb>>16))<<pairLenShift
			}
		}
	}
	return c
}

// writeData codes data, every byte a literal.
func (c *fastCode) writeData(b *bitWriter, data []byte) {
	if c.pair == nil {
		b.writeLiterals(data, &c.tab)
		return
	}
	out, pos := b.room(len(data))
	acc, n := b.acc, b.n
	pair := c.pair[:1<<16]
	i := 0
	// n < 8 at the top of the loop: two pair codes (48 bits) fit in acc.
	for ; i+4 <= len(data); i += 4 {
		w := binary.LittleEndian.Uint32(data[i : i+4])
		e0, e1 := pair[uint16(w)], pair[w>>16]
		acc |= uint64(e0&0xffffff) << n
		n += uint(e0 >> pairLenShift)
		acc |= uint64(e1&0xffffff) << n
		n += uint(e1 >> pairLenShift)
		pos, acc, n = spill(out, pos, acc, n)
	}
	b.out, b.acc, b.n = out[:pos], acc, n
	b.writeLiterals(data[i:], &c.tab)
}

// writeEOB ends the block.
func (c *fastCode) writeEOB(b *bitWriter) {
	e := c.tab[eob]
	b.writeBits(uint64(e&0xffff), uint(e>>16))
}

// filterRowSub writes filter type 1 (Sub) of row into line.
func filterRowSub(line, row []byte, bpp int) {
	line[0] = filterSub
	out := line[1 : 1+len(row)]
	copy(out[:bpp], row[:bpp])
	prev := row[:len(row)-bpp]
	cur := row[bpp:]
	dst := out[bpp:]
	dst = dst[:len(cur)]
	// Eight bytes at a time, each subtracted on its own (no borrow from
	// one byte into the next): the high bit of every byte is handled
	// apart from the low seven.
	const hi = 0x8080808080808080
	i := 0
	for ; i+8 <= len(cur); i += 8 {
		x := binary.LittleEndian.Uint64(cur[i : i+8])
		y := binary.LittleEndian.Uint64(prev[i : i+8])
		d := ((x | hi) - (y &^ hi)) ^ ((x ^ ^y) & hi)
		binary.LittleEndian.PutUint64(dst[i:i+8], d)
	}
	for ; i < len(cur); i++ {
		dst[i] = cur[i] - prev[i]
	}
}
