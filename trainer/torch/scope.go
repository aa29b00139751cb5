package torch

import "github.com/sugarme/gotch/ts"

// Scope owns the temporaries of one computation (a forward pass, a step) and
// frees them together, like an Arrow builder's Release. A tensor that must
// outlive the scope is handed over with Detach (or simply not registered).
//
//	s := torch.NewScope()
//	defer s.Close()
//	h := s.Keep(x.MustMatmul(w, false))
type Scope struct {
	owned []*ts.Tensor
}

// NewScope returns an empty scope.
func NewScope() *Scope { return &Scope{owned: make([]*ts.Tensor, 0, 64)} }

// Keep registers t to be dropped on Close and returns it, so calls nest.
func (s *Scope) Keep(t *ts.Tensor) *ts.Tensor {
	s.owned = append(s.owned, t)
	return t
}

// Detach removes t from the scope: the caller now owns it.
func (s *Scope) Detach(t *ts.Tensor) *ts.Tensor {
	for i, o := range s.owned {
		if o == t {
			s.owned[i] = nil
		}
	}
	return t
}

// Len is the number of tensors the scope currently owns.
func (s *Scope) Len() int {
	n := 0
	for _, o := range s.owned {
		if o != nil {
			n++
		}
	}
	return n
}

// Close drops every tensor still owned, newest first.
func (s *Scope) Close() {
	for i := len(s.owned) - 1; i >= 0; i-- {
		if t := s.owned[i]; t != nil {
			t.MustDrop()
		}
	}
	s.owned = s.owned[:0]
}
