// Package hf moves ELECTRA weights between this project and the HuggingFace
// transformers layout: a directory holding model.safetensors, config.json
// (ElectraConfig), vocab.txt and tokenizer_config.json that
// `ElectraForPreTraining.from_pretrained(dir)` (or ElectraForMaskedLM,
// ElectraForSequenceClassification) loads with no missing or unexpected
// keys.
//
// The parameter names and shapes are HuggingFace's (modeling_electra.py);
// Keys lists them for a config, and Export refuses a set of tensors that
// differs from that list by a single name or dimension.
package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Arch is a HuggingFace ELECTRA model class: which head sits on the encoder.
type Arch string

const (
	// PreTraining is the discriminator: encoder + replaced-token head.
	PreTraining Arch = "ElectraForPreTraining"
	// MaskedLM is the generator: encoder + MLM head tied to the embeddings.
	MaskedLM Arch = "ElectraForMaskedLM"
	// SequenceClassification is a fine-tuned encoder with a
	// classification (or, with one label, regression) head.
	SequenceClassification Arch = "ElectraForSequenceClassification"
)

// Config is HuggingFace's ElectraConfig, field for field as config.json
// spells it. Fields this project does not vary keep HF's defaults (see
// NewConfig).
type Config struct {
	Architectures             []string          `json:"architectures"`
	ModelType                 string            `json:"model_type"`
	VocabSize                 int               `json:"vocab_size"`
	EmbeddingSize             int               `json:"embedding_size"`
	HiddenSize                int               `json:"hidden_size"`
	NumHiddenLayers           int               `json:"num_hidden_layers"`
	NumAttentionHeads         int               `json:"num_attention_heads"`
	IntermediateSize          int               `json:"intermediate_size"`
	HiddenAct                 string            `json:"hidden_act"`
	HiddenDropoutProb         float64           `json:"hidden_dropout_prob"`
	AttentionProbsDropoutProb float64           `json:"attention_probs_dropout_prob"`
	MaxPositionEmbeddings     int               `json:"max_position_embeddings"`
	TypeVocabSize             int               `json:"type_vocab_size"`
	InitializerRange          float64           `json:"initializer_range"`
	LayerNormEps              float64           `json:"layer_norm_eps"`
	SummaryType               string            `json:"summary_type"`
	SummaryUseProj            bool              `json:"summary_use_proj"`
	SummaryActivation         string            `json:"summary_activation"`
	SummaryLastDropout        float64           `json:"summary_last_dropout"`
	PadTokenID                int               `json:"pad_token_id"`
	PositionEmbeddingType     string            `json:"position_embedding_type"`
	UseCache                  bool              `json:"use_cache"`
	ClassifierDropout         *float64          `json:"classifier_dropout"`
	TorchDType                string            `json:"torch_dtype"`
	ProblemType               string            `json:"problem_type,omitempty"`
	ID2Label                  map[string]string `json:"id2label,omitempty"`
	Label2ID                  map[string]int    `json:"label2id,omitempty"`
}

// Shape is the part of a config that decides parameter shapes.
type Shape struct {
	VocabSize, EmbeddingSize, HiddenSize, NumLayers, NumHeads, IntermediateSize int
	MaxPositions, TypeVocabSize                                                 int
	// NumLabels is the classifier's output width (1 = regression); only
	// SequenceClassification uses it.
	NumLabels int
}

