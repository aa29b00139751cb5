package schemas

import (
	"encoding/binary"
	"math/bits"
	"unsafe"

	"github.com/pierrec/lz4/v4"
)

// LZ4 frames for the IPC body buffers, written here rather than by
// arrow-go's writer because of the token id column: compressing it as
// arrow-go does cost ~1.6 ms per 1024x128 batch, a fifth of what
// tokenizing the batch's text costs. int32Compressor below writes ordinary
// LZ4 blocks, which any LZ4 decoder reads, for about a third of that.
//
// Format references: the LZ4 frame format and block format descriptions
// of the LZ4 project (lz4_Frame_format.md, lz4_Block_format.md).

const (
	lz4Magic    = 0x184D2204
	lz4BlockMax = 64 << 10 // the frame's block maximum (BD = 4), as Arrow C++ and arrow-go write
	// lz4Uncompressed marks a block stored as is (high bit of its size).
	lz4Uncompressed = 1 << 31
	// A block ends with at least lz4LastLiterals literals, and its last
	// match starts at least lz4MatchLimit bytes before its end.
	lz4LastLiterals = 5
	lz4MatchLimit   = 12
	lz4MinMatch     = 4
	int32TableBits  = 16
)

// lz4FrameHeader is magic, FLG (version 1, independent blocks, no
// checksums, no content size), BD (64 KiB blocks) and the descriptor's
// checksum byte.
var lz4FrameHeader = func() [7]byte {
	var h [7]byte
	binary.LittleEndian.PutUint32(h[:], lz4Magic)
	h[4], h[5] = 0x60, 0x40
	h[6] = byte(xxh32Short(h[4:6]) >> 8)
	return h
}()

// xxh32Short is XXH32 with seed 0 for inputs shorter than 16 bytes, which
// is all the frame descriptor checksum needs.
func xxh32Short(b []byte) uint32 {
	const (
		p1 = 2654435761
		p2 = 2246822519
		p3 = 3266489917
		p4 = 668265263
		p5 = 374761393
	)
	h := uint32(p5) + uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		h += binary.LittleEndian.Uint32(b) * p3
		h = bits.RotateLeft32(h, 17) * p4
	}
	for _, c := range b {
		h += uint32(c) * p5
		h = bits.RotateLeft32(h, 11) * p1
	}
	h ^= h >> 15
	h *= p2
	h ^= h >> 13
	h *= p3
	h ^= h >> 16
	return h
}

// lz4FrameBound is the largest frame appendLZ4Frame writes for n bytes.
func lz4FrameBound(n int) int {
	blocks := (n + lz4BlockMax - 1) / lz4BlockMax
	return len(lz4FrameHeader) + 4*blocks + n + 4 + lz4Slack
}

// blockCompressor compresses one block of at most lz4BlockMax bytes into
// dst (len(dst) == len(src)+lz4Slack) and returns the compressed size, or
// 0 when the block does not get smaller than src.
type blockCompressor interface {
	compress(src, dst []byte) int
}

// appendLZ4Frame appends src as one LZ4 frame of independent 64 KiB
// blocks; blocks that do not shrink are stored as they are.
func appendLZ4Frame(dst, src []byte, c blockCompressor) []byte {
	dst = growBytes(dst, lz4FrameBound(len(src)))
	dst = append(dst, lz4FrameHeader[:]...)
	for len(src) > 0 {
		blk := src[:min(len(src), lz4BlockMax)]
		src = src[len(blk):]
		at := len(dst)
		out := dst[at+4 : at+4+len(blk)+lz4Slack]
		if n := c.compress(blk, out); n > 0 {
			binary.LittleEndian.PutUint32(dst[at:at+4], uint32(n))
			dst = dst[:at+4+n]
		} else {
			binary.LittleEndian.PutUint32(dst[at:at+4], uint32(len(blk))|lz4Uncompressed)
			dst = append(dst[:at+4], blk...)
		}
	}
	return binary.LittleEndian.AppendUint32(dst, 0) // end mark
}

// growBytes makes room for n more bytes without changing len(b).
func growBytes(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), max(2*cap(b), len(b)+n))
	copy(nb, b)
	return nb
}

