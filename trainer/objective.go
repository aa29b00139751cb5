package trainer

import (
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

// Outputs is everything one evaluation of the objective produced. All
// tensors belong to the Scope passed to Objective.
type Outputs struct {
	Loss     *ts.Tensor // scalar, MLMLoss + DiscWeight*DiscLoss; backward from here
	MLMLoss  *ts.Tensor // scalar, mean cross-entropy over masked positions
	DiscLoss *ts.Tensor // scalar, mean BCE over non-pad tokens

	GenLogits  *ts.Tensor // [N, V] generator logits at the masked positions
	Targets    *ts.Tensor // [N] original ids there
	Sampled    *ts.Tensor // [N] int64, the generator's samples
	Corrupted  *ts.Tensor // [B, L] int64, the discriminator's input
	Labels     *ts.Tensor // [B, L] float, 1 where Corrupted differs from the original
	InputMask  *ts.Tensor // [B, L] float, 1 on non-pad tokens
	DiscLogits *ts.Tensor // [B, L]
}

// Objective is ELECTRA's replaced token detection, top to bottom as in the
// paper (section 2): the generator fills in masked tokens, its samples
// replace them, and the discriminator learns which tokens were replaced.
// m is the output of Mask for b. train enables dropout. The caller holds
// the thread lock and seeds libtorch's generator (Gumbel noise, dropout).
func (m *Model) Objective(s *torch.Scope, b Batch, mk Masked, train bool) *Outputs {
	c, dev := m.Config, m.Device
	bl := []int64{int64(b.Size), int64(b.SeqLen)}
	in := batchInputs(s, b, mk, dev)
	original, masked, segments, positions, targets := in.original, in.masked, in.segments, in.positions, in.targets
	inputMask, maskAdd := in.inputMask, in.maskAdd
	none := s.Keep(undefined())

	// 1. The generator predicts the masked tokens (MLM). Under BF16 the
	// forward runs in autocast and its logits come back to float32 before
	// the loss and the sampling.
	end := torch.Autocast(dev, m.Precision)
	genLogits := m.Generator.Forward(s, masked, segments, maskAdd, positions, train) // [N, V]
	end()
	if m.Precision == torch.BF16 {
		genLogits = s.Keep(genLogits.MustTotype(gotch.Float, false))
	}
	mlmLoss := s.Keep(genLogits.MustCrossEntropyLoss(targets, none, 1, -100, 0, false))

	// 2. Sample replacements from the generator: Gumbel-max at the given
	// temperature, in fp32, outside the graph (no gradient flows from the
	// discriminator into the generator).
	sampled := s.Keep(gumbelSample(genLogits, c.Temperature))

	// 3. Corrupt: the original sequence with every masked position replaced
	// by its sample. A sample equal to the original counts as original.
	flat := s.Keep(original.MustReshape([]int64{-1}, false))
	corrupted := s.Keep(flat.MustIndexCopy(0, positions, sampled, false))
	corrupted = s.Keep(corrupted.MustView(bl, false))         // [B, L]
	labels := s.Keep(corrupted.MustNeTensor(original, false)) // [B, L] bool
	labels = s.Keep(labels.MustTotype(gotch.Float, false))

	// 4. The discriminator labels every token original or replaced; BCE
	// over all non-pad tokens.
	end = torch.Autocast(dev, m.Precision)
	discLogits := m.Discriminator.Forward(s, corrupted, segments, maskAdd, train) // [B, L]
	end()
	discLogits32 := s.Keep(discLogits.MustTotype(gotch.Float, false))
	discSum := s.Keep(discLogits32.MustBinaryCrossEntropyWithLogits(labels, inputMask, none, 2, false)) // sum
	discLoss := s.Keep(mulAdd(discSum, 1/float64(max(1, b.Tokens())), 0, false))

	// 5. loss = MLM + lambda * disc.
	weighted := s.Keep(mulAdd(discLoss, c.DiscWeight, 0, false))
	loss := s.Keep(mlmLoss.MustAdd(weighted, false))

	return &Outputs{
		Loss: loss, MLMLoss: mlmLoss, DiscLoss: discLoss,
		GenLogits: genLogits, Targets: targets, Sampled: sampled, Corrupted: corrupted,
		Labels: labels, InputMask: inputMask, DiscLogits: discLogits32,
	}
}

// inputs are a batch and its masking as the networks take them, on one
// device.
type inputs struct {
	original, masked, segments *ts.Tensor // [B, L] int64
	positions, targets         *ts.Tensor // [N] int64
	inputMask                  *ts.Tensor // [B, L] float, 1 on non-pad tokens
	maskAdd                    *ts.Tensor // [B, 1, 1, L]: 0 on real tokens, -1e4 on pad
}

// batchInputs copies b and mk to dev; the tensors belong to s.
func batchInputs(s *torch.Scope, b Batch, mk Masked, dev gotch.Device) inputs {
	bl := []int64{int64(b.Size), int64(b.SeqLen)}
	n := []int64{int64(len(mk.Positions))}
	in := inputs{
		original:  s.Keep(int64Tensor(widen(b.IDs), bl, dev)),
		masked:    s.Keep(int64Tensor(widen(mk.IDs), bl, dev)),
		segments:  s.Keep(int64Tensor(widen(b.Segments), bl, dev)),
		positions: s.Keep(int64Tensor(mk.Positions, n, dev)),
		targets:   s.Keep(int64Tensor(mk.Originals, n, dev)),
		inputMask: s.Keep(float32Tensor(inputMask(b), bl, dev)),
	}
	add := s.Keep(mulAdd(in.inputMask, 10000, -10000, false))
	in.maskAdd = s.Keep(add.MustView([]int64{bl[0], 1, 1, bl[1]}, false))
	return in
}

// gumbelSample draws one token per row of logits [N, V] from
// softmax(logits/temperature) as argmax(logits/temperature + G), G standard
// Gumbel noise -log(-log(U)). Returns [N] int64, detached.
func gumbelSample(logits *ts.Tensor, temperature float64) *ts.Tensor {
	s := torch.NewScope()
	defer s.Close()
	defer torch.NoGrad()()
	l := s.Keep(logits.MustDetach(false))
	l = s.Keep(l.MustTotype(gotch.Float, false))
	if temperature != 1 {
		l = s.Keep(mulAdd(l, 1/temperature, 0, false))
	}
	u := s.Keep(ts.MustRand(l.MustSize(), gotch.Float, l.MustDevice()))
	// 1e-9 guards log(0) exactly as the reference does.
	g := s.Keep(mulAdd(u, 1, 1e-9, false))
	g = s.Keep(g.MustLog(false))
	g = s.Keep(mulAdd(g, -1, 1e-9, false))
	g = s.Keep(g.MustLog(false))
	noisy := s.Keep(l.MustSub(g, false)) // l + (-log(-log u))
	return noisy.MustArgmax([]int64{-1}, false, false)
}

// inputMask is 1 on each example's first Lengths[i] positions, 0 after.
func inputMask(b Batch) []float32 {
	out := make([]float32, b.Size*b.SeqLen)
	for e, l := range b.Lengths {
		for i := range int(l) {
			out[e*b.SeqLen+i] = 1
		}
	}
	return out
}
