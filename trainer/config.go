package trainer

import (
	"fmt"
	"sort"
)

// Config is one ELECTRA model and its pre-training recipe. Field names follow
// the paper and google-research/electra's configure_pretraining.py; the zero
// value is not usable, start from a preset (Preset) and override.
type Config struct {
	Name string `json:"name"`

	// Transformer shape of the discriminator.
	VocabSize        int     `json:"vocab_size"`        // WordPiece vocabulary, 30522 for BERT uncased
	EmbeddingSize    int     `json:"embedding_size"`    // E; projected to HiddenSize when different
	HiddenSize       int     `json:"hidden_size"`       // H
	NumLayers        int     `json:"num_layers"`        // encoder blocks, the generator has as many
	NumHeads         int     `json:"num_heads"`         // attention heads; H/heads = 64 in every preset
	IntermediateSize int     `json:"intermediate_size"` // FFN inner width, 4H
	MaxPositions     int     `json:"max_positions"`     // rows of the position table, 512
	TypeVocabSize    int     `json:"type_vocab_size"`   // segments, 2
	Dropout          float64 `json:"dropout"`           // hidden and attention-probability dropout, 0.1
	LayerNormEps     float64 `json:"layer_norm_eps"`    // 1e-12 as in BERT
	InitStd          float64 `json:"init_std"`          // truncated-normal std of weights, 0.02

	// GeneratorFraction scales the generator's hidden size, FFN width and
	// heads relative to the discriminator's (the paper's 1/4 or 1/3).
	GeneratorFraction float64 `json:"generator_fraction"`

	// Objective.
	MaskProb       float64 `json:"mask_prob"`       // fraction of tokens masked, 0.15 (0.25 for Large)
	MaxPredictions int     `json:"max_predictions"` // cap per example, (mask_prob+0.005)*seq
	DiscWeight     float64 `json:"disc_weight"`     // lambda in loss = MLM + lambda*disc, 50
	Temperature    float64 `json:"temperature"`     // Gumbel sampling temperature, 1

	// Recipe.
	SeqLen       int     `json:"seq_len"`
	BatchSize    int     `json:"batch_size"`
	LearningRate float64 `json:"learning_rate"`
	WarmupSteps  int     `json:"warmup_steps"`
	TrainSteps   int     `json:"train_steps"`
	WeightDecay  float64 `json:"weight_decay"` // decoupled, 0.01, not on LayerNorm or biases
	ClipNorm     float64 `json:"clip_norm"`    // global gradient norm, 1.0

	Tokens SpecialTokens `json:"tokens"`
}

// SpecialTokens are the vocabulary ids the objective treats specially.
// Defaults are BERT uncased's.
type SpecialTokens struct {
	Pad  int32 `json:"pad"`
	CLS  int32 `json:"cls"`
	SEP  int32 `json:"sep"`
	Mask int32 `json:"mask"`
}

var bertTokens = SpecialTokens{Pad: 0, CLS: 101, SEP: 102, Mask: 103}

func base() Config {
	return Config{
		VocabSize: 30522, MaxPositions: 512, TypeVocabSize: 2,
		Dropout: 0.1, LayerNormEps: 1e-12, InitStd: 0.02,
		MaskProb: 0.15, DiscWeight: 50, Temperature: 1,
		WarmupSteps: 10000, WeightDecay: 0.01, ClipNorm: 1.0,
		Tokens: bertTokens,
	}
}

