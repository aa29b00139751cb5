package trainer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sugarme/gotch/ts"

	"github.com/electra-go/electra/trainer/torch"
)

// State is where a run stands; a checkpoint stores it next to the weights
// and Adam's moments.
//
// There is no opaque RNG blob: every step reseeds libtorch's generator
// (dropout, Gumbel noise) and the masking RNG from (Seed, Step), so Seed and
// Step are the whole random state and a resumed run draws exactly what an
// uninterrupted one would.
type State struct {
	Step     int      `json:"step"`     // updates applied
	Seed     uint64   `json:"seed"`     // run seed
	Position Position `json:"position"` // of the last batch trained on
	Tokens   int64    `json:"tokens"`   // non-pad tokens trained on
	Config   Config   `json:"config"`
	Schedule Schedule `json:"schedule"`
}

const (
	checkpointPrefix = "ckpt-"
	checkpointSuffix = ".safetensors"
	// Tensor name prefixes inside a checkpoint file.
	ckptModel, ckptAdamM, ckptAdamV = "model/", "adam_m/", "adam_v/"
)

// SaveCheckpoint writes dir/ckpt-<step>.safetensors atomically (temp file,
// fsync, rename) and then deletes all but the newest keep checkpoints
// (keep <= 0 keeps all). Parameter names inside are the internal ones
// (Param.Name); the file opens with any safetensors reader.
func SaveCheckpoint(dir string, m *Model, o *Optimizer, st State, keep int) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	var list []ts.NamedTensor
	for i, p := range m.Params.List() {
		mm, vv := o.Moments(i)
		list = append(list,
			ts.NamedTensor{Name: ckptModel + p.Name, Tensor: p.Tensor},
			ts.NamedTensor{Name: ckptAdamM + p.Name, Tensor: mm},
			ts.NamedTensor{Name: ckptAdamV + p.Name, Tensor: vv})
	}
	js, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("checkpoint: state: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("%s%09d%s", checkpointPrefix, st.Step, checkpointSuffix))
	if err := writeTensorFile(path, list, map[string]string{"format": "electra.checkpoint.v1", "state": string(js)}); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	if keep > 0 {
		all, err := checkpoints(dir)
		if err != nil {
			return path, err
		}
		for len(all) > keep {
			if err := os.Remove(all[0]); err != nil {
				return path, fmt.Errorf("checkpoint: pruning %s: %w", all[0], err)
			}
			all = all[1:]
		}
	}
	return path, nil
}

// checkpoints lists dir's checkpoint files, oldest first.
func checkpoints(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, checkpointPrefix) && strings.HasSuffix(n, checkpointSuffix) {
			out = append(out, filepath.Join(dir, n))
		}
	}
	slices.Sort(out) // zero-padded step numbers sort by step
	return out, nil
}

// LatestCheckpoint is the newest checkpoint in dir, or "" if there is none.
func LatestCheckpoint(dir string) (string, error) {
	all, err := checkpoints(dir)
	if err != nil || len(all) == 0 {
		if os.IsNotExist(err) || err == nil {
			return "", nil
		}
		return "", err
	}
	return all[len(all)-1], nil
}

// LoadCheckpoint copies a checkpoint's weights and moments into m and o
// (built with the same Config) and returns its State. Every parameter must
// be present with its shape; a mismatch names the tensor.
func LoadCheckpoint(path string, m *Model, o *Optimizer) (State, error) {
	var st State
	tensors, meta, err := readTensorFile(path)
	if err != nil {
		return st, fmt.Errorf("checkpoint: %w", err)
	}
	byName := map[string]*ts.Tensor{}
	for _, nt := range tensors {
		byName[nt.Name] = nt.Tensor
	}
	defer func() {
		for _, nt := range tensors {
			nt.Tensor.MustDrop()
		}
	}()
	if meta["format"] != "electra.checkpoint.v1" {
		return st, fmt.Errorf("checkpoint %s: format %q, want electra.checkpoint.v1", path, meta["format"])
	}
	if err := json.Unmarshal([]byte(meta["state"]), &st); err != nil {
		return st, fmt.Errorf("checkpoint %s: state: %w", path, err)
	}
	defer torch.NoGrad()()
	for i, p := range m.Params.List() {
		mm, vv := o.Moments(i)
		for _, dst := range []struct {
			name string
			t    *ts.Tensor
		}{{ckptModel + p.Name, p.Tensor}, {ckptAdamM + p.Name, mm}, {ckptAdamV + p.Name, vv}} {
			src, ok := byName[dst.name]
			if !ok {
				return st, fmt.Errorf("checkpoint %s: no tensor %s (saved from a different model config?)", path, dst.name)
			}
			if got, want := src.MustSize(), dst.t.MustSize(); !slices.Equal(got, want) {
				return st, fmt.Errorf("checkpoint %s: %s has shape %v, the model wants %v", path, dst.name, got, want)
			}
			dst.t.Copy_(src)
		}
	}
	return st, nil
}
