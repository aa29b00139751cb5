// Package finetune puts a sequence classification (or regression) head on a
// pre-trained ELECTRA discriminator and trains it with the paper's
// fine-tuning recipe: Adam without bias correction, weight decay 0.01,
// layer-wise learning-rate decay 0.8, lr 1e-4 (Small), 3 epochs, batch 32,
// linear warmup over the first 10% of steps then linear decay, gradient
// clipping at global norm 1.
//
// The head is HuggingFace's ElectraClassificationHead (dense, GELU,
// dropout, out_proj on the [CLS] position), so a fine-tuned model exports
// as ElectraForSequenceClassification.
package finetune

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/torch"
)

// Config is the fine-tuning recipe. Zero fields take the paper's values
// (Defaults).
type Config struct {
	LR         float64 // peak learning rate of the head; 1e-4 (ELECTRA-Small), 5e-5 Base
	LayerDecay float64 // lr of depth d = LR * LayerDecay^(layers+2-d); 0.8
	Epochs     int     // 3
	Batch      int     // 32
	WarmupFrac float64 // fraction of steps with linear warmup; 0.1
	MaxLen     int     // tokens per example, [CLS] and [SEP]s included; 128
	Seed       uint64  // head init, dropout, shuffling
	Adam       trainer.AdamConfig
}

// Defaults is the paper's fine-tuning recipe for ELECTRA-Small.
func Defaults() Config {
	return Config{LR: 1e-4, LayerDecay: 0.8, Epochs: 3, Batch: 32, WarmupFrac: 0.1, MaxLen: 128, Seed: 1, Adam: trainer.DefaultAdam()}
}

func (c Config) withDefaults() Config {
	d := Defaults()
	if c.LR == 0 {
		c.LR = d.LR
	}
	if c.LayerDecay == 0 {
		c.LayerDecay = d.LayerDecay
	}
	if c.Epochs == 0 {
		c.Epochs = d.Epochs
	}
	if c.Batch == 0 {
		c.Batch = d.Batch
	}
	if c.WarmupFrac == 0 {
		c.WarmupFrac = d.WarmupFrac
	}
	if c.MaxLen == 0 {
		c.MaxLen = d.MaxLen
	}
	if c.Adam == (trainer.AdamConfig{}) {
		c.Adam = d.Adam
	}
	return c
}

// Example is one encoded input: [CLS] a [SEP] (b [SEP]) with segments 0
// then 1, and its target (Label for classification, Score for regression).
type Example struct {
	IDs      []int32
	Segments []int8
	Label    int
	Score    float64
}

// Encode builds an Example's input from the WordPiece ids of one or two
// texts, truncating the longer text one token at a time until the whole
// fits in maxLen (BERT's _truncate_seq_pair).
func Encode(a, b []int32, maxLen int, tok trainer.SpecialTokens) (ids []int32, segs []int8) {
	special := 2
	if b != nil {
		special = 3
	}
	room := max(maxLen-special, 0)
	for len(a)+len(b) > room {
		if len(a) >= len(b) {
			a = a[:len(a)-1]
		} else {
			b = b[:len(b)-1]
		}
	}
	ids = append(ids, tok.CLS)
	ids = append(ids, a...)
	ids = append(ids, tok.SEP)
	segs = make([]int8, len(ids), len(ids)+len(b)+1)
	if b != nil {
		ids = append(ids, b...)
		ids = append(ids, tok.SEP)
		for len(segs) < len(ids) {
			segs = append(segs, 1)
		}
	}
	return ids, segs
}

// Body is the pre-trained encoder a head sits on: shared embeddings, the
// encoder stack, and its parameters under HuggingFace names (electra.*).
type Body struct {
	Embeddings *trainer.Embeddings
	Encoder    *trainer.Encoder
	Hidden     int
	Params     []*trainer.Param
}

// DiscriminatorBody is ELECTRA's discriminator encoder: what the paper
// fine-tunes.
func DiscriminatorBody(m *trainer.Model) Body {
	return body(m.Discriminator.Embeddings, m.Discriminator.Encoder, m.Config.HiddenSize, m.DiscriminatorParameters())
}

// GeneratorBody is the generator's encoder; with GeneratorFraction 1 it is
// a BERT-sized masked language model, the baseline of the RTD-vs-MLM
// comparison.
func GeneratorBody(m *trainer.Model) Body {
	return body(m.Generator.Embeddings, m.Generator.Encoder, m.Config.Generator().HiddenSize, m.GeneratorParameters())
}