// generalCompressor is pierrec/lz4's block compressor, the one arrow-go's
// writer uses, for the other buffers (strings, offsets, lengths).
type generalCompressor struct{ c lz4.Compressor }

func (g *generalCompressor) compress(src, dst []byte) int {
	n, err := g.c.CompressBlock(src, dst[:len(src)])
	if err != nil {
		return 0
	}
	return n
}

// runCompressor is an LZ4 block compressor for data made of long runs of
// one byte value, as segment ids are (zeros for [CLS] A [SEP], ones for
// B [SEP], zeros for the padding): each run of five bytes or more is
// written as its first byte and a match at offset 1, LZ4's run-length
// encoding; shorter runs stay literals. It finds no other repetition, so
// it is for such columns only. A general compressor spent a tenth of the
// encoder's time on them, hashing every byte to find the same runs.
type runCompressor struct{}

func (runCompressor) compress(src, dst []byte) int {
	n := len(src)
	if n > lz4BlockMax {
		panic("runCompressor: block larger than 64 KiB")
	}
	limit := n // output as long as the input is a failure
	if len(dst) < limit+lz4Slack {
		return 0
	}
	// A match ends lz4LastLiterals bytes before the end at the latest and
	// starts lz4MatchLimit bytes before it.
	matchEnd, lastStart := n-lz4LastLiterals, n-lz4MatchLimit
	di, anchor := 0, 0
	for i := 0; i < n; {
		c := src[i]
		j := i + 1
		// Whole words of c at a time: runs are tens of bytes long.
		w := uint64(c) * 0x0101010101010101
		for {
			if j+8 > n {
				for j < n && src[j] == c {
					j++
				}
				break
			}
			if x := binary.LittleEndian.Uint64(src[j:]) ^ w; x != 0 {
				j += bits.TrailingZeros64(x) >> 3
				break
			}
			j += 8
		}
		start, end := i+1, min(j, matchEnd)
		i = j
		if start > lastStart || end-start < lz4MinMatch {
			continue
		}
		lit, m := start-anchor, end-start
		if di+1+lit/255+1+lit+2+m/255+1 > limit {
			return 0
		}
		di = lz4Sequence(dst, di, src[anchor:start], 1, m)
		anchor = end
	}
	return lz4Tail(dst, di, src[anchor:], limit)
}

// lz4Sequence writes one sequence at dst[di:], which has room for it: the
// token, lits with their length, the match's offset and length (at least
// lz4MinMatch). It returns the index after it.
func lz4Sequence(dst []byte, di int, lits []byte, offset, length int) int {
	tok := di
	di++
	var t byte
	if lit := len(lits); lit >= 15 {
		t = 0xF0
		di = lz4Length(dst, di, lit-15)
	} else {
		t = byte(lit) << 4
	}
	di += copy(dst[di:], lits)
	binary.LittleEndian.PutUint16(dst[di:], uint16(offset))
	di += 2
	if m := length - lz4MinMatch; m >= 15 {
		t |= 0x0F
		di = lz4Length(dst, di, m-15)
	} else {
		t |= byte(m)
	}
	dst[tok] = t
	return di
}

// lz4Tail writes a block's last sequence, its literals alone, at dst[di:]
// and returns the block's compressed size, or 0 when the block would not
// end up shorter than limit.
func lz4Tail(dst []byte, di int, lits []byte, limit int) int {
	n := len(lits)
	if di+1+n/255+1+n >= limit {
		return 0
	}
	if n >= 15 {
		dst[di] = 0xF0
		di = lz4Length(dst, di+1, n-15)
	} else {
		dst[di] = byte(n) << 4
		di++
	}
	return di + copy(dst[di:], lits)
}

