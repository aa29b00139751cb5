package hf

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/safetensors"
)

// Model is a HuggingFace model directory's content in memory: the config
// and one tensor per state_dict key. The tensors belong to the Model; Close
// drops them.
type Model struct {
	Config  Config
	Tensors map[string]*ts.Tensor
}

// Close drops every tensor.
func (m *Model) Close() {
	for _, t := range m.Tensors {
		t.MustDrop()
	}
	m.Tensors = nil
}

// Tokenizer describes the vocabulary file and casing written next to the
// weights.
type Tokenizer struct {
	VocabPath    string // a BERT WordPiece vocab.txt, copied as is
	DoLowerCase  bool
	MaxLength    int // model_max_length, normally max_position_embeddings
	StripAccents *bool
}

// Export writes dir/{model.safetensors, config.json, vocab.txt,
// tokenizer_config.json, special_tokens_map.json}. tensors must be exactly
// the state_dict of cfg's architecture (Keys): a missing, extra or
// misshapen tensor is an error, never a file HF would half-load.
func Export(dir string, cfg Config, tensors map[string]*ts.Tensor, tok Tokenizer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	arch, _ := cfg.Arch()
	shapes := make(map[string][]int64, len(tensors))
	for n, t := range tensors {
		shapes[n] = t.MustSize()
	}
	if err := CheckKeys(arch, cfg.Shape(), shapes); err != nil {
		return fmt.Errorf("export %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	out := make([]safetensors.Tensor, 0, len(tensors))
	for _, k := range Keys(arch, cfg.Shape()) {
		st, err := toSafetensor(k.Name, tensors[k.Name])
		if err != nil {
			return fmt.Errorf("export %s: %w", dir, err)
		}
		out = append(out, st)
	}
	// "format": "pt" is what transformers checks before loading a
	// safetensors file as PyTorch weights.
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), out, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "config.json"), cfg); err != nil {
		return err
	}
	return writeTokenizer(dir, tok, cfg)
}

func writeTokenizer(dir string, tok Tokenizer, cfg Config) error {
	if tok.VocabPath == "" {
		return fmt.Errorf("export %s: no vocabulary given (vocab.txt is part of a HuggingFace model directory)", dir)
	}
	if err := copyFile(tok.VocabPath, filepath.Join(dir, "vocab.txt")); err != nil {
		return fmt.Errorf("export %s: copy vocabulary: %w", dir, err)
	}
	maxLen := tok.MaxLength
	if maxLen <= 0 {
		maxLen = cfg.MaxPositionEmbeddings
	}
	special := map[string]string{
		"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]",
	}
	tc := map[string]any{
		"tokenizer_class":              "ElectraTokenizer",
		"do_lower_case":                tok.DoLowerCase,
		"do_basic_tokenize":            true,
		"tokenize_chinese_chars":       true,
		"strip_accents":                tok.StripAccents,
		"model_max_length":             maxLen,
		"clean_up_tokenization_spaces": true,
	}
	for k, v := range special {
		tc[k] = v
	}
	if err := writeJSON(filepath.Join(dir, "tokenizer_config.json"), tc); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "special_tokens_map.json"), special)
}

// Import reads a HuggingFace ELECTRA directory: config.json and every
// tensor of model.safetensors, checked against Keys. A file saved by
// transformers itself may omit generator_lm_head.weight (tied to the word
// embeddings, dropped as a shared tensor); Import restores it as a view of them.
func Import(dir string, device gotch.Device) (*Model, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	arch, _ := cfg.Arch()
	path := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	shapes := map[string][]int64{}
	for _, in := range f.Tensors() {
		shapes[in.Name] = in.Shape
	}
	const tied, word = "generator_lm_head.weight", "electra.embeddings.word_embeddings.weight"
	restoreTied := false
	if _, ok := shapes[tied]; !ok && arch == MaskedLM {
		if s, ok := shapes[word]; ok {
			shapes[tied], restoreTied = s, true
		}
	}
	if err := CheckKeys(arch, cfg.Shape(), shapes); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m := &Model{Config: cfg, Tensors: map[string]*ts.Tensor{}}
	for _, in := range f.Tensors() {
		data, err := f.Read(in.Name)
		if err != nil {
			m.Close()
			return nil, err
		}
		t, err := fromSafetensor(in, data, device)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		m.Tensors[in.Name] = t
	}
	if restoreTied {
		m.Tensors[tied] = m.Tensors[word].MustDetach(false) // shares storage: tied, as in HF
	}
	return m, nil
}

// toSafetensor copies a float32 or int64 tensor, wherever it lives, into
// little-endian bytes.
func toSafetensor(name string, t *ts.Tensor) (safetensors.Tensor, error) {
	shape := t.MustSize()
	cpu := t.MustTo(gotch.CPU, false)
	c := cpu.MustContiguous(true)
	defer c.MustDrop()
	n := c.Numel()
	switch c.DType() {
	case gotch.Float:
		v := make([]float32, n)
		if n > 0 {
			if err := c.CopyData(v, n); err != nil {
				return safetensors.Tensor{}, fmt.Errorf("tensor %s: %w", name, err)
			}
		}
		b := make([]byte, 4*n)
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return safetensors.Tensor{Name: name, DType: safetensors.F32, Shape: shape, Data: b}, nil
	case gotch.Int64:
		v := make([]int64, n)
		if n > 0 {
			if err := c.CopyData(v, n); err != nil {
				return safetensors.Tensor{}, fmt.Errorf("tensor %s: %w", name, err)
			}
		}
		b := make([]byte, 8*n)
		for i, x := range v {
			binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
		}
		return safetensors.Tensor{Name: name, DType: safetensors.I64, Shape: shape, Data: b}, nil
	default:
		return safetensors.Tensor{}, fmt.Errorf("tensor %s: dtype %v; export writes float32 weights (convert first)", name, c.DType())
	}
}

// fromSafetensor builds a float32 tensor (F32, F16 or BF16 in the file) or
// an int64 one on device.
func fromSafetensor(in safetensors.Info, data []byte, device gotch.Device) (*ts.Tensor, error) {
	var t *ts.Tensor
	var err error
	switch in.DType {
	case safetensors.F32:
		t, err = ts.OfDataSize(data, in.Shape, gotch.Float)
	case safetensors.BF16, safetensors.F16:
		// Widen on the Go side: gotch v0.7.0 has no half-precision
		// element type to hand libtorch.
		out := make([]byte, len(data)*2)
		for i := 0; i < len(data)/2; i++ {
			h := binary.LittleEndian.Uint16(data[2*i:])
			var f float32
			if in.DType == safetensors.BF16 {
				f = math.Float32frombits(uint32(h) << 16)
			} else {
				f = halfToFloat(h)
			}
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(f))
		}
		t, err = ts.OfDataSize(out, in.Shape, gotch.Float)
	case safetensors.I64:
		t, err = ts.OfDataSize(data, in.Shape, gotch.Int64)
	default:
		return nil, fmt.Errorf("tensor %s: dtype %s; import reads F32, F16, BF16 and I64", in.Name, in.DType)
	}
	if err != nil {
		return nil, fmt.Errorf("tensor %s: %w", in.Name, err)
	}
	if device != gotch.CPU {
		t = t.MustTo(device, true)
	}
	return t, nil
}

// halfToFloat widens an IEEE 754 binary16 value.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(frac) / 1024 / 16384
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
