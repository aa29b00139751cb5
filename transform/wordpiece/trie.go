package wordpiece

import "slices"

// trie is a double-array trie over token bytes: one step per byte, two
// array reads, no hashing. WordPiece's greedy longest-match-first then is a
// single walk that remembers the last token it passed, instead of a hash
// lookup for every candidate length.
type trie struct {
	slots []daSlot
}

// daSlot keeps a slot's three fields together: one cache line per step.
type daSlot struct {
	base  int32 // first child slot of a node, minus the label
	check int32 // the parent of a slot; -1 where free
	value int32 // the token id ending at a node, or -1
}

func newTrie(tokens map[string]int32) *trie {
	keys := make([]string, 0, len(tokens))
	for k := range tokens {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := trieBuilder{t: &trie{}, head: -1, tail: -1}
	b.grow(1024)
	b.occupy(0, 0) // the root is slot 0, its own parent
	// A node is the run keys[lo:hi] sharing their first depth bytes; in
	// sorted order the key ending at the node, if any, comes first.
	type node struct {
		lo, hi, depth int
		slot          int32
	}
	queue := []node{{0, len(keys), 0, 0}}
	var labels, starts []int
	for len(queue) > 0 {
		nd := queue[0]
		queue = queue[1:]
		lo := nd.lo
		if lo < nd.hi && len(keys[lo]) == nd.depth {
			b.t.slots[nd.slot].value = tokens[keys[lo]]
			lo++
		}
		if lo == nd.hi {
			continue
		}
		labels, starts = labels[:0], starts[:0]
		for i := lo; i < nd.hi; i++ {
			c := int(keys[i][nd.depth])
			if len(labels) == 0 || labels[len(labels)-1] != c {
				labels = append(labels, c)
				starts = append(starts, i)
			}
		}
		base := b.place(labels)
		b.t.slots[nd.slot].base = int32(base)
		for i, c := range labels {
			s := int32(base + c)
			b.occupy(s, nd.slot)
			hi := nd.hi
			if i+1 < len(starts) {
				hi = starts[i+1]
			}
			queue = append(queue, node{starts[i], hi, nd.depth + 1, s})
		}
	}
	t := b.t
	n := len(t.slots)
	for n > 1 && t.slots[n-1].check < 0 {
		n--
	}
	t.slots = t.slots[:n:n]
	return t
}

// trieBuilder keeps the free slots in a doubly linked list so placing a
// node visits free slots only.
type trieBuilder struct {
	t          *trie
	prev, next []int32
	head, tail int32
}

func (b *trieBuilder) grow(n int) {
	t := b.t
	if n <= len(t.slots) {
		return
	}
	n = max(n, 2*len(t.slots))
	for i := int32(len(t.slots)); int(i) < n; i++ {
		t.slots = append(t.slots, daSlot{0, -1, -1})
		b.prev = append(b.prev, b.tail)
		b.next = append(b.next, -1)
		if b.tail >= 0 {
			b.next[b.tail] = i
		} else {
			b.head = i
		}
		b.tail = i
	}
}

func (b *trieBuilder) occupy(s, parent int32) {
	b.t.slots[s].check = parent
	p, n := b.prev[s], b.next[s]
	if p >= 0 {
		b.next[p] = n
	} else {
		b.head = n
	}
	if n >= 0 {
		b.prev[n] = p
	} else {
		b.tail = p
	}
}

// place finds the smallest base (>= 1) that puts every label in a free slot.
func (b *trieBuilder) place(labels []int) int {
	last := labels[len(labels)-1]
	for f := b.head; ; {
		if f < 0 {
			tail := len(b.t.slots)
			b.grow(tail + last + 1)
			f = int32(tail)
			continue
		}
		base := int(f) - labels[0]
		if base >= 1 {
			b.grow(base + last + 1)
			ok := true
			for _, c := range labels[1:] {
				if b.t.slots[base+c].check >= 0 {
					ok = false
					break
				}
			}
			if ok {
				return base
			}
		}
		f = b.next[f]
	}
}

// longest returns the id and length of the longest token that is a prefix of
// s, or -1, 0.
func (t *trie) longest(s []byte) (id int32, n int) {
	id = -1
	slots := t.slots
	cur := int32(0)
	base := slots[0].base
	for i := 0; i < len(s); i++ {
		next := base + int32(s[i])
		if uint(next) >= uint(len(slots)) || next == 0 {
			break
		}
		sl := &slots[next]
		if sl.check != cur {
			break
		}
		cur, base = next, sl.base
		if sl.value >= 0 {
			id, n = sl.value, i+1
		}
	}
	return id, n
}
