"""Independent safetensors reader/writer for the Go tests: only struct, json
and torch (Debian python3-torch), none of our Go code's assumptions.

  independent.py read FILE    -> prints JSON {name: {dtype, shape, sum, first}}
                                 after checking the layout rules itself
  independent.py write FILE   -> writes a file with known tensors (its own
                                 layout: reverse name order, minimal padding)
"""
import json
import struct
import sys

import torch

DTYPES = {
    "F32": (torch.float32, 4), "F64": (torch.float64, 8), "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2), "I64": (torch.int64, 8), "I32": (torch.int32, 4),
    "I16": (torch.int16, 2), "I8": (torch.int8, 1), "U8": (torch.uint8, 1), "BOOL": (torch.bool, 1),
}


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    start = 8 + n
    assert start % 8 == 0, f"data section starts at {start}, not 8-aligned"
    meta = header.pop("__metadata__", None)
    out = {"__metadata__": meta, "tensors": {}}
    spans = []
    for name, info in header.items():
        dt, size = DTYPES[info["dtype"]]
        b, e = info["data_offsets"]
        numel = 1
        for d in info["shape"]:
            numel *= d
        assert e - b == numel * size, f"{name}: {e - b} bytes for {numel} x {size}"
        assert (start + b) % size == 0, f"{name}: misaligned at {start + b}"
        spans.append((b, e))
        raw = bytearray(blob[start + b:start + e])
        t = torch.frombuffer(raw, dtype=dt) if numel else torch.empty(0, dtype=dt)
        t = t.reshape(info["shape"])
        flat = t.reshape(-1).to(torch.float64)
        out["tensors"][name] = {
            "dtype": info["dtype"], "shape": list(t.shape),
            "sum": float(flat.sum()) if numel else 0.0,
            "values": [float(v) for v in flat[:16]],
        }
    spans.sort()
    pos = 0
    for b, e in spans:
        assert b == pos, f"gap or overlap at {b} (expected {pos})"
        pos = e
    assert start + pos == len(blob), f"data ends at {start + pos}, file has {len(blob)} bytes"
    json.dump(out, sys.stdout, sort_keys=True)


def write(path):
    tensors = {
        "z.f32": torch.arange(12, dtype=torch.float32).reshape(3, 4) / 4,
        "y.i64": torch.tensor([-3, 0, 1 << 40], dtype=torch.int64),
        "x.u8": torch.tensor([1, 2, 255], dtype=torch.uint8),
        "w.scalar": torch.tensor(2.5, dtype=torch.float64),
    }
    header = {"__metadata__": {"format": "pt", "writer": "python"}}
    data = b""
    # An order unlike the Go writer's (it sorts by size, then name) that
    # still keeps every tensor aligned without gaps.
    for name in ["y.i64", "w.scalar", "z.f32", "x.u8"]:
        t = tensors[name].contiguous()
        dtype = [k for k, v in DTYPES.items() if v[0] == t.dtype][0]
        assert len(data) % DTYPES[dtype][1] == 0
        raw = t.numpy().tobytes() if t.dim() else t.reshape(1).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode("utf-8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


if __name__ == "__main__":
    {"read": read, "write": write}[sys.argv[1]](sys.argv[2])
