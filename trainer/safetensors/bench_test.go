package safetensors

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// smallDiscriminator is ELECTRA-Small's discriminator as float32 tensors
// (13.5M parameters, 54 MB): the file export-model writes most often.
func smallDiscriminator() []Tensor {
	var ts []Tensor
	add := func(name string, shape ...int64) {
		n, _ := Numel(shape)
		ts = append(ts, Tensor{Name: name, DType: F32, Shape: shape, Data: make([]byte, 4*n)})
	}
	add("electra.embeddings.word_embeddings.weight", 30522, 128)
	add("electra.embeddings.position_embeddings.weight", 512, 128)
	add("electra.embeddings.token_type_embeddings.weight", 2, 128)
	add("electra.embeddings_project.weight", 256, 128)
	for l := 0; l < 12; l++ {
		p := fmt.Sprintf("electra.encoder.layer.%d.", l)
		for _, n := range []string{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"} {
			add(p+n+".weight", 256, 256)
			add(p+n+".bias", 256)
		}
		add(p+"intermediate.dense.weight", 1024, 256)
		add(p+"output.dense.weight", 256, 1024)
	}
	return ts
}

// BenchmarkWriteReadSmall writes ELECTRA-Small's discriminator to a file
// and reads every tensor back: the export + import round trip, in MB/s.
func BenchmarkWriteReadSmall(b *testing.B) {
	ts := smallDiscriminator()
	var size int64
	for _, t := range ts {
		size += int64(len(t.Data))
	}
	path := filepath.Join(b.TempDir(), "m.safetensors")
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := WriteFile(path, ts, map[string]string{"format": "pt"}); err != nil {
			b.Fatal(err)
		}
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		for _, in := range f.Tensors() {
			if _, err := f.Read(in.Name); err != nil {
				b.Fatal(err)
			}
		}
		f.Close()
	}
	b.StopTimer()
	os.Remove(path)
}