// int32Compressor is an LZ4 block compressor for arrays of 32-bit values:
// it reads the block as words and matches only repeats of two or more
// words, found by a hash of each aligned pair, extended byte-exactly in
// both directions. Any input is compressed correctly (a block not aligned
// to 4 bytes goes to the general compressor).
//
// On token ids it costs a third of a byte-wise LZ4 search (pierrec/lz4,
// which arrow-go uses) for a 1.55x ratio instead of 1.84x. What the search
// leaves out is single repeated ids, the commonest match in such a column;
// each saves three bytes for one more sequence to write. Even so, a
// quarter of the positions of a token id column start a repeated pair,
// nine in ten of them a pair and no more ("of the", ". [SEP]"), at random:
// a search that branches on each lookup, as LZ4's does, mispredicts at
// most matches, and that was where the time went. So the search runs in
// two passes over the block: the first hashes every pair and records
// which ones repeat as bits of masks, without a branch on the data; the
// second visits the masks' set bits only, writing a sequence for each
// that the previous match does not cover. 28% faster than one pass with a
// branch per lookup (and 9% faster than alternating the passes 64 words
// at a time), and 2% smaller output, because every position, not
// only those outside matches, updates the table.
type int32Compressor struct {
	// table maps a hash of an aligned pair of words to the index of its
	// last occurrence in the current block (0 also where none: the pair
	// at 0 is then compared, and a true match either way). 128 KiB:
	// smaller tables miss repeats their collisions overwrite; 4K to 32K
	// entries were 3-13% faster for 8% to 1% less compression. (With a
	// branch per lookup, smaller tables had been slower too.)
	table [1 << int32TableBits]uint16
	// cand[i] is the earlier occurrence of the pair at i by the table;
	// bit i%64 of masks[i/64] is set where it is a true repeat.
	cand    [lz4BlockMax / 4]uint16
	masks   [lz4BlockMax / 4 / 64]uint64
	general generalCompressor
}

// lz4Slack is how far past a literal run the copy below may write: short
// literal runs are copied 64 bytes at a time.
const lz4Slack = 64

