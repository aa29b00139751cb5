package trainer

import (
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

// Stats are the figures the paper's training curves are made of, for one
// batch.
type Stats struct {
	Loss          float64 `json:"loss"`
	MLMLoss       float64 `json:"mlm_loss"`
	MLMAcc        float64 `json:"mlm_acc"`        // generator argmax == original, over masked positions
	DiscLoss      float64 `json:"disc_loss"`      // mean BCE over non-pad tokens
	DiscAcc       float64 `json:"disc_acc"`       // over non-pad tokens
	DiscPrecision float64 `json:"disc_precision"` // of "replaced" predictions
	DiscRecall    float64 `json:"disc_recall"`    // of replaced tokens found
	ReplacedFrac  float64 `json:"replaced_frac"`  // replaced / non-pad tokens
	Masked        int     `json:"masked"`
	Tokens        int     `json:"tokens"`
}

// Stats reads the batch statistics back from the device in one transfer.
func (o *Outputs) Stats() Stats {
	s := torch.NewScope()
	defer s.Close()
	defer torch.NoGrad()()

	pred := s.Keep(o.GenLogits.MustArgmax([]int64{-1}, false, false))
	mlmHits := s.Keep(s.Keep(pred.MustEqTensor(o.Targets, false)).MustSum(gotch.Double, false))

	zero := ts.FloatScalar(0)
	defer zero.MustDrop()
	saysReplaced := s.Keep(s.Keep(o.DiscLogits.MustGt(zero, false)).MustTotype(gotch.Float, false))
	saysReplaced = s.Keep(saysReplaced.MustMul(o.InputMask, false))
	labels := s.Keep(o.Labels.MustMul(o.InputMask, false))
	agree := s.Keep(s.Keep(saysReplaced.MustEqTensor(labels, false)).MustTotype(gotch.Float, false))
	discHits := s.Keep(s.Keep(agree.MustMul(o.InputMask, false)).MustSum(gotch.Double, false))
	truePos := s.Keep(s.Keep(saysReplaced.MustMul(labels, false)).MustSum(gotch.Double, false))
	predPos := s.Keep(saysReplaced.MustSum(gotch.Double, false))
	replaced := s.Keep(labels.MustSum(gotch.Double, false))
	tokens := s.Keep(o.InputMask.MustSum(gotch.Double, false))

	v := scalars(o.Loss, o.MLMLoss, o.DiscLoss, mlmHits, discHits, truePos, predPos, replaced, tokens)
	masked := int(o.Targets.Numel())
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	return Stats{
		Loss: v[0], MLMLoss: v[1], DiscLoss: v[2],
		MLMAcc:        ratio(v[3], float64(masked)),
		DiscAcc:       ratio(v[4], v[8]),
		DiscPrecision: ratio(v[5], v[6]),
		DiscRecall:    ratio(v[5], v[7]),
		ReplacedFrac:  ratio(v[7], v[8]),
		Masked:        masked,
		Tokens:        int(v[8]),
	}
}
