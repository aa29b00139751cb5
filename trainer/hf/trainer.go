package hf

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/torch"
)

// GeneratorDir is where ExportModel puts the generator, under the
// discriminator's directory.
const GeneratorDir = "generator"

func shapeOf(c trainer.Config) Shape {
	return Shape{
		VocabSize: c.VocabSize, EmbeddingSize: c.EmbeddingSize, HiddenSize: c.HiddenSize,
		NumLayers: c.NumLayers, NumHeads: c.NumHeads, IntermediateSize: c.IntermediateSize,
		MaxPositions: c.MaxPositions, TypeVocabSize: c.TypeVocabSize,
	}
}

// DiscriminatorConfig is the ElectraConfig of c's discriminator.
func DiscriminatorConfig(c trainer.Config) Config {
	hc := NewConfig(PreTraining, shapeOf(c), c.LayerNormEps, c.Dropout)
	hc.InitializerRange, hc.PadTokenID = c.InitStd, int(c.Tokens.Pad)
	return hc
}

// GeneratorConfig is the ElectraConfig of c's generator.
func GeneratorConfig(c trainer.Config) Config {
	hc := NewConfig(MaskedLM, shapeOf(c.Generator()), c.LayerNormEps, c.Dropout)
	hc.InitializerRange, hc.PadTokenID = c.InitStd, int(c.Tokens.Pad)
	return hc
}

func named(list []ts.NamedTensor) map[string]*ts.Tensor {
	m := make(map[string]*ts.Tensor, len(list))
	for _, nt := range list {
		m[nt.Name] = nt.Tensor
	}
	return m
}

// ExportModel writes m's discriminator to dir as ElectraForPreTraining and,
// with withGenerator, its generator to dir/generator as ElectraForMaskedLM.
func ExportModel(dir string, m *trainer.Model, withGenerator bool, tok Tokenizer) error {
	if err := Export(dir, DiscriminatorConfig(m.Config), named(m.DiscriminatorParameters()), tok); err != nil {
		return err
	}
	if withGenerator {
		return Export(filepath.Join(dir, GeneratorDir), GeneratorConfig(m.Config), named(m.GeneratorParameters()), tok)
	}
	return nil
}

// TrainerConfig rebuilds a trainer.Config from an exported discriminator
// config and, when there is one, the generator's. Without a generator the
// generator gets base's fraction (1/4), freshly initialised later. The
// recipe fields come from base, the paper's defaults for a continued run.
func TrainerConfig(disc Config, gen *Config, base trainer.Config) (trainer.Config, error) {
	c := base
	c.Name = "imported"
	c.VocabSize, c.EmbeddingSize, c.HiddenSize = disc.VocabSize, disc.EmbeddingSize, disc.HiddenSize
	c.NumLayers, c.NumHeads, c.IntermediateSize = disc.NumHiddenLayers, disc.NumAttentionHeads, disc.IntermediateSize
	c.MaxPositions, c.TypeVocabSize = disc.MaxPositionEmbeddings, disc.TypeVocabSize
	c.LayerNormEps, c.Dropout, c.InitStd = disc.LayerNormEps, disc.HiddenDropoutProb, disc.InitializerRange
	c.Tokens.Pad = int32(disc.PadTokenID)
	if c.SeqLen > c.MaxPositions {
		c.SeqLen = c.MaxPositions
	}
	if gen != nil {
		if gen.EmbeddingSize != disc.EmbeddingSize || gen.VocabSize != disc.VocabSize || gen.NumHiddenLayers != disc.NumHiddenLayers {
			return c, fmt.Errorf("generator (embedding %d, vocab %d, %d layers) does not fit the discriminator (%d, %d, %d): ELECTRA shares the embeddings and keeps the depth",
				gen.EmbeddingSize, gen.VocabSize, gen.NumHiddenLayers, disc.EmbeddingSize, disc.VocabSize, disc.NumHiddenLayers)
		}
		c.GeneratorFraction = float64(gen.HiddenSize) / float64(disc.HiddenSize)
		g := c.Generator()
		if g.HiddenSize != gen.HiddenSize || g.IntermediateSize != gen.IntermediateSize || g.NumHeads != gen.NumAttentionHeads {
			return c, fmt.Errorf("generator hidden %d / FFN %d / %d heads is not the discriminator's scaled by %g (%d / %d / %d heads)",
				gen.HiddenSize, gen.IntermediateSize, gen.NumAttentionHeads, c.GeneratorFraction, g.HiddenSize, g.IntermediateSize, g.NumHeads)
		}
	}
	return c, c.Validate()
}

// LoadInto copies an imported discriminator (and generator, if not nil)
// into m's parameters. The generator's copy of the shared embeddings is
// not read: ELECTRA has one set, and it comes from the discriminator.
func LoadInto(m *trainer.Model, disc, gen *Model) error {
	defer torch.NoGrad()()
	copyAll := func(dst map[string]*ts.Tensor, src *Model, what string) error {
		for name, d := range dst {
			s, ok := src.Tensors[name]
			if !ok {
				return fmt.Errorf("import: %s has no tensor %s", what, name)
			}
			if !equalShape(s.MustSize(), d.MustSize()) {
				return fmt.Errorf("import: %s tensor %s has shape %v, the model wants %v", what, name, s.MustSize(), d.MustSize())
			}
			d.Copy_(s)
		}
		return nil
	}
	if err := copyAll(named(m.DiscriminatorParameters()), disc, "discriminator"); err != nil {
		return err
	}
	if gen == nil {
		return nil
	}
	g := named(m.GeneratorParameters())
	for name := range g {
		if strings.HasPrefix(name, "electra.embeddings.") || name == "generator_lm_head.weight" {
			delete(g, name) // shared: already loaded from the discriminator
		}
	}
	return copyAll(g, gen, "generator")
}
