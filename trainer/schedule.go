package trainer

// Schedule is the reference's learning rate: linear warmup multiplied by
// linear decay to zero (polynomial_decay with power 1, then
// min(1, step/warmup)). Step counts updates already applied, so the very
// first update runs at rate 0, as in the reference.
type Schedule struct {
	Peak   float64 // learning rate at the end of warmup, before decay
	Warmup int     // steps of linear warmup; 0 disables it
	Total  int     // step at which the rate reaches 0
}

// At is the learning rate for the update after step updates.
func (s Schedule) At(step int) float64 {
	if step >= s.Total {
		return 0
	}
	lr := s.Peak * (1 - float64(step)/float64(s.Total))
	if s.Warmup > 0 && step < s.Warmup {
		lr *= float64(step) / float64(s.Warmup)
	}
	return lr
}
