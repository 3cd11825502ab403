package main

import (
	"encoding/binary"
	"sort"
)

// A Huffman-only deflate coder (RFC 1951) for the "fast" PNG level: every
// byte is a literal, each block has its own dynamic Huffman code built from
// the block's byte histogram. It exists because compress/flate's
// HuffmanOnly mode copies the input into its window and writes each code
// through a method call; here the hot loop is three table look-ups and one
// 8-byte store per three input bytes.

// maxLitBits is deflate's longest code; litBits the longest this coder
// gives a literal, so that four codes (48 bits) fit in the bit buffer
// with the up to 7 bits left over (the few rare bytes that would get a
// longer code cost a bit or two more each).
const (
	maxLitBits = 15
	litBits    = 12
)

// eob is the end-of-block symbol.
const eob = 256

// huffCode is a symbol's code: the bits already reversed (deflate sends
// Huffman codes most significant bit first into a least-significant-bit
// first stream) in the low 16 bits, the length in the high 16.
type huffCode uint32

// bitWriter packs bits least significant first into out.
type bitWriter struct {
	out []byte
	acc uint64
	n   uint // bits in acc, < 8 between calls
}

func (b *bitWriter) writeBits(v uint64, n uint) {
	b.acc |= v << b.n
	b.n += n
	for b.n >= 8 {
		b.out = append(b.out, byte(b.acc))
		b.acc >>= 8
		b.n -= 8
	}
}

// alignByte pads with zero bits to a byte boundary.
func (b *bitWriter) alignByte() {
	if b.n > 0 {
		b.out = append(b.out, byte(b.acc))
		b.acc, b.n = 0, 0
	}
}

// syncFlush ends the stream so far at a byte boundary without ending it:
// an empty stored block (as zlib's Z_SYNC_FLUSH), so another deflate
// stream's blocks may follow.
func (b *bitWriter) syncFlush() {
	b.writeBits(0, 3) // BFINAL 0, BTYPE 00 (stored)
	b.alignByte()
	b.out = append(b.out, 0, 0, 0xff, 0xff)
}

// room makes space in b.out for the codes of n literals (at most 12 bits
// a byte, plus 8 bytes of slack for the 8-byte stores) and returns b.out
// at its full capacity and the position to write at.
func (b *bitWriter) room(n int) ([]byte, int) {
	need := len(b.out) + 2*n + 16
	if cap(b.out) < need {
		grown := make([]byte, len(b.out), need+need/4)
		copy(grown, b.out)
		b.out = grown
	}
	return b.out[:cap(b.out)], len(b.out)
}

// spill stores the whole bytes of the bit buffer acc (n bits) at out[pos]
// with one 8-byte store (out has the slack room gives) and returns the new
// position and what is left: fewer than 8 bits. Small enough to inline.
func spill(out []byte, pos int, acc uint64, n uint) (int, uint64, uint) {
	binary.LittleEndian.PutUint64(out[pos:pos+8], acc)
	k := n >> 3
	return pos + int(k), acc >> (k << 3), n & 7
}

// writeLiterals codes data with tab (every byte a literal).
func (b *bitWriter) writeLiterals(data []byte, tab *[257]huffCode) {
	out, pos := b.room(len(data))
	acc, n := b.acc, b.n
	i := 0
	// n < 8 at the top of the loop, so four codes (48 bits) fit in acc.
	for ; i+4 <= len(data); i += 4 {
		d := data[i : i+4]
		c0, c1, c2, c3 := tab[d[0]], tab[d[1]], tab[d[2]], tab[d[3]]
		acc |= uint64(c0&0xffff) << n
		n += uint(c0 >> 16)
		acc |= uint64(c1&0xffff) << n
		n += uint(c1 >> 16)
		acc |= uint64(c2&0xffff) << n
		n += uint(c2 >> 16)
		acc |= uint64(c3&0xffff) << n
		n += uint(c3 >> 16)
		pos, acc, n = spill(out, pos, acc, n)
	}
	for ; i < len(data); i++ {
		c := tab[data[i]]
		acc |= uint64(c&0xffff) << n
		n += uint(c >> 16)
		pos, acc, n = spill(out, pos, acc, n)
	}
	b.out, b.acc, b.n = out[:pos], acc, n
}

