package hf

import (
	"fmt"
	"sort"
)

// Key is one entry of a HuggingFace state_dict: name and shape.
type Key struct {
	Name  string
	Shape []int64
}

// Keys is the exact state_dict of arch for shape s, in module order, as
// transformers' modeling_electra.py builds it: buffers registered with
// persistent=False (position_ids, token_type_ids) are not in it.
// generator_lm_head.weight is tied to the word embeddings but is still a
// state_dict key, so it is listed (and written) like any other.
func Keys(arch Arch, s Shape) []Key {
	V, E, H, I := int64(s.VocabSize), int64(s.EmbeddingSize), int64(s.HiddenSize), int64(s.IntermediateSize)
	var ks []Key
	add := func(name string, shape ...int64) { ks = append(ks, Key{name, shape}) }
	linear := func(name string, in, out int64) {
		add(name+".weight", out, in)
		add(name+".bias", out)
	}
	norm := func(name string, dim int64) {
		add(name+".weight", dim)
		add(name+".bias", dim)
	}

	add("electra.embeddings.word_embeddings.weight", V, E)
	add("electra.embeddings.position_embeddings.weight", int64(s.MaxPositions), E)
	add("electra.embeddings.token_type_embeddings.weight", int64(s.TypeVocabSize), E)
	norm("electra.embeddings.LayerNorm", E)
	if E != H {
		linear("electra.embeddings_project", E, H)
	}
	for l := 0; l < s.NumLayers; l++ {
		p := fmt.Sprintf("electra.encoder.layer.%d.", l)
		linear(p+"attention.self.query", H, H)
		linear(p+"attention.self.key", H, H)
		linear(p+"attention.self.value", H, H)
		linear(p+"attention.output.dense", H, H)
		norm(p+"attention.output.LayerNorm", H)
		linear(p+"intermediate.dense", H, I)
		linear(p+"output.dense", I, H)
		norm(p+"output.LayerNorm", H)
	}
	switch arch {
	case PreTraining:
		linear("discriminator_predictions.dense", H, H)
		linear("discriminator_predictions.dense_prediction", H, 1)
	case MaskedLM:
		linear("generator_predictions.dense", H, E)
		norm("generator_predictions.LayerNorm", E)
		linear("generator_lm_head", E, V)
	case SequenceClassification:
		linear("classifier.dense", H, H)
		linear("classifier.out_proj", H, int64(max(s.NumLabels, 1)))
	}
	return ks
}

// CheckKeys compares a set of named shapes with Keys and reports every
// missing and unexpected name and every shape that differs, the way
// from_pretrained would complain.
func CheckKeys(arch Arch, s Shape, got map[string][]int64) error {
	want := Keys(arch, s)
	var missing, wrong []string
	seen := map[string]bool{}
	for _, k := range want {
		seen[k.Name] = true
		g, ok := got[k.Name]
		if !ok {
			missing = append(missing, k.Name)
			continue
		}
		if !equalShape(g, k.Shape) {
			wrong = append(wrong, fmt.Sprintf("%s: %v, want %v", k.Name, g, k.Shape))
		}
	}
	var unexpected []string
	for n := range got {
		if !seen[n] {
			unexpected = append(unexpected, n)
		}
	}
	if len(missing)+len(unexpected)+len(wrong) == 0 {
		return nil
	}
	sort.Strings(unexpected)
	return fmt.Errorf("%s state_dict mismatch: missing %d %v, unexpected %d %v, wrong shape %d %v",
		arch, len(missing), clip(missing), len(unexpected), clip(unexpected), len(wrong), clip(wrong))
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// clip keeps error messages readable when a whole model is off.
func clip(s []string) []string {
	if len(s) > 8 {
		return append(s[:8:8], fmt.Sprintf("... %d more", len(s)-8))
	}
	return s
}