func body(e *trainer.Embeddings, enc *trainer.Encoder, hidden int, named []ts.NamedTensor) Body {
	b := Body{Embeddings: e, Encoder: enc, Hidden: hidden}
	for _, nt := range named {
		if strings.HasPrefix(nt.Name, "electra.") { // not the pre-training heads
			b.Params = append(b.Params, &trainer.Param{Name: nt.Name, Tensor: nt.Tensor})
		}
	}
	return b
}

// Classifier is an encoder body with a sequence-level head. It borrows the
// model (the caller closes it) and owns the head.
type Classifier struct {
	Model     *trainer.Model
	Body      Body
	NumLabels int // 1 means regression
	Head      []*trainer.Param
	dense     *trainer.Param
	out       *trainer.Param
	denseB    *trainer.Param
	outB      *trainer.Param
}

// NewClassifier adds a freshly initialised head (normal, std init_std, as
// HF's _init_weights) for numLabels classes, or regression when 1, on the
// given body of m. Seed libtorch first for a reproducible head.
func NewClassifier(m *trainer.Model, body Body, numLabels int) *Classifier {
	h := int64(body.Hidden)
	n := int64(max(numLabels, 1))
	param := func(name string, t *ts.Tensor) *trainer.Param {
		if m.Device != gotch.CPU {
			t = t.MustTo(m.Device, true)
		}
		t.MustRequiresGrad_(true)
		return &trainer.Param{Name: name, Tensor: t}
	}
	std := ts.FloatScalar(m.Config.InitStd)
	defer std.MustDrop()
	c := &Classifier{Model: m, Body: body, NumLabels: int(n)}
	c.dense = param("classifier.dense.weight", ts.MustRandn([]int64{h, h}, gotch.Float, gotch.CPU).MustMulScalar(std, true))
	c.denseB = param("classifier.dense.bias", ts.MustZeros([]int64{h}, gotch.Float, gotch.CPU))
	c.out = param("classifier.out_proj.weight", ts.MustRandn([]int64{n, h}, gotch.Float, gotch.CPU).MustMulScalar(std, true))
	c.outB = param("classifier.out_proj.bias", ts.MustZeros([]int64{n}, gotch.Float, gotch.CPU))
	c.Head = []*trainer.Param{c.dense, c.denseB, c.out, c.outB}
	return c
}

// Close drops the head (not the model).
func (c *Classifier) Close() {
	for _, p := range c.Head {
		p.Tensor.MustDrop()
	}
	c.Head = nil
}

// Params are the trained parameters, body then head, under HuggingFace
// ElectraForSequenceClassification names.
func (c *Classifier) Params() []*trainer.Param {
	return append(append([]*trainer.Param{}, c.Body.Params...), c.Head...)
}

// HFTensors are Params by name: the state_dict of
// ElectraForSequenceClassification (see hf.Keys). Live tensors; do not
// drop them.
func (c *Classifier) HFTensors() map[string]*ts.Tensor {
	m := map[string]*ts.Tensor{}
	for _, p := range c.Params() {
		m[p.Name] = p.Tensor
	}
	return m
}

// Forward maps ids and segments [B, L] (int64) with additive attention mask
// [B, 1, 1, L] to logits [B, NumLabels].
func (c *Classifier) Forward(s *torch.Scope, ids, segs, maskAdd *ts.Tensor, train bool) *ts.Tensor {
	x := c.Body.Embeddings.Forward(s, ids, segs, train) // [B, L, E]
	h := c.Body.Encoder.Forward(s, x, maskAdd, train)   // [B, L, H]
	cls := s.Keep(h.MustSelect(1, 0, false))            // [B, H], the [CLS] position
	p := c.Model.Config.Dropout
	cls = s.Keep(ts.MustDropout(cls, p, train))
	cls = s.Keep(ts.MustLinear(cls, c.dense.Tensor, c.denseB.Tensor))
	cls = s.Keep(cls.MustGelu(false))
	cls = s.Keep(ts.MustDropout(cls, p, train))
	return s.Keep(ts.MustLinear(cls, c.out.Tensor, c.outB.Tensor)) // [B, N]
}

