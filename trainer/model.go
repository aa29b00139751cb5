package trainer

import (
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

// Model is ELECTRA for pre-training: a generator and a discriminator that
// share their embeddings. It owns its parameters; Close frees them.
type Model struct {
	Config        Config
	Device        gotch.Device
	Params        *Params
	Embeddings    *Embeddings
	Generator     *Generator
	Discriminator *Discriminator
	// Precision of the two forward passes: FP32 (the zero value) or BF16
	// autocast. Losses and sampling are float32 either way.
	Precision torch.Precision
}

// sharedPrefix is where the shared embeddings live in Params.
const sharedPrefix = "discriminator.electra.embeddings"

// New builds the model on device with freshly initialised weights drawn
// from libtorch's generator (seed it first with torch.Seed). The caller
// must hold the thread lock (torch.LockThread).
func New(c Config, device gotch.Device) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := newParams(device, c.InitStd)
	emb := newEmbeddings(p, sharedPrefix, c)
	return &Model{
		Config:        c,
		Device:        device,
		Params:        p,
		Embeddings:    emb,
		Discriminator: newDiscriminator(p, emb, c),
		Generator:     newGenerator(p, emb, c),
	}, nil
}

// Close frees every parameter.
func (m *Model) Close() { m.Params.Close() }

// DiscriminatorParameters lists the discriminator's parameters under
// HuggingFace ElectraForPreTraining names, in a stable order. The tensors
// are the live parameters (not copies): do not drop them.
func (m *Model) DiscriminatorParameters() []ts.NamedTensor {
	var out []ts.NamedTensor
	for _, p := range m.Params.List() {
		if name, ok := strings.CutPrefix(p.Name, "discriminator."); ok {
			out = append(out, ts.NamedTensor{Name: name, Tensor: p.Tensor})
		}
	}
	return out
}

// GeneratorParameters lists the generator's parameters under HuggingFace
// ElectraForMaskedLM names, in a stable order: the shared embeddings appear
// as electra.embeddings.*, and generator_lm_head.weight is the word
// embedding matrix itself (tied). The tensors are the live parameters.
func (m *Model) GeneratorParameters() []ts.NamedTensor {
	var out []ts.NamedTensor
	for _, p := range m.Params.List() {
		if rest, ok := strings.CutPrefix(p.Name, sharedPrefix); ok {
			out = append(out, ts.NamedTensor{Name: "electra.embeddings" + rest, Tensor: p.Tensor})
		}
	}
	for _, p := range m.Params.List() {
		if name, ok := strings.CutPrefix(p.Name, "generator."); ok {
			out = append(out, ts.NamedTensor{Name: name, Tensor: p.Tensor})
			if name == "generator_lm_head.bias" {
				out = append(out, ts.NamedTensor{Name: "generator_lm_head.weight", Tensor: m.Embeddings.Word})
			}
		}
	}
	return out
}

// DiscriminatorSize is the number of scalars in the discriminator,
// embeddings included: the figure the paper quotes (14M for Small).
func (m *Model) DiscriminatorSize() int64 { return m.Params.Count("discriminator.") }

// GeneratorSize is the number of scalars only the generator owns (the
// shared embeddings are counted in DiscriminatorSize).
func (m *Model) GeneratorSize() int64 { return m.Params.Count("generator.") }