// NewConfig is an ElectraConfig for arch with the given shape and HF's
// defaults for everything else (GELU, dropout 0.1, LayerNorm eps 1e-12,
// absolute positions, pad id 0).
func NewConfig(arch Arch, s Shape, layerNormEps, dropout float64) Config {
	c := Config{
		Architectures: []string{string(arch)}, ModelType: "electra",
		VocabSize: s.VocabSize, EmbeddingSize: s.EmbeddingSize, HiddenSize: s.HiddenSize,
		NumHiddenLayers: s.NumLayers, NumAttentionHeads: s.NumHeads, IntermediateSize: s.IntermediateSize,
		HiddenAct: "gelu", HiddenDropoutProb: dropout, AttentionProbsDropoutProb: dropout,
		MaxPositionEmbeddings: s.MaxPositions, TypeVocabSize: s.TypeVocabSize,
		InitializerRange: 0.02, LayerNormEps: layerNormEps,
		SummaryType: "first", SummaryUseProj: true, SummaryActivation: "gelu", SummaryLastDropout: 0.1,
		PadTokenID: 0, PositionEmbeddingType: "absolute", UseCache: true, TorchDType: "float32",
	}
	if arch == SequenceClassification {
		n := max(s.NumLabels, 1)
		c.ID2Label, c.Label2ID = map[string]string{}, map[string]int{}
		for i := 0; i < n; i++ {
			l := fmt.Sprintf("LABEL_%d", i)
			c.ID2Label[fmt.Sprint(i)], c.Label2ID[l] = l, i
		}
		c.ProblemType = "single_label_classification"
		if n == 1 {
			c.ProblemType = "regression"
		}
	}
	return c
}

// Arch is the model class config.json names.
func (c Config) Arch() (Arch, error) {
	if len(c.Architectures) != 1 {
		return "", fmt.Errorf("config.json: architectures %v, want exactly one ELECTRA class", c.Architectures)
	}
	switch a := Arch(c.Architectures[0]); a {
	case PreTraining, MaskedLM, SequenceClassification:
		return a, nil
	default:
		return "", fmt.Errorf("config.json: architecture %q, want %s, %s or %s", a, PreTraining, MaskedLM, SequenceClassification)
	}
}

// Shape extracts the parameter-shaping fields.
func (c Config) Shape() Shape {
	n := len(c.ID2Label)
	if n == 0 {
		n = 2 // HF's default num_labels
	}
	if c.ProblemType == "regression" {
		n = 1
	}
	return Shape{
		VocabSize: c.VocabSize, EmbeddingSize: c.EmbeddingSize, HiddenSize: c.HiddenSize,
		NumLayers: c.NumHiddenLayers, NumHeads: c.NumAttentionHeads, IntermediateSize: c.IntermediateSize,
		MaxPositions: c.MaxPositionEmbeddings, TypeVocabSize: c.TypeVocabSize, NumLabels: n,
	}
}

// maxDim bounds every size in config.json: far above any real ELECTRA
// (vocabularies of a few hundred thousand, 24 layers), low enough that a
// corrupt file cannot make us plan a petabyte of weights.
const maxDim = 1 << 22

// Validate names the first field that cannot describe a model.
func (c Config) Validate() error {
	if c.ModelType != "electra" {
		return fmt.Errorf("config.json: model_type %q, want \"electra\"", c.ModelType)
	}
	if _, err := c.Arch(); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"embedding_size", c.EmbeddingSize}, {"hidden_size", c.HiddenSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"intermediate_size", c.IntermediateSize}, {"max_position_embeddings", c.MaxPositionEmbeddings},
		{"type_vocab_size", c.TypeVocabSize},
	} {
		if f.v <= 0 || f.v > maxDim {
			return fmt.Errorf("config.json: %s = %d, must be in [1, %d]", f.name, f.v, maxDim)
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("config.json: hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if c.NumHiddenLayers > 1024 {
		return fmt.Errorf("config.json: num_hidden_layers = %d; more than 1024 is not a model this tool can hold", c.NumHiddenLayers)
	}
	if c.HiddenAct != "gelu" {
		return fmt.Errorf("config.json: hidden_act %q; this project's encoder computes exact (erf) GELU, \"gelu\"", c.HiddenAct)
	}
	if c.PositionEmbeddingType != "absolute" {
		return fmt.Errorf("config.json: position_embedding_type %q; only \"absolute\" is supported", c.PositionEmbeddingType)
	}
	return nil
}

// ReadConfig reads and validates dir/config.json.
func ReadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Config{}, fmt.Errorf("%s: not found; is %s a HuggingFace model directory (export-model writes one)?", path, dir)
		}
		return Config{}, err
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