// depth is the reference's layer-wise decay depth (model/optimization.py,
// _get_layer_lrs): embeddings 0, encoder layer i at i+1, the task head at
// layers+2.
func depth(name string, layers int) (int, error) {
	switch {
	case strings.HasPrefix(name, "electra.embeddings.") || strings.HasPrefix(name, "electra.embeddings_project."):
		return 0, nil
	case strings.HasPrefix(name, "classifier."):
		return layers + 2, nil
	case strings.HasPrefix(name, "electra.encoder.layer."):
		rest := strings.TrimPrefix(name, "electra.encoder.layer.")
		i, err := strconv.Atoi(rest[:max(strings.IndexByte(rest, '.'), 0)])
		if err == nil && i >= 0 && i < layers {
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("finetune: no layer-wise learning rate for parameter %q", name)
}

// LayerScales is each parameter's learning-rate multiplier,
// decay^(layers+2-depth).
func LayerScales(params []*trainer.Param, layers int, decay float64) ([]float64, error) {
	out := make([]float64, len(params))
	for i, p := range params {
		d, err := depth(p.Name, layers)
		if err != nil {
			return nil, err
		}
		out[i] = math.Pow(decay, float64(layers+2-d))
	}
	return out, nil
}

// batchTensors pads a batch to its longest example and builds ids, segments
// and the additive attention mask (0 on tokens, -10000 on padding).
func batchTensors(s *torch.Scope, exs []Example, pad int32, dev gotch.Device) (ids, segs, maskAdd *ts.Tensor) {
	B, L := len(exs), 0
	for _, e := range exs {
		L = max(L, len(e.IDs))
	}
	id := make([]int64, B*L)
	sg := make([]int64, B*L)
	mk := make([]float32, B*L)
	for i, e := range exs {
		for j := 0; j < L; j++ {
			k := i*L + j
			if j < len(e.IDs) {
				id[k], sg[k] = int64(e.IDs[j]), int64(e.Segments[j])
			} else {
				id[k], mk[k] = int64(pad), -10000
			}
		}
	}
	put := func(t *ts.Tensor) *ts.Tensor {
		if dev != gotch.CPU {
			t = t.MustTo(dev, true)
		}
		return s.Keep(t)
	}
	ids = put(ts.MustOfSlice(id).MustView([]int64{int64(B), int64(L)}, true))
	segs = put(ts.MustOfSlice(sg).MustView([]int64{int64(B), int64(L)}, true))
	maskAdd = put(ts.MustOfSlice(mk).MustView([]int64{int64(B), 1, 1, int64(L)}, true))
	return ids, segs, maskAdd
}

func (c *Classifier) loss(s *torch.Scope, logits *ts.Tensor, exs []Example) *ts.Tensor {
	dev := c.Model.Device
	if c.NumLabels == 1 {
		y := make([]float32, len(exs))
		for i, e := range exs {
			y[i] = float32(e.Score)
		}
		target := s.Keep(ts.MustOfSlice(y))
		if dev != gotch.CPU {
			target = s.Keep(target.MustTo(dev, false))
		}
		pred := s.Keep(logits.MustSqueezeDim(-1, false))
		return s.Keep(pred.MustMseLoss(target, 1, false)) // 1: mean
	}
	y := make([]int64, len(exs))
	for i, e := range exs {
		y[i] = int64(e.Label)
	}
	target := s.Keep(ts.MustOfSlice(y))
	if dev != gotch.CPU {
		target = s.Keep(target.MustTo(dev, false))
	}
	none := s.Keep(ts.NewTensor())
	return s.Keep(logits.MustCrossEntropyLoss(target, none, 1, -100, 0, false))
}

// Progress reports one training step.
type Progress struct {
	Step, Steps, Epoch int
	Loss, LR           float64
}

// Train fine-tunes c on train for cfg.Epochs epochs, shuffling each epoch
// with (Seed, epoch). progress, if not nil, sees every step. It returns
// the mean training loss of each epoch. The caller holds the thread lock.
func Train(ctx context.Context, c *Classifier, train []Example, cfg Config, progress func(Progress)) ([]float64, error) {
	cfg = cfg.withDefaults()
	if len(train) == 0 {
		return nil, fmt.Errorf("finetune: no training examples")
	}
	params := c.Params()
	scales, err := LayerScales(params, c.Model.Config.NumLayers, cfg.LayerDecay)
	if err != nil {
		return nil, err
	}
	// One optimizer per learning-rate group; clipping is done here, over
	// all groups together, as tf.clip_by_global_norm does.
	groups := map[float64][]*trainer.Param{}
	for i, p := range params {
		groups[scales[i]] = append(groups[scales[i]], p)
	}
	adam := cfg.Adam
	clip := adam.ClipNorm
	adam.ClipNorm = 0
	opts := map[float64]*trainer.Optimizer{}
	for sc, ps := range groups {
		opts[sc] = trainer.NewOptimizer(ps, adam)
	}
	defer func() {
		for _, o := range opts {
			o.Close()
		}
	}()

	perEpoch := (len(train) + cfg.Batch - 1) / cfg.Batch
	total := perEpoch * cfg.Epochs
	sched := trainer.Schedule{Peak: cfg.LR, Warmup: int(math.Round(cfg.WarmupFrac * float64(total))), Total: total}
	order := make([]int, len(train))
	for i := range order {
		order[i] = i
	}
	var epochLoss []float64
	step := 0
	for epoch := 0; epoch < cfg.Epochs; epoch++ {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(epoch)))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		sum := 0.0
		for b := 0; b < perEpoch; b++ {
			if err := ctx.Err(); err != nil {
				return epochLoss, err
			}
			idx := order[b*cfg.Batch : min((b+1)*cfg.Batch, len(order))]
			batch := make([]Example, len(idx))
			for i, k := range idx {
				batch[i] = train[k]
			}
			torch.Seed(int64(cfg.Seed*1_000_003 + uint64(step))) // dropout of this step
			l, err := c.step(batch, sched.At(step), clip, opts)
			if err != nil {
				return epochLoss, err
			}
			sum += l
			step++
			if progress != nil {
				progress(Progress{Step: step, Steps: total, Epoch: epoch + 1, Loss: l, LR: sched.At(step - 1)})
			}
		}
		epochLoss = append(epochLoss, sum/float64(perEpoch))
	}
	return epochLoss, nil
}

