#!/usr/bin/env bash
# safetensors write + read-back of ELECTRA-Small's discriminator (54 MB of
# float32), ours (trainer/safetensors: atomic write with fsync, validating
# reader) beside an independent reference measured in the same run: Python
# with struct + json + torch (Debian python3-torch), writing the same
# tensors and reading them back with torch.frombuffer.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$(go test -run '^$' -bench 'BenchmarkWriteReadSmall' -benchtime "${SAFETENSORS_BENCHTIME:-5x}" ./trainer/safetensors/ 2>&1)
ours=$(awk '/^BenchmarkWriteReadSmall/ {for (i=1;i<=NF;i++) if ($(i+1)=="MB/s") print $i}' <<<"$out")
[[ -n "$ours" ]] || { echo "safetensors bench failed:"; echo "$out"; exit 1; }
ref=$(/usr/bin/python3 - "$tmp/ref.safetensors" "${SAFETENSORS_BENCHTIME:-5x}" <<'PY'
import json, os, struct, sys, time
import torch
path, n = sys.argv[1], int(sys.argv[2].rstrip("x"))
shapes = [("electra.embeddings.word_embeddings.weight", (30522, 128)), ("electra.embeddings.position_embeddings.weight", (512, 128)),
          ("electra.embeddings.token_type_embeddings.weight", (2, 128)), ("electra.embeddings_project.weight", (256, 128))]
for l in range(12):
    p = f"electra.encoder.layer.{l}."
    for m in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
        shapes += [(p + m + ".weight", (256, 256)), (p + m + ".bias", (256,))]
    shapes += [(p + "intermediate.dense.weight", (1024, 256)), (p + "output.dense.weight", (256, 1024))]
tensors = {k: torch.zeros(s) for k, s in shapes}
size = sum(t.numel() * 4 for t in tensors.values())
start = time.perf_counter()
for _ in range(n):
    header, chunks, off = {"__metadata__": {"format": "pt"}}, [], 0
    for k, t in tensors.items():
        b = t.numpy().tobytes()
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b); off += len(b)
    h = json.dumps(header).encode(); h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for c in chunks: f.write(c)
        f.flush(); os.fsync(f.fileno())
    with open(path, "rb") as f:
        (m,) = struct.unpack("<Q", f.read(8)); hd = json.loads(f.read(m)); hd.pop("__metadata__")
        for k, v in hd.items():
            b0, e0 = v["data_offsets"]; f.seek(8 + m + b0)
            torch.frombuffer(bytearray(f.read(e0 - b0)), dtype=torch.float32).reshape(v["shape"])
print(f"{size * n / 1e6 / (time.perf_counter() - start):.2f}")
PY
)
printf '%-58s %10s %8s\n' "safetensors write+read, ELECTRA-Small disc (54 MB)" "MB/s" "ratio"
printf '%-58s %10.2f %8s\n' "reference: python struct+json+torch (fsync'd)" "$ref" "1.00x"
printf '%-58s %10.2f %8s\n' "ours: trainer/safetensors (atomic, fsync'd, validated)" "$ours" "$(awk -v a="$ours" -v b="$ref" 'BEGIN{printf "%.2fx", a/b}')"