// codeLengthOrder is the order in which a dynamic block header sends the
// code lengths of the code-length alphabet.
var codeLengthOrder = [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// writeDynamicHeader starts a dynamic-Huffman block (BFINAL as final)
// whose literal code has the lengths lens (lens[eob] the end of block).
// The header: 257 literal/length code lengths (no length codes are used)
// and one distance code of length 1 (none is used; a single length-1 code
// is the form every inflater accepts), each sent as a code-length symbol
// 0..15 (no run-length symbols: the header stays about 100 bytes).
func (b *bitWriter) writeDynamicHeader(lens *[257]uint8, final bool) {
	var all [258]uint8
	copy(all[:], lens[:])
	all[257] = 1
	var clFreq [19]uint32
	for _, l := range all {
		clFreq[l]++
	}
	var clLens [19]uint8
	huffmanLengths(clFreq[:], 7, clLens[:])
	var clTab [19]huffCode
	canonicalCodes(clLens[:], clTab[:])
	hclen := 19
	for hclen > 4 && clLens[codeLengthOrder[hclen-1]] == 0 {
		hclen--
	}
	var bfinal uint64
	if final {
		bfinal = 1
	}
	b.writeBits(bfinal|2<<1, 3) // BFINAL, BTYPE 10 (dynamic Huffman)
	b.writeBits(257-257, 5)     // HLIT
	b.writeBits(1-1, 5)         // HDIST
	b.writeBits(uint64(hclen-4), 4)
	for _, s := range codeLengthOrder[:hclen] {
		b.writeBits(uint64(clLens[s]), 3)
	}
	for _, l := range all {
		c := clTab[l]
		b.writeBits(uint64(c&0xffff), uint(c>>16))
	}
}

// huffmanLengths sets lens[s] to the code length of symbol s for the
// frequencies freq (0: unused), no length above maxBits. At least two
// symbols must be used.
func huffmanLengths(freq []uint32, maxBits int, lens []uint8) {
	type leaf struct {
		f   uint32
		sym int
	}
	leaves := make([]leaf, 0, len(freq))
	for s, f := range freq {
		lens[s] = 0
		if f > 0 {
			leaves = append(leaves, leaf{f, s})
		}
	}
	sort.Slice(leaves, func(i, j int) bool {
		if leaves[i].f != leaves[j].f {
			return leaves[i].f < leaves[j].f
		}
		return leaves[i].sym < leaves[j].sym
	})
	n := len(leaves)
	if n < 2 {
		// Cannot happen for our callers (the end-of-block symbol is always
		// there); give a complete code anyway.
		for _, l := range leaves {
			lens[l.sym] = 1
		}
		return
	}
	weight := make([]uint64, 2*n-1)
	parent := make([]int, 2*n-1)
	depth := make([]int, 2*n-1)
	for i, l := range leaves {
		weight[i] = uint64(l.f)
	}
	// Two queues: the sorted leaves, and the internal nodes in the order
	// they are made (their weights never decrease).
	li, ii := 0, n
	pick := func(k int) int {
		if li < n && (ii >= k || weight[li] <= weight[ii]) {
			li++
			return li - 1
		}
		ii++
		return ii - 1
	}
	for k := n; k < 2*n-1; k++ {
		a := pick(k)
		b := pick(k)
		weight[k] = weight[a] + weight[b]
		parent[a], parent[b] = k, k
	}
	depth[2*n-2] = 0
	for k := 2*n - 3; k >= 0; k-- {
		depth[k] = depth[parent[k]] + 1
	}
	// How many leaves get each length. A leaf deeper than maxBits is
	// lifted to maxBits, which overfills the code (Kraft sum above 1);
	// each step below takes one maxBits code out and splits the deepest
	// shorter code into two one bit longer, one less unit of overfill,
	// until the code is complete again. Then the lengths go to the leaves,
	// the longest to the least frequent (the order of the queue).
	var count [maxLitBits + 1]int
	for i := 0; i < n; i++ {
		d := depth[i]
		if d > maxBits {
			d = maxBits
		}
		count[d]++
	}
	total := 0
	for l := 1; l <= maxBits; l++ {
		total += count[l] << (maxBits - l)
	}
	for total > 1<<maxBits {
		count[maxBits]--
		for l := maxBits - 1; l > 0; l-- {
			if count[l] > 0 {
				count[l]--
				count[l+1] += 2
				break
			}
		}
		total--
	}
	i := 0
	for l := maxBits; l > 0; l-- {
		for k := 0; k < count[l]; k++ {
			lens[leaves[i].sym] = uint8(l)
			i++
		}
	}
}

// canonicalCodes sets tab[s] to the canonical deflate code of length
// lens[s] (RFC 1951 3.2.2), bits reversed.
func canonicalCodes(lens []uint8, tab []huffCode) {
	var count [maxLitBits + 2]int
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	var next [maxLitBits + 2]uint32
	code := uint32(0)
	for bits := 1; bits <= maxLitBits; bits++ {
		code = (code + uint32(count[bits-1])) << 1
		next[bits] = code
	}
	for s, l := range lens {
		if l == 0 {
			tab[s] = 0
			continue
		}
		c := next[l]
		next[l]++
		var r uint32
		for i := uint8(0); i < l; i++ {
			r = r<<1 | c&1
			c >>= 1
		}
		tab[s] = huffCode(uint32(l)<<16 | r)
	}
}
