"""A PyTorch reference of HuggingFace's ELECTRA model classes for the Go
tests (transformers itself is not installable here). Module and attribute
names follow transformers' modeling_electra.py, so state_dict() has exactly
the keys from_pretrained expects; weights are read with struct + json +
torch, independently of the Go safetensors code.

  reference.py keys CONFIG_JSON          -> {"keys": {name: shape}, "params": n}
  reference.py load DIR [IDS_JSON]       -> strict load of DIR/model.safetensors,
                                            per-tensor sums, and logits for IDS
  reference.py save DIR                  -> random model saved like transformers
                                            (tied generator_lm_head.weight dropped)
"""
import json
import math
import struct
import sys

import torch
from torch import nn

DT = {"F32": torch.float32, "I64": torch.int64}


class Cfg:
    def __init__(self, d):
        self.__dict__.update(d)
        self.arch = d["architectures"][0]
        self.num_labels = len(d.get("id2label") or {}) or 2


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.embedding_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.embedding_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.embedding_size)
        self.LayerNorm = nn.LayerNorm(c.embedding_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)
        self.register_buffer("position_ids", torch.arange(c.max_position_embeddings).expand((1, -1)), persistent=False)

    def forward(self, ids, types):
        pos = self.position_ids[:, : ids.shape[1]]
        x = self.word_embeddings(ids) + self.token_type_embeddings(types) + self.position_embeddings(pos)
        return self.dropout(self.LayerNorm(x))


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)
        self.dropout = nn.Dropout(c.attention_probs_dropout_prob)

    def forward(self, x, add_mask):
        b, s, h = x.shape
        split = lambda t: t.view(b, s, self.heads, h // self.heads).permute(0, 2, 1, 3)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(h // self.heads) + add_mask
        ctx = self.dropout(scores.softmax(-1)) @ v
        return ctx.permute(0, 2, 1, 3).reshape(b, s, h)


class SelfOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, h, x):
        return self.LayerNorm(self.dropout(self.dense(h)) + x)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = SelfAttention(c)
        self.output = SelfOutput(c)

    def forward(self, x, m):
        return self.output(self.self(x, m), x)


class Intermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)

    def forward(self, x):
        return nn.functional.gelu(self.dense(x))


class Output(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.intermediate_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, h, x):
        return self.LayerNorm(self.dropout(self.dense(h)) + x)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = Output(c)

    def forward(self, x, m):
        a = self.attention(x, m)
        return self.output(self.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([Layer(c) for _ in range(c.num_hidden_layers)])

    def forward(self, x, m):
        for l in self.layer:
            x = l(x, m)
        return x


class Electra(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        if c.embedding_size != c.hidden_size:
            self.embeddings_project = nn.Linear(c.embedding_size, c.hidden_size)
        self.encoder = Encoder(c)

    def forward(self, ids, mask, types):
        x = self.embeddings(ids, types)
        if hasattr(self, "embeddings_project"):
            x = self.embeddings_project(x)
        add = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        return self.encoder(x, add)


class DiscriminatorPredictions(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.dense_prediction = nn.Linear(c.hidden_size, 1)

    def forward(self, h):
        return self.dense_prediction(nn.functional.gelu(self.dense(h))).squeeze(-1)


class GeneratorPredictions(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.LayerNorm = nn.LayerNorm(c.embedding_size, eps=c.layer_norm_eps)
        self.dense = nn.Linear(c.hidden_size, c.embedding_size)

    def forward(self, h):
        return self.LayerNorm(nn.functional.gelu(self.dense(h)))


class ClassificationHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)
        self.out_proj = nn.Linear(c.hidden_size, 1 if c.__dict__.get("problem_type") == "regression" else c.num_labels)

    def forward(self, h):
        x = self.dropout(h[:, 0, :])
        return self.out_proj(self.dropout(nn.functional.gelu(self.dense(x))))


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.arch = c.arch
        self.electra = Electra(c)
        if c.arch == "ElectraForPreTraining":
            self.discriminator_predictions = DiscriminatorPredictions(c)
        elif c.arch == "ElectraForMaskedLM":
            self.generator_predictions = GeneratorPredictions(c)
            self.generator_lm_head = nn.Linear(c.embedding_size, c.vocab_size)
            self.generator_lm_head.weight = self.electra.embeddings.word_embeddings.weight
        elif c.arch == "ElectraForSequenceClassification":
            self.classifier = ClassificationHead(c)
        else:
            raise SystemExit(f"unknown architecture {c.arch}")

    def forward(self, ids, mask, types):
        h = self.electra(ids, mask, types)
        if self.arch == "ElectraForPreTraining":
            return self.discriminator_predictions(h)
        if self.arch == "ElectraForMaskedLM":
            return self.generator_lm_head(self.generator_predictions(h))
        return self.classifier(h)


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        raw = bytearray(blob[8 + n + b:8 + n + e])
        out[name] = torch.frombuffer(raw, dtype=DT[info["dtype"]]).reshape(info["shape"]).clone()
    return out


def write_safetensors(path, tensors):
    header = {"__metadata__": {"format": "pt"}}
    data = b""
    for name, t in tensors.items():
        raw = t.detach().contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def main():
    cmd = sys.argv[1]
    if cmd == "keys":
        m = Model(Cfg(json.load(open(sys.argv[2]))))
        sd = m.state_dict()
        json.dump({"keys": {k: list(v.shape) for k, v in sd.items()},
                   "params": sum(p.numel() for p in m.parameters())}, sys.stdout)
    elif cmd == "load":
        d = sys.argv[2]
        m = Model(Cfg(json.load(open(d + "/config.json"))))
        sd = read_safetensors(d + "/model.safetensors")
        res = m.load_state_dict(sd, strict=False)
        out = {"missing": res.missing_keys, "unexpected": res.unexpected_keys,
               "sums": {k: float(v.double().sum()) for k, v in sd.items()}}
        if len(sys.argv) > 3:
            ids = torch.tensor(json.load(open(sys.argv[3])), dtype=torch.int64)
            m.eval()
            with torch.no_grad():
                logits = m(ids, (ids != 0).long(), torch.zeros_like(ids))
            out["logits"] = logits.reshape(-1).tolist()
        json.dump(out, sys.stdout)
    elif cmd == "save":
        d = sys.argv[2]
        torch.manual_seed(3)
        m = Model(Cfg(json.load(open(d + "/config.json"))))
        sd = m.state_dict()
        # transformers drops one name of a shared tensor when saving
        sd.pop("generator_lm_head.weight", None)
        write_safetensors(d + "/model.safetensors", sd)
        json.dump({"sums": {k: float(v.double().sum()) for k, v in sd.items()}}, sys.stdout)


if __name__ == "__main__":
    main()
