#!/usr/bin/env python3
"""PyTorch reference for the Go ELECTRA (trainer/): test-only.

Builds ELECTRA's generator and discriminator in plain PyTorch from weights
the Go side wrote, replays one objective evaluation with the Go side's masks
and generator samples, and compares forward logits, losses, gradients and
the parameters after one optimizer step.

  electra_ref.py parity IN OUT   compare; print JSON of max abs diffs
  electra_ref.py bench CONFIG_JSON BATCH SEQ STEPS THREADS
                                 time training steps of the same model

Run it with Debian's /usr/bin/python3 (python3-torch 1.13.1). Reads the
safetensors layout without the safetensors package.
"""
import json
import math
import struct
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32}


def read_tensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        buf = bytearray(data[a:b])
        t = torch.frombuffer(buf, dtype=DTYPES[e["dtype"]]) if b > a else torch.empty(0, dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out, meta


# ---- the model, written independently of the Go code from the paper/BERT ----

def linear(p, name, x):
    return F.linear(x, p[name + ".weight"], p[name + ".bias"])


def layer_norm(p, name, x, eps):
    return F.layer_norm(x, x.shape[-1:], p[name + ".weight"], p[name + ".bias"], eps)


def embeddings(p, cfg, ids, segments, train):
    pre = "discriminator.electra.embeddings"
    L = ids.shape[1]
    x = p[pre + ".word_embeddings.weight"][ids] + p[pre + ".position_embeddings.weight"][:L] \
        + p[pre + ".token_type_embeddings.weight"][segments]
    x = layer_norm(p, pre + ".LayerNorm", x, cfg["layer_norm_eps"])
    return F.dropout(x, cfg["dropout"], train)


def encoder(p, pre, c, x, mask_add, train):
    if pre + ".embeddings_project.weight" in p:
        x = linear(p, pre + ".embeddings_project", x)
    B, L, H = x.shape
    nh = c["num_heads"]
    dh = H // nh
    for i in range(c["num_layers"]):
        lp = f"{pre}.encoder.layer.{i}"
        q = linear(p, lp + ".attention.self.query", x).view(B, L, nh, dh).transpose(1, 2)
        k = linear(p, lp + ".attention.self.key", x).view(B, L, nh, dh).transpose(1, 2)
        v = linear(p, lp + ".attention.self.value", x).view(B, L, nh, dh).transpose(1, 2)
        scores = (q / math.sqrt(dh)) @ k.transpose(-1, -2) + mask_add
        probs = F.dropout(torch.softmax(scores, -1), c["dropout"], train)
        ctx = (probs @ v).transpose(1, 2).reshape(B, L, H)
        a = F.dropout(linear(p, lp + ".attention.output.dense", ctx), c["dropout"], train)
        x = layer_norm(p, lp + ".attention.output.LayerNorm", a + x, c["layer_norm_eps"])
        f = linear(p, lp + ".output.dense", F.gelu(linear(p, lp + ".intermediate.dense", x)))
        f = F.dropout(f, c["dropout"], train)
        x = layer_norm(p, lp + ".output.LayerNorm", f + x, c["layer_norm_eps"])
    return x


def gen_config(cfg):
    g = dict(cfg)
    g["hidden_size"] = int(cfg["hidden_size"] * cfg["generator_fraction"] + 0.5)
    g["intermediate_size"] = int(cfg["intermediate_size"] * cfg["generator_fraction"] + 0.5)
    g["num_heads"] = max(1, g["hidden_size"] // 64)
    return g


def objective(p, cfg, ids, masked, segments, lengths, positions, targets, sampled, train):
    B, L = ids.shape
    input_mask = (torch.arange(L, device=ids.device)[None, :] < lengths[:, None]).float()
    mask_add = ((1.0 - input_mask) * -10000.0)[:, None, None, :]
    # generator on the masked input, logits at masked positions only
    h = encoder(p, "generator.electra", gen_config(cfg), embeddings(p, cfg, masked, segments, train), mask_add, train)
    h = h.reshape(B * L, -1)[positions]
    h = layer_norm(p, "generator.generator_predictions.LayerNorm",
                   F.gelu(linear(p, "generator.generator_predictions.dense", h)), cfg["layer_norm_eps"])
    gen_logits = F.linear(h, p["discriminator.electra.embeddings.word_embeddings.weight"], p["generator.generator_lm_head.bias"])
    mlm_loss = F.cross_entropy(gen_logits, targets)
    if sampled is None:  # benchmark: sample as the paper does
        with torch.no_grad():
            u = torch.rand_like(gen_logits)
            sampled = torch.argmax(gen_logits.float() - torch.log(-torch.log(u + 1e-9) + 1e-9), -1)
    corrupted = ids.reshape(-1).index_copy(0, positions, sampled).view(B, L)
    labels = (corrupted != ids).float()
    h = encoder(p, "discriminator.electra", cfg, embeddings(p, cfg, corrupted, segments, train), mask_add, train)
    h = F.gelu(linear(p, "discriminator.discriminator_predictions.dense", h))
    disc_logits = linear(p, "discriminator.discriminator_predictions.dense_prediction", h).squeeze(-1)
    disc_loss = F.binary_cross_entropy_with_logits(disc_logits, labels, weight=input_mask, reduction="sum") / input_mask.sum()
    loss = mlm_loss + cfg["disc_weight"] * disc_loss
    return loss, mlm_loss, disc_loss, gen_logits, disc_logits, corrupted


def adam_step(p, names, lr, opt, state):
    """AdamWeightDecayOptimizer: no bias correction, decoupled decay, global clip."""
    with torch.no_grad():
        norm = torch.norm(torch.stack([torch.norm(p[n].grad) for n in names]))
        scale = opt["clip"] / norm if opt["clip"] > 0 and norm > opt["clip"] else 1.0
        for n in names:
            g = p[n].grad * scale
            m, v = state.setdefault(n, (torch.zeros_like(g), torch.zeros_like(g)))
            m.mul_(opt["b1"]).add_((1 - opt["b1"]) * g)
            v.mul_(opt["b2"]).add_((1 - opt["b2"]) * g * g)
            u = m / (v.sqrt() + opt["eps"])
            if "LayerNorm" not in n and not n.endswith("bias"):
                u = u + opt["wd"] * p[n]
            p[n].sub_(lr * u)
    return float(norm)


def parity(inp, out):
    t, meta = read_tensors(inp)
    want, _ = read_tensors(out)
    cfg = json.loads(meta["config"])
    names = json.loads(meta["params"])
    opt = json.loads(meta["adam"])
    lr = float(meta["lr"])
    p = {n: t["param/" + n].clone().requires_grad_(True) for n in names}
    loss, mlm, disc, gl, dl, corrupted = objective(
        p, cfg, t["ids"], t["masked"], t["segments"], t["lengths"], t["positions"], t["targets"], t["sampled"], False)
    loss.backward()
    diffs = {
        "gen_logits": (gl - want["gen_logits"]).abs().max().item(),
        "disc_logits": (dl - want["disc_logits"]).abs().max().item(),
        "mlm_loss": abs(mlm.item() - want["mlm_loss"].item()),
        "disc_loss": abs(disc.item() - want["disc_loss"].item()),
        "loss": abs(loss.item() - want["loss"].item()),
        "corrupted": (corrupted != want["corrupted"]).sum().item(),
    }
    diffs["grads"] = max((p[n].grad - want["grad/" + n]).abs().max().item() for n in names)
    worst = max(names, key=lambda n: (p[n].grad - want["grad/" + n]).abs().max().item())
    norm = adam_step(p, names, lr, opt, {})
    diffs["grad_norm"] = abs(norm - want["grad_norm"].item())
    diffs["params_after_step"] = max((p[n].detach() - want["updated/" + n]).abs().max().item() for n in names)
    diffs["worst_grad_param"] = worst
    diffs["values"] = {"loss": loss.item(), "mlm_loss": mlm.item(), "disc_loss": disc.item(), "grad_norm": norm}
    print(json.dumps(diffs))


def bench(cfg_path, batch, seq, steps, threads, device="cpu", precision="fp32"):
    """Times training steps as ours does: forward passes in bf16 autocast
    when asked (backward, optimizer and losses fp32), on device; a step ends
    when its result is on the host (our Step returns its losses)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = json.load(open(cfg_path))
    V, E, H = cfg["vocab_size"], cfg["embedding_size"], cfg["hidden_size"]
    p = {}

    def lin(name, i, o):
        p[name + ".weight"] = torch.randn(o, i) * 0.02
        p[name + ".bias"] = torch.zeros(o)

    def ln(name, d):
        p[name + ".weight"] = torch.ones(d)
        p[name + ".bias"] = torch.zeros(d)

    pre = "discriminator.electra.embeddings"
    p[pre + ".word_embeddings.weight"] = torch.randn(V, E) * 0.02
    p[pre + ".position_embeddings.weight"] = torch.randn(cfg["max_positions"], E) * 0.02
    p[pre + ".token_type_embeddings.weight"] = torch.randn(cfg["type_vocab_size"], E) * 0.02
    ln(pre + ".LayerNorm", E)
    for net, c in (("discriminator.electra", cfg), ("generator.electra", gen_config(cfg))):
        h, ffn = c["hidden_size"], c["intermediate_size"]
        if E != h:
            lin(net + ".embeddings_project", E, h)
        for i in range(cfg["num_layers"]):
            lp = f"{net}.encoder.layer.{i}"
            for q in ("query", "key", "value"):
                lin(lp + ".attention.self." + q, h, h)
            lin(lp + ".attention.output.dense", h, h)
            ln(lp + ".attention.output.LayerNorm", h)
            lin(lp + ".intermediate.dense", h, ffn)
            lin(lp + ".output.dense", ffn, h)
            ln(lp + ".output.LayerNorm", h)
    gh = gen_config(cfg)["hidden_size"]
    lin("generator.generator_predictions.dense", gh, E)
    ln("generator.generator_predictions.LayerNorm", E)
    p["generator.generator_lm_head.bias"] = torch.zeros(V)
    lin("discriminator.discriminator_predictions.dense", H, H)
    lin("discriminator.discriminator_predictions.dense_prediction", H, 1)
    p = {k: v.to(device) for k, v in p.items()}
    for v in p.values():
        v.requires_grad_(True)
    names = list(p)
    opt = {"b1": 0.9, "b2": 0.999, "eps": 1e-6, "wd": 0.01, "clip": 1.0}
    state = {}
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1000, V, (batch, seq), generator=g)
    lengths = torch.full((batch,), seq)
    segments = torch.zeros(batch, seq, dtype=torch.long)
    n = max(1, min(cfg["max_predictions"], round(cfg["mask_prob"] * seq)))
    positions = torch.cat([torch.randperm(seq - 2, generator=g)[:n] + 1 + b * seq for b in range(batch)])
    targets = ids.reshape(-1)[positions]
    masked = ids.reshape(-1).clone()
    masked[positions] = 103
    masked = masked.view(batch, seq)
    ids, masked, segments, lengths, positions, targets = (t.to(device) for t in (ids, masked, segments, lengths, positions, targets))
    dev = torch.device(device)
    times = []
    for _ in range(steps + 1):  # the first step warms up allocator and threads
        t0 = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss, *_ = objective(p, cfg, ids, masked, segments, lengths, positions, targets, None, True)
        loss.float().backward()
        adam_step(p, names, 1e-4, opt, state)
        for v in p.values():
            v.grad = None
        loss.item()
        times.append(time.perf_counter() - t0)
    import resource
    print(json.dumps({"step_seconds": times[1:],
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    if sys.argv[1] == "parity":
        parity(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "bench":
        bench(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), *sys.argv[7:9])
    else:
        sys.exit("usage: electra_ref.py parity IN OUT | bench CONFIG BATCH SEQ STEPS THREADS [DEVICE [fp32|bf16]]")
