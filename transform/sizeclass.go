package transform

import "math/bits"

// sizeClasses is a free list of buffers in power-of-two size classes, so
// that a small item takes a buffer of its size rather than one grown for
// a large one (a single list makes every buffer grow, one item at a time,
// to the largest seen). Items larger than the largest class get buffers
// of their own, left to the garbage collector. Channels rather than
// sync.Pools, which empty at every garbage collection.
type sizeClasses[T any] struct {
	minShift int // class c holds buffers of 1<<(minShift+c) elements
	free     []chan T
}

// newSizeClasses returns classes of 1<<minShift to
// 1<<(minShift+classes-1) elements, keeping at most keep(size) idle
// buffers of each size.
func newSizeClasses[T any](minShift, classes int, keep func(size int) int) *sizeClasses[T] {
	s := &sizeClasses[T]{minShift: minShift, free: make([]chan T, classes)}
	for c := range s.free {
		s.free[c] = make(chan T, keep(s.size(c)))
	}
	return s
}

// size is the number of elements of class c's buffers.
func (s *sizeClasses[T]) size(c int) int { return 1 << (s.minShift + c) }

// fit returns the smallest class whose buffers hold n elements, and false
// if none does.
func (s *sizeClasses[T]) fit(n int) (int, bool) {
	c := 0
	if n > 1<<s.minShift {
		c = bits.Len(uint(n-1)) - s.minShift
	}
	return c, c < len(s.free)
}

// exact returns the class whose buffers have capacity elements, and false
// if none does (a buffer grown past its class, or not from here).
func (s *sizeClasses[T]) exact(capacity int) (int, bool) {
	c, ok := s.fit(capacity)
	return c, ok && s.size(c) == capacity
}

// get returns an idle buffer of class c, if there is one.
func (s *sizeClasses[T]) get(c int) (T, bool) {
	select {
	case t := <-s.free[c]:
		return t, true
	default:
		var zero T
		return zero, false
	}
}

// put keeps t, a buffer of class c, unless the class holds enough.
func (s *sizeClasses[T]) put(c int, t T) {
	select {
	case s.free[c] <- t:
	default:
	}
}

// recordBufs holds the buffers of records that the stage is done with, for
// every KafkaInput of the process, as pack's free blocks do for arenas: a
// worker keeps them across rebalances and restarts of its input. Classes
// of 1 KiB to 256 KiB, at most 32 idle buffers of each: 16 MiB in all.
var recordBufs = newSizeClasses[[]byte](10, 9, func(int) int { return 32 })

// recordBuf returns a buffer of n bytes, from recordBufs where it can.
func recordBuf(n int) []byte {
	c, ok := recordBufs.fit(n)
	if !ok {
		return make([]byte, n)
	}
	if b, ok := recordBufs.get(c); ok {
		return b[:n]
	}
	return make([]byte, n, recordBufs.size(c))
}

// recycleRecordBuf hands b, from recordBuf, back to recordBufs.
func recycleRecordBuf(b []byte) {
	if c, ok := recordBufs.exact(cap(b)); ok {
		recordBufs.put(c, b[:0])
	}
}
