package transform

import "math/bits"

// recordBufs holds the buffers of records that the stage is done with, for
// every KafkaInput of the process, as pack's free blocks do for arenas: a
// worker keeps them across rebalances and restarts of its input.
var recordBufs = newRecordBuffers()

// recordBuffers is a free list of record buffers in power-of-two size
// classes from 1 KiB to 256 KiB, so that a small document does not hold a
// buffer grown for a large one. A longer record gets a buffer of its own,
// left to the garbage collector. Channels rather than sync.Pools, which
// empty at every collection.
type recordBuffers struct {
	classes [recordClasses]chan []byte
}

const (
	recordMinShift = 10 // 1 KiB
	recordClasses  = 9  // up to 256 KiB
	// recordsPerClass bounds the idle buffers: at most 32 of each size,
	// 16 MiB in all.
	recordsPerClass = 32
)

// class returns the smallest class whose buffers hold n bytes, or
// recordClasses if none does.
func recordClass(n int) int {
	if n <= 1<<recordMinShift {
		return 0
	}
	return bits.Len(uint(n-1)) - recordMinShift
}

func (p *recordBuffers) get(n int) []byte {
	c := recordClass(n)
	if c >= recordClasses {
		return make([]byte, n)
	}
	if ch := p.classes[c]; ch != nil {
		select {
		case b := <-ch:
			return b[:n]
		default:
		}
	}
	return make([]byte, n, 1<<(c+recordMinShift))
}

// put takes back a buffer from get; others are ignored.
func (p *recordBuffers) put(b []byte) {
	c := recordClass(cap(b))
	if c >= recordClasses || cap(b) != 1<<(c+recordMinShift) {
		return
	}
	if p.classes[c] == nil {
		return
	}
	select {
	case p.classes[c] <- b:
	default:
	}
}

func newRecordBuffers() recordBuffers {
	var p recordBuffers
	for i := range p.classes {
		p.classes[i] = make(chan []byte, recordsPerClass)
	}
	return p
}