// presets holds the paper's configurations (ELECTRA, Clark et al. 2020,
// Table 6) plus tiny, a 2-layer model for tests and CPU demos.
var presets = map[string]func() Config{
	"tiny": func() Config {
		c := base()
		c.Name = "tiny"
		c.EmbeddingSize, c.HiddenSize, c.NumLayers, c.NumHeads, c.IntermediateSize = 64, 128, 2, 2, 512
		c.GeneratorFraction = 0.25
		c.SeqLen, c.BatchSize, c.LearningRate, c.WarmupSteps, c.TrainSteps = 64, 16, 1e-3, 50, 1000
		return c
	},
	"small": func() Config {
		c := base()
		c.Name = "small"
		c.EmbeddingSize, c.HiddenSize, c.NumLayers, c.NumHeads, c.IntermediateSize = 128, 256, 12, 4, 1024
		c.GeneratorFraction = 0.25
		c.SeqLen, c.BatchSize, c.LearningRate, c.TrainSteps = 128, 128, 5e-4, 1_000_000
		return c
	},
	"base": func() Config {
		c := base()
		c.Name = "base"
		c.EmbeddingSize, c.HiddenSize, c.NumLayers, c.NumHeads, c.IntermediateSize = 768, 768, 12, 12, 3072
		c.GeneratorFraction = 1.0 / 3
		c.SeqLen, c.BatchSize, c.LearningRate, c.TrainSteps = 512, 256, 2e-4, 766_000
		return c
	},
	"large": func() Config {
		c := base()
		c.Name = "large"
		c.EmbeddingSize, c.HiddenSize, c.NumLayers, c.NumHeads, c.IntermediateSize = 1024, 1024, 24, 16, 4096
		c.GeneratorFraction = 0.25
		c.MaskProb = 0.25
		c.SeqLen, c.BatchSize, c.LearningRate, c.TrainSteps = 512, 2048, 2e-4, 400_000
		return c
	},
}

// Preset returns the named configuration: tiny, small, base or large.
func Preset(name string) (Config, error) {
	f, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("config %q: want one of %v", name, PresetNames())
	}
	c := f()
	c.MaxPredictions = maxPredictions(c.MaskProb, c.SeqLen)
	return c, nil
}

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// maxPredictions is the reference's max_predictions_per_seq:
// int((mask_prob + 0.005) * max_seq_length), 19 for 0.15 x 128.
func maxPredictions(maskProb float64, seqLen int) int {
	return int((maskProb + 0.005) * float64(seqLen))
}

// Generator is the generator's transformer shape: the discriminator's
// depth and embedding size, hidden and FFN width scaled by
// GeneratorFraction, and one head per 64 hidden units (at least one), as in
// the reference's get_generator_config.
func (c Config) Generator() Config {
	g := c
	g.HiddenSize = int(float64(c.HiddenSize)*c.GeneratorFraction + 0.5)
	g.IntermediateSize = int(float64(c.IntermediateSize)*c.GeneratorFraction + 0.5)
	g.NumHeads = max(1, g.HiddenSize/64)
	return g
}

// Validate checks the fields the model and objective rely on and names the
// first that is wrong.
func (c Config) Validate() error {
	positive := []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"embedding_size", c.EmbeddingSize}, {"hidden_size", c.HiddenSize},
		{"num_layers", c.NumLayers}, {"num_heads", c.NumHeads}, {"intermediate_size", c.IntermediateSize},
		{"max_positions", c.MaxPositions}, {"type_vocab_size", c.TypeVocabSize}, {"seq_len", c.SeqLen},
		{"batch_size", c.BatchSize}, {"max_predictions", c.MaxPredictions},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return fmt.Errorf("config %s: %s = %d, must be > 0", c.Name, p.name, p.v)
		}
	}
	if c.HiddenSize%c.NumHeads != 0 {
		return fmt.Errorf("config %s: hidden_size %d is not a multiple of num_heads %d", c.Name, c.HiddenSize, c.NumHeads)
	}
	if g := c.Generator(); g.HiddenSize%g.NumHeads != 0 || g.HiddenSize <= 0 {
		return fmt.Errorf("config %s: generator hidden size %d (fraction %g) does not split into %d heads", c.Name, g.HiddenSize, c.GeneratorFraction, g.NumHeads)
	}
	if c.SeqLen > c.MaxPositions {
		return fmt.Errorf("config %s: seq_len %d exceeds max_positions %d", c.Name, c.SeqLen, c.MaxPositions)
	}
	if c.MaskProb <= 0 || c.MaskProb >= 1 {
		return fmt.Errorf("config %s: mask_prob %g must be in (0, 1)", c.Name, c.MaskProb)
	}
	if c.Dropout < 0 || c.Dropout >= 1 {
		return fmt.Errorf("config %s: dropout %g must be in [0, 1)", c.Name, c.Dropout)
	}
	if c.LearningRate <= 0 || c.TrainSteps <= 0 {
		return fmt.Errorf("config %s: learning_rate %g and train_steps %d must be > 0", c.Name, c.LearningRate, c.TrainSteps)
	}
	return nil
}