func (c *int32Compressor) compress(src, dst []byte) int {
	if len(src) > lz4BlockMax {
		panic("int32Compressor: block larger than 64 KiB")
	}
	if !littleEndian || len(src) < lz4MatchLimit+4 || uintptr(unsafe.Pointer(unsafe.SliceData(src)))%4 != 0 {
		return c.general.compress(src, dst)
	}
	// Output as long as the input is a failure: the frame then stores the
	// block as is. Every sequence written below first checks that it ends
	// before limit, which leaves lz4Slack bytes for the wide copies.
	limit := len(src)
	if len(dst) < limit+lz4Slack {
		return 0
	}
	clear(c.table[:])
	// The loads and stores of the loops go through unsafe pointers: with
	// bounds checks on each, they cost as much as the search itself. Each
	// one is within bounds by the loop conditions noted beside it.
	sp, dp := unsafe.Pointer(unsafe.SliceData(src)), unsafe.Pointer(unsafe.SliceData(dst))
	nw := len(src) / 4
	word := func(k int) uint32 { return *(*uint32)(unsafe.Add(sp, 4*k)) }
	di, anchor := 0, 0
	next := 0 // the first word that the matches so far do not cover
	matchEnd := len(src) - lz4LastLiterals
	// Matches start at least lz4MatchLimit bytes before the end; a pair
	// at i reads words i and i+1 < nw.
	last := min((len(src)-lz4MatchLimit)/4, nw-2)
	cp := unsafe.Pointer(&c.cand)
	nm := last/64 + 1
	// First pass: bit i%64 of masks[i/64] is set where the pair at i
	// repeats the one at cand[i]. (The pair at 0 has no earlier one.)
	c.findRepeats(sp, last)
	// Second pass: a sequence for each repeat that the last match does
	// not cover (a shift by 64 or more clears a mask).
	for w, m := range c.masks[:nm] {
		base := 64 * w
		m &= ^uint64(0) << uint(max(next-base, 0))
		for m != 0 {
			i := base + bits.TrailingZeros64(m)
			j := int(*(*uint16)(unsafe.Add(cp, 2*i)))
			k := 2 // words matched
			for i+k < nw && word(i+k) == word(j+k) {
				k++
			}
			end := 4 * (i + k)
			if i+k < nw {
				end += bits.TrailingZeros32(word(i+k)^word(j+k)) >> 3
			}
			end = min(end, matchEnd)
			start := 4 * i
			if j > 0 { // then i > 0 too
				start -= bits.LeadingZeros32(word(i-1)^word(j-1)) >> 3
			}
			start = max(start, anchor)
			lit := start - anchor
			// Token, lengths (one byte per 255), literals, offset.
			if di+lit+int(uint(lit)>>7)+int(uint(end-start)>>7)+16 > limit {
				return 0
			}
			tok := di
			di++
			t := byte(min(lit, 15)) << 4
			// The literal length's extra byte is written always and
			// kept when it counts: how long the literal runs between
			// pairs are is as random as where the pairs are.
			if lit >= 15+255 {
				di = lz4Length(dst, di, lit-15)
			} else {
				dst[di] = byte(lit - 15)
				var extra int
				if lit >= 15 {
					extra = 1
				}
				di += extra
			}
			if lit <= 64 && anchor+64 <= len(src) {
				// dst has 64 bytes at di: the check against limit above
				// leaves lz4Slack beyond it. (16-byte arrays copy in one
				// vector move each.)
				*(*[16]byte)(unsafe.Add(dp, di)) = *(*[16]byte)(unsafe.Add(sp, anchor))
				*(*[16]byte)(unsafe.Add(dp, di+16)) = *(*[16]byte)(unsafe.Add(sp, anchor+16))
				*(*[16]byte)(unsafe.Add(dp, di+32)) = *(*[16]byte)(unsafe.Add(sp, anchor+32))
				*(*[16]byte)(unsafe.Add(dp, di+48)) = *(*[16]byte)(unsafe.Add(sp, anchor+48))
				di += lit
			} else {
				di += copy(dst[di:], src[anchor:start])
			}
			*(*uint16)(unsafe.Add(dp, di)) = uint16(4 * (i - j))
			di += 2
			if n := end - start - lz4MinMatch; n >= 15 {
				t |= 0x0F
				di = lz4Length(dst, di, n-15)
			} else {
				t |= byte(n)
			}
			dst[tok] = t
			anchor = end
			next = int(uint(end+3) >> 2) // > i+1
			// Most matches are one pair and a few bytes of the next word
			// (next == i+2): clear bits i and i+1 without waiting for the
			// match's end, so that finding the next repeat does not hang on
			// this one's loads; only a longer match clears more, behind a
			// branch that is rarely taken. (Bit i+1 of the next mask, when
			// i%64 == 63, is cleared by that mask's start from next.)
			m &= m - 1
			m &^= 2 << uint(i&63)
			if next > i+2 {
				m &= ^uint64(0) << uint(next-base)
			}
		}
	}
	return lz4Tail(dst, di, src[anchor:], limit)
}

// findRepeats is int32Compressor's first pass over the block at sp, the
// pairs at 1 to last: a function of its own, so that its loop keeps its
// few values in registers (inside compress, the compiler reloaded four of
// them from the stack on every word).
func (c *int32Compressor) findRepeats(sp unsafe.Pointer, last int) {
	tp, cp := unsafe.Pointer(&c.table), unsafe.Pointer(&c.cand)
	for w := range last/64 + 1 {
		var m uint64
		lo, hi := max(64*w, 1), min(64*w+64, last+1)
		for i := lo; i < hi; i++ {
			v := *(*uint64)(unsafe.Add(sp, 4*i))
			slot := (*uint16)(unsafe.Add(tp, 2*(v*0x9E3779B97F4A7C15>>(64-int32TableBits))))
			j := *slot // < i
			*slot = uint16(i)
			*(*uint16)(unsafe.Add(cp, 2*i)) = j
			var hit uint64
			if *(*uint64)(unsafe.Add(sp, 4*int(j))) == v { // compiled to a flag, not a branch
				hit = 1
			}
			m |= hit << (i & 63)
		}
		c.masks[w] = m
	}
}

// littleEndian: the word loads above read the host's byte order.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

func lz4Length(dst []byte, di, n int) int {
	for ; n >= 255; n -= 255 {
		dst[di] = 255
		di++
	}
	dst[di] = byte(n)
	return di + 1
}