func (c *Classifier) step(batch []Example, lr, clip float64, opts map[float64]*trainer.Optimizer) (float64, error) {
	s := torch.NewScope()
	defer s.Close()
	ids, segs, mask := batchTensors(s, batch, c.Model.Config.Tokens.Pad, c.Model.Device)
	logits := c.Forward(s, ids, segs, mask, true)
	loss := c.loss(s, logits, batch)
	loss.MustBackward()
	l := loss.Float64Values()[0]
	if math.IsNaN(l) || math.IsInf(l, 0) {
		return l, fmt.Errorf("finetune: loss became %v; lower the learning rate", l)
	}
	if clip > 0 {
		clipGlobalNorm(c.Params(), clip)
	}
	for sc, o := range opts {
		o.Step(lr * sc)
	}
	return l, nil
}

// clipGlobalNorm scales every gradient by clip/max(norm, clip).
func clipGlobalNorm(params []*trainer.Param, clip float64) {
	s := torch.NewScope()
	defer s.Close()
	defer torch.NoGrad()()
	var grads []*ts.Tensor
	total := 0.0
	for _, p := range params {
		g := s.Keep(p.Tensor.MustGrad(false))
		if !g.MustDefined() {
			continue
		}
		n := s.Keep(g.MustNorm(false)).Float64Values()[0]
		total += n * n
		grads = append(grads, g)
	}
	norm := math.Sqrt(total)
	if norm <= clip {
		return
	}
	f := ts.FloatScalar(clip / norm)
	defer f.MustDrop()
	for _, g := range grads {
		g.MustMulScalar_(f)
	}
}

// Predict runs the classifier in eval mode: class indexes (classification)
// or scores (regression).
func Predict(c *Classifier, exs []Example, batch int) (labels []int, scores []float64) {
	defer torch.NoGrad()()
	if batch <= 0 {
		batch = 64
	}
	for b := 0; b < len(exs); b += batch {
		s := torch.NewScope()
		part := exs[b:min(b+batch, len(exs))]
		ids, segs, mask := batchTensors(s, part, c.Model.Config.Tokens.Pad, c.Model.Device)
		logits := c.Forward(s, ids, segs, mask, false)
		if c.NumLabels == 1 {
			scores = append(scores, s.Keep(logits.MustSqueezeDim(-1, false)).Float64Values()...)
		} else {
			for _, v := range s.Keep(logits.MustArgmax([]int64{-1}, false, false)).Int64Values() {
				labels = append(labels, int(v))
			}
		}
		s.Close()
	}
	return labels, scores
}
