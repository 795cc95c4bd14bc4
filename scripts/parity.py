#!/usr/bin/env python3
"""Engine parity with llama.cpp: random-weight GGUF files of both architectures, llama.cpp's logits
for fixed token sequences, and the engine's logits compared against them.

Run through its wrappers (they set up Python, llama.cpp and ctxbench):
  scripts/make-parity-fixtures   rewrites the committed fixtures (Tests/CtxHarnessTests/Parity)
  scripts/check-parity           every shape, the large ones included: writes, quantizes, runs both
                                 engines and prints the comparison table (README, "Parity")

GGUF files are written with PyPI's `gguf` package, with the metadata keys and tensor layouts of
llama.cpp's converters (conversion/kimi_linear.py, conversion/step3.py); quantized files come from
llama.cpp's own llama-quantize. Reference logits come from scripts/llama-logits.c (llama.cpp's C
API: f32 KV cache, flash attention off, every position's logits, the MoE selection scores).

Random routers have near-ties: a difference of 1e-6 can flip an expert choice and move that
position's logits by percents with both engines correct. The committed fixtures' token sequences
are chosen so that every routing decision (top-k of the selection scores, in every MoE layer, at
every position) has a margin above `margin` in llama.cpp's run; the comparison checks routing
decisions position by position and reports a flip as a flip.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import gguf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "CtxHarnessTests", "Parity")

# ---------------------------------------------------------------------------------------------
# Shapes. "tiny" and "small" are committed (small enough for debug-build tests); "wide" are a few
# layers at the real models' per-layer widths with the expert count cut to fit in memory.

KIMI = "kimi-linear"
STEP = "step35"

SHAPES = {
    # Kimi-Linear: layers 0-2 KDA, layer 3 MLA (the real pattern: MLA every fourth layer and last);
    # layer 0 dense, the rest MoE with a shared expert.
    "kimi-tiny": dict(family=KIMI, hidden=64, layers=4, vocab=256, heads=2, kda_head_dim=32, conv=4,
                      kv_rank=32, nope=16, rope=8, v_dim=16, dense_ff=128, experts=6, top_k=2, expert_ff=32,
                      shared=1, scale=2.446, eps=1e-5, context=65536),
    "kimi-small": dict(family=KIMI, hidden=256, layers=4, vocab=256, heads=2, kda_head_dim=128, conv=4,
                       kv_rank=256, nope=128, rope=64, v_dim=128, dense_ff=512, experts=4, top_k=2, expert_ff=256,
                       shared=1, scale=2.446, eps=1e-5, context=65536),
    # Kimi-Linear-48B-A3B's per-layer widths (hidden 2304, 32 heads of 128, kv rank 512, experts of
    # 1024, dense 9216), 4 layers, 16 experts top-8 instead of 256.
    "kimi-wide": dict(family=KIMI, hidden=2304, layers=4, vocab=4096, heads=32, kda_head_dim=128, conv=4,
                      kv_rank=512, nope=128, rope=64, v_dim=128, dense_ff=9216, experts=16, top_k=8, expert_ff=1024,
                      shared=1, scale=2.446, eps=1e-5, context=1048576),
    # Step-3.5-Flash: layer 0 full attention (half the head rotated, theta 5e6), layers 1-3 sliding
    # window (whole head rotated, theta 1e4); layer 0 dense, the rest MoE; SwiGLU clamps on the
    # last layers, tight enough here that they bind.
    "step-tiny": dict(family=STEP, hidden=64, layers=4, vocab=256, full_heads=4, swa_heads=6, kv_heads=2, head_dim=16,
                      window=16, dense_ff=128, experts=6, top_k=2, expert_ff=32, shared_ff=32, scale=3.0, norm=True,
                      clamp_exp=[0, 0, 0.6, 0.6], clamp_shexp=[0.8, 0, 0, 0.6], eps=1e-5, context=65536),
    "step-small": dict(family=STEP, hidden=256, layers=4, vocab=256, full_heads=4, swa_heads=6, kv_heads=2, head_dim=64,
                       window=32, dense_ff=512, experts=4, top_k=2, expert_ff=256, shared_ff=256, scale=3.0, norm=True,
                       clamp_exp=[0, 0, 0.6, 0.6], clamp_shexp=[0.8, 0, 0, 0.6], eps=1e-5, context=65536),
    # Step-3.5-Flash's per-layer widths (hidden 4096, 64 full / 96 sliding heads of 128, 8 KV heads,
    # window 512, experts of 1280, dense 11264), 4 layers, 16 experts top-8 instead of 288.
    "step-wide": dict(family=STEP, hidden=4096, layers=4, vocab=4096, full_heads=64, swa_heads=96, kv_heads=8, head_dim=128,
                      window=512, dense_ff=11264, experts=16, top_k=8, expert_ff=1280, shared_ff=1280, scale=3.0, norm=True,
                      clamp_exp=[0, 0, 7, 7], clamp_shexp=[0, 0, 0, 16], eps=1e-5, context=262144),
    # The two mini presets' widths (kimi-linear-mini, step-3.5-mini: hidden 512, 8 layers, 32
    # experts top-4 of 256, vocabulary 4096) as GGUF files, so llama.cpp can run them
    # (suites/vs-llamacpp-mini.json5). Kimi's gate rank is its head dim here, as llama.cpp's
    # loader reads it; Step keeps its 3 dense layers.
    "kimi-mini": dict(family=KIMI, hidden=512, layers=8, vocab=4096, heads=4, kda_head_dim=128, conv=4,
                      kv_rank=512, nope=128, rope=64, v_dim=128, dense_ff=2048, experts=32, top_k=4, expert_ff=256,
                      shared=1, scale=2.446, eps=1e-5, context=1048576),
    "step-mini": dict(family=STEP, hidden=512, layers=8, vocab=4096, full_heads=8, swa_heads=12, kv_heads=2, head_dim=128,
                      window=512, dense_ff=1536, dense=3, experts=32, top_k=4, expert_ff=256, shared_ff=256, scale=3.0,
                      norm=True, clamp_exp=[0] * 6 + [7, 7], clamp_shexp=[0] * 7 + [16], eps=1e-5, context=262144),
}

# Quantizations: llama-quantize's type, plus --tensor-type overrides so that one small file holds
# every type the engine reads (f16, bf16, q8_0, q4_0, q5_0, q4_K, q5_K, q6_K).
MIXED = {
    KIMI: ["attn_q\\.weight=f16", "attn_k\\.weight=bf16", "attn_v\\.weight=q8_0", "attn_output\\.weight=q4_0",
           "ffn_down_exps\\.weight=q5_K", "ffn_up_shexp\\.weight=q5_K", "ffn_down_shexp\\.weight=q6_K"],
    STEP: ["attn_q\\.weight=f16", "attn_k\\.weight=bf16", "attn_v\\.weight=q8_0", "attn_output\\.weight=q4_0",
           "ffn_down_exps\\.weight=q5_K", "ffn_up_shexp\\.weight=q5_K", "ffn_down_shexp\\.weight=q6_K",
           "attn_gate\\.weight=q5_0"],
}

# The fixtures committed to the repository, and what the full check runs.
COMMITTED = [("kimi-tiny", "F32", []), ("kimi-small", "Q4_K_M", "mixed"),
             ("step-tiny", "F32", []), ("step-small", "Q4_K_M", "mixed")]
FULL_CHECK = COMMITTED + [("kimi-small", "Q4_K_S", []), ("step-small", "Q4_K_S", []),
                          ("kimi-wide", "F32", []), ("kimi-wide", "Q8_0", []), ("kimi-wide", "Q4_K_M", []),
                          ("kimi-wide", "Q4_K_S", []),
                          ("step-wide", "F32", []), ("step-wide", "Q8_0", []), ("step-wide", "Q4_K_M", []),
                          ("step-wide", "Q4_K_S", [])]

# Token sequences: (name, prefill, decode steps). A short one, and one deep enough that attention
# and the KDA state work at depth.
SEQUENCES = [("short", 64, 16), ("long", 1024, 16)]


def ftype_name(shape, qtype, overrides):
    suffix = "mixed" if overrides == "mixed" else qtype.lower()
    return f"{shape}-{suffix}"


# ---------------------------------------------------------------------------------------------
# Writing GGUF files


class Weights:
    """Random tensors, named and shaped as llama.cpp's loader expects (numpy shape = ggml ne
    reversed)."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.tensors = []

    def add(self, name, shape, std=None, fill=None):
        if fill is not None:
            data = np.full(shape, fill, dtype=np.float32)
        else:
            fan_in = shape[-1]
            data = self.rng.standard_normal(shape, dtype=np.float32) * np.float32(std if std is not None else fan_in ** -0.5)
        self.tensors.append((name, data.astype(np.float32)))
        return data

    def norm(self, name, n):
        self.tensors.append((name, (1 + 0.1 * self.rng.standard_normal(n)).astype(np.float32)))


def common_metadata(w, arch, hp):
    w.add_uint32(f"{arch}.block_count", hp["layers"])
    w.add_uint32(f"{arch}.context_length", hp["context"])
    w.add_uint32(f"{arch}.embedding_length", hp["hidden"])
    w.add_uint32(f"{arch}.feed_forward_length", hp["dense_ff"])
    w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", hp["eps"])
    w.add_uint32(f"{arch}.vocab_size", hp["vocab"])
    w.add_uint32(f"{arch}.expert_count", hp["experts"])
    w.add_uint32(f"{arch}.expert_used_count", hp["top_k"])
    w.add_uint32(f"{arch}.expert_feed_forward_length", hp["expert_ff"])
    w.add_uint32(f"{arch}.leading_dense_block_count", hp.get("dense", 1))
    w.add_float32(f"{arch}.expert_weights_scale", hp["scale"])
    w.add_uint32(f"{arch}.expert_gating_func", 2)  # sigmoid
    # No tokenizer: llama.cpp adds vocab_size dummy tokens; both engines take token ids.
    w.add_string("tokenizer.ggml.model", "none")
    w.add_uint32("general.file_type", 0)


def ffn_tensors(t, hp, i, shared_ff, rng):
    h = hp["hidden"]
    if i < hp.get("dense", 1):
        t.add(f"blk.{i}.ffn_gate.weight", (hp["dense_ff"], h))
        t.add(f"blk.{i}.ffn_up.weight", (hp["dense_ff"], h))
        t.add(f"blk.{i}.ffn_down.weight", (h, hp["dense_ff"]), std=0.5 * hp["dense_ff"] ** -0.5)
        return
    e, ff = hp["experts"], hp["expert_ff"]
    # Router: scores sigmoid(W x) spread over (0, 1); the selection bias moves experts up and down
    # so that choices depend on both.
    t.add(f"blk.{i}.ffn_gate_inp.weight", (e, h), std=2.0 * h ** -0.5)
    t.tensors.append((f"blk.{i}.exp_probs_b.bias", (0.15 * rng.standard_normal(e)).astype(np.float32)))
    t.add(f"blk.{i}.ffn_gate_exps.weight", (e, ff, h))
    t.add(f"blk.{i}.ffn_up_exps.weight", (e, ff, h))
    t.add(f"blk.{i}.ffn_down_exps.weight", (e, h, ff), std=0.5 * ff ** -0.5)
    t.add(f"blk.{i}.ffn_gate_shexp.weight", (shared_ff, h))
    t.add(f"blk.{i}.ffn_up_shexp.weight", (shared_ff, h))
    t.add(f"blk.{i}.ffn_down_shexp.weight", (h, shared_ff), std=0.5 * shared_ff ** -0.5)


def write_kimi(path, hp, seed):
    arch = KIMI
    w = gguf.GGUFWriter(path, arch)
    common_metadata(w, arch, hp)
    h, n_head, d_head = hp["hidden"], hp["heads"], hp["kda_head_dim"]
    layers = hp["layers"]
    mla_layers = [i for i in range(layers) if i % 4 == 3 or i == layers - 1]
    w.add_uint32(f"{arch}.attention.head_count", n_head)
    # As conversion/kimi_linear.py: KV heads 0 mark KDA layers, 1 (MQA) the MLA layers.
    w.add_array(f"{arch}.attention.head_count_kv", [1 if i in mla_layers else 0 for i in range(layers)])
    w.add_uint32(f"{arch}.ssm.conv_kernel", hp["conv"])
    w.add_uint32(f"{arch}.kda.head_dim", d_head)
    w.add_uint32(f"{arch}.attention.kv_lora_rank", hp["kv_rank"])
    w.add_uint32(f"{arch}.rope.dimension_count", hp["rope"])
    w.add_uint32(f"{arch}.attention.key_length", hp["kv_rank"] + hp["rope"])
    w.add_uint32(f"{arch}.attention.value_length", hp["kv_rank"])
    w.add_uint32(f"{arch}.attention.key_length_mla", hp["nope"] + hp["rope"])
    w.add_uint32(f"{arch}.attention.value_length_mla", hp["v_dim"])
    w.add_uint32(f"{arch}.expert_shared_count", hp["shared"])

    t = Weights(seed)
    rng = t.rng
    t.add("token_embd.weight", (hp["vocab"], h), std=1.0)
    for i in range(layers):
        t.norm(f"blk.{i}.attn_norm.weight", h)
        if i in mla_layers:
            qk = hp["nope"] + hp["rope"]
            t.add(f"blk.{i}.attn_q.weight", (n_head * qk, h))
            t.add(f"blk.{i}.attn_kv_a_mqa.weight", (hp["kv_rank"] + hp["rope"], h))
            t.norm(f"blk.{i}.attn_kv_a_norm.weight", hp["kv_rank"])
            # k_b: ggml [nope, rank, heads] (kv_b's key part, transposed per head); v_b [rank, v, heads].
            t.add(f"blk.{i}.attn_k_b.weight", (n_head, hp["kv_rank"], hp["nope"]), std=hp["kv_rank"] ** -0.5)
            t.add(f"blk.{i}.attn_v_b.weight", (n_head, hp["v_dim"], hp["kv_rank"]))
            t.add(f"blk.{i}.attn_output.weight", (h, n_head * hp["v_dim"]), std=0.5 * (n_head * hp["v_dim"]) ** -0.5)
        else:
            d = n_head * d_head
            for name in ("attn_q", "attn_k", "attn_v"):
                t.add(f"blk.{i}.{name}.weight", (d, h))
            for name in ("ssm_conv1d_q", "ssm_conv1d_k", "ssm_conv1d_v"):
                t.add(f"blk.{i}.{name}.weight", (d, 1, hp["conv"]), std=0.5)
            t.add(f"blk.{i}.ssm_f_a.weight", (d_head, h))
            t.add(f"blk.{i}.ssm_f_b.weight", (d, d_head), std=0.1 * d_head ** -0.5)
            t.add(f"blk.{i}.ssm_beta.weight", (n_head, h))
            # A = -exp(A_log) per head (the converter stores it so), A_log uniform in log(1..16);
            # dt_bias = softplus^-1(dt), dt log-uniform in 0.001..0.1.
            a_log = rng.uniform(0, np.log(16), n_head)
            t.tensors.append((f"blk.{i}.ssm_a", (-np.exp(a_log)).astype(np.float32).reshape(n_head, 1)))
            dt = np.exp(rng.uniform(np.log(1e-3), np.log(1e-1), d))
            t.tensors.append((f"blk.{i}.ssm_dt.bias", (dt + np.log(-np.expm1(-dt))).astype(np.float32)))
            t.add(f"blk.{i}.ssm_g_a.weight", (d_head, h))
            t.add(f"blk.{i}.ssm_g_b.weight", (d, d_head))
            t.norm(f"blk.{i}.ssm_norm.weight", d_head)
            t.add(f"blk.{i}.attn_output.weight", (h, d), std=0.5 * d ** -0.5)
        t.norm(f"blk.{i}.ffn_norm.weight", h)
        ffn_tensors(t, hp, i, hp["expert_ff"] * hp["shared"], rng)
    t.norm("output_norm.weight", h)
    t.add("output.weight", (hp["vocab"], h), std=1.0 * h ** -0.5)
    finish(w, t)


def write_step(path, hp, seed):
    arch = STEP
    w = gguf.GGUFWriter(path, arch)
    common_metadata(w, arch, hp)
    h, layers, d = hp["hidden"], hp["layers"], hp["head_dim"]
    sliding = [i % 4 != 0 for i in range(layers)]
    heads = [hp["swa_heads"] if s else hp["full_heads"] for s in sliding]
    w.add_array(f"{arch}.attention.head_count", heads)
    w.add_array(f"{arch}.attention.head_count_kv", [hp["kv_heads"]] * layers)
    w.add_uint32(f"{arch}.attention.sliding_window", hp["window"])
    w.add_array(f"{arch}.attention.sliding_window_pattern", sliding)
    w.add_uint32(f"{arch}.attention.key_length", d)
    w.add_uint32(f"{arch}.attention.value_length", d)
    w.add_uint32(f"{arch}.rope.dimension_count", d)  # full-attention layers rotate half (llama.cpp)
    w.add_float32(f"{arch}.rope.freq_base", 5_000_000.0)
    w.add_float32(f"{arch}.rope.freq_base_swa", 10_000.0)
    w.add_uint32(f"{arch}.expert_shared_feed_forward_length", hp["shared_ff"])
    w.add_bool(f"{arch}.expert_weights_norm", hp["norm"])
    w.add_uint32(f"{arch}.moe_every_n_layers", 1)
    w.add_array(f"{arch}.swiglu_clamp_exp", [float(x) for x in hp["clamp_exp"]])
    w.add_array(f"{arch}.swiglu_clamp_shexp", [float(x) for x in hp["clamp_shexp"]])

    t = Weights(seed)
    rng = t.rng
    t.add("token_embd.weight", (hp["vocab"], h), std=1.0)
    for i in range(layers):
        n = heads[i]
        t.norm(f"blk.{i}.attn_norm.weight", h)
        t.add(f"blk.{i}.attn_q.weight", (n * d, h))
        t.add(f"blk.{i}.attn_k.weight", (hp["kv_heads"] * d, h))
        t.add(f"blk.{i}.attn_v.weight", (hp["kv_heads"] * d, h))
        t.norm(f"blk.{i}.attn_q_norm.weight", d)
        t.norm(f"blk.{i}.attn_k_norm.weight", d)
        t.add(f"blk.{i}.attn_gate.weight", (n, h))
        t.add(f"blk.{i}.attn_output.weight", (h, n * d), std=0.5 * (n * d) ** -0.5)
        t.norm(f"blk.{i}.ffn_norm.weight", h)
        ffn_tensors(t, hp, i, hp["shared_ff"], rng)
    t.norm("output_norm.weight", h)
    t.add("output.weight", (hp["vocab"], h), std=1.0 * h ** -0.5)
    finish(w, t)


def finish(w, t):
    for name, data in t.tensors:
        w.add_tensor(name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_gguf(path, shape, seed):
    hp = SHAPES[shape]
    (write_kimi if hp["family"] == KIMI else write_step)(path + ".part", hp, seed)
    os.replace(path + ".part", path)


# ---------------------------------------------------------------------------------------------
# Running the engines


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run(cmd, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        sys.exit(f"parity: {' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def quantize(llama_bin, source, dest, qtype, overrides):
    cmd = [os.path.join(llama_bin, "llama-quantize")]
    for o in (MIXED[gguf_family(source)] if overrides == "mixed" else overrides):
        cmd += ["--tensor-type", o]
    cmd += [source, dest + ".part", qtype]
    run(cmd)
    os.replace(dest + ".part", dest)
    return cmd


def gguf_family(path):
    return gguf.GGUFReader(path).fields["general.architecture"].contents()


def read_routing(path, layers_hint=None):
    """llama-logits' routing records -> {layer: [positions, experts] scores}."""
    data = open(path, "rb").read()
    offset, per_layer = 0, {}
    while offset < len(data):
        layer, tokens, experts = np.frombuffer(data, dtype=np.int32, count=3, offset=offset)
        offset += 12
        scores = np.frombuffer(data, dtype=np.float32, count=tokens * experts, offset=offset).reshape(tokens, experts)
        offset += 4 * tokens * experts
        per_layer.setdefault(int(layer), []).append(scores)
    return {layer: np.concatenate(chunks) for layer, chunks in per_layer.items()}


def margins(routing, top_k):
    """Per layer and position: the gap between the k-th and (k+1)-th selection score."""
    out = {}
    for layer, scores in routing.items():
        s = -np.sort(-scores, axis=1)
        out[layer] = s[:, top_k - 1] - s[:, top_k]
    return out


def decisions(routing, top_k):
    return {layer: np.sort(np.argsort(-scores, axis=1, kind="stable")[:, :top_k], axis=1) for layer, scores in routing.items()}


def llama_logits(llama_bin, model, tokens, prefill, workdir, threads):
    tokens_path = os.path.join(workdir, "tokens.txt")
    with open(tokens_path, "w") as f:
        f.write(",".join(str(t) for t in tokens))
    logits_path = os.path.join(workdir, "llama-logits.npy")
    routing_path = os.path.join(workdir, "llama-routing.bin")
    cmd = [os.path.join(llama_bin, "llama-logits"), model, tokens_path, str(prefill), logits_path, routing_path, str(threads)]
    run(cmd)
    return np.load(logits_path), read_routing(routing_path), cmd


def ctxbench_logits(ctxbench, model, tokens, prefill, workdir, threads, micro_batch=None):
    tokens_path = os.path.join(workdir, "tokens.txt")
    with open(tokens_path, "w") as f:
        f.write(",".join(str(t) for t in tokens))
    logits_path = os.path.join(workdir, "ctxbench-logits.npy")
    routing_path = os.path.join(workdir, "ctxbench-routing.bin")
    for p in (logits_path, routing_path):
        if os.path.exists(p):
            os.remove(p)
    cmd = [ctxbench, "logits", "--gguf", model, "--tokens-file", tokens_path, "--prefill", str(prefill),
           "--out", logits_path, "--routing-out", routing_path, "--threads", str(threads)]
    if micro_batch:
        cmd += ["--micro-batch", str(micro_batch)]
    start = time.time()
    run(cmd)
    return np.load(logits_path), read_routing(routing_path), time.time() - start


def choose_tokens(llama_bin, model, vocab, prefill, decode, top_k, margin, seed, workdir, threads, budget=400):
    """Tokens whose routing decisions all clear `margin` in llama.cpp's run: the first position
    with a smaller margin gets another random token, until none is left (or the budget ends)."""
    rng = np.random.default_rng(seed)
    tokens = list(rng.integers(0, vocab, prefill + decode))
    for attempt in range(budget):
        logits, routing, cmd = llama_logits(llama_bin, model, tokens, prefill, workdir, threads)
        gaps = margins(routing, top_k)
        worst = np.min(np.stack([g for g in gaps.values()]), axis=0)
        low = np.nonzero(worst < margin)[0]
        if len(low) == 0:
            return tokens, logits, routing, float(worst.min()), attempt, cmd
        tokens[low[0]] = int(rng.integers(0, vocab))
    sys.exit(f"parity: no token sequence with routing margins above {margin} after {budget} tries ({model})")


# ---------------------------------------------------------------------------------------------
# Comparison


def log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def compare(ours, ref, our_routing, ref_routing, top_k):
    """The figures the parity rules are stated in."""
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
    value_range = float(ref.max() - ref.min())
    lp, lq = log_softmax(ref), log_softmax(ours)
    kl = (np.exp(lp) * (lp - lq)).sum(axis=1)
    ours_d, ref_d = decisions(our_routing, top_k), decisions(ref_routing, top_k)
    flips = []
    for layer in sorted(ref_d):
        differ = np.nonzero((ours_d[layer] != ref_d[layer]).any(axis=1))[0]
        flips += [(layer, int(p)) for p in differ]
    return dict(max_rel_diff=float(diff.max() / value_range), argmax_equal=int((ours.argmax(1) == ref.argmax(1)).sum()),
                positions=int(ref.shape[0]), mean_kl=float(kl.mean()), max_kl=float(kl.max()), flips=flips)


def verdict(result, quantized):
    """The logit rule's verdict; routing flips are named beside it, not counted as logit errors
    (the wide shapes' token sequences are not chosen for their margins, so they have some)."""
    if quantized:
        ok = result["mean_kl"] <= 1e-3
    else:
        ok = result["max_rel_diff"] <= 1e-3 and result["argmax_equal"] == result["positions"]
    text = "ok" if ok else "FAIL"
    return text + (f"; {len(result['flips'])} routing flips" if result["flips"] else "")


# ---------------------------------------------------------------------------------------------
# Commands


def llama_version(llama_bin):
    try:
        return open(os.path.join(llama_bin, "BUILD")).read().strip().replace("\n", "; ")
    except OSError:
        return "unknown"


WRITTEN = set()


def make_fixture(args, shape, qtype, overrides, out_dir, workdir, seed, sequences, margin_needed):
    hp = SHAPES[shape]
    name = ftype_name(shape, qtype, overrides)
    source = os.path.join(workdir, f"{shape}-f32.gguf")
    # Written once per run (the quantizations of a shape share it), never reused from an earlier run
    # whose generator may have differed.
    if (source, seed) not in WRITTEN:
        write_gguf(source, shape, seed)
        WRITTEN.add((source, seed))
    model = os.path.join(out_dir, f"{name}.gguf")
    commands = [f"scripts/parity.py write {shape} --seed {seed}"]
    if qtype == "F32":
        shutil.copyfile(source, model + ".part")
        os.replace(model + ".part", model)
    else:
        cmd = quantize(args.llama_bin, source, model, qtype, overrides)
        commands.append(" ".join(["llama-quantize"] + [c for c in cmd[1:-3]] + [f"{shape}-f32.gguf", f"{name}.gguf", qtype]))
    manifest = dict(model=os.path.basename(model), sha256=sha256(model), family=hp["family"], shape=shape,
                    quantization=qtype if overrides != "mixed" else f"{qtype} + overrides", top_k=hp["top_k"],
                    llama_cpp=llama_version(args.llama_bin), commands=commands, sequences=[])
    for seq_name, prefill, decode in sequences:
        margin = margin_needed(qtype)
        tokens, logits, routing, worst, attempts, cmd = choose_tokens(
            args.llama_bin, model, hp["vocab"], prefill, decode, hp["top_k"], margin,
            seed * 1000 + prefill, workdir, args.threads)
        base = f"{name}.{seq_name}"
        np.save(os.path.join(out_dir, base + ".logits.npy"), logits.astype(np.float32))
        with open(os.path.join(out_dir, base + ".tokens.txt"), "w") as f:
            f.write(",".join(str(t) for t in tokens) + "\n")
        np.save(os.path.join(out_dir, base + ".routing.npy"),
                np.stack([routing[layer] for layer in sorted(routing)]).astype(np.float32))
        manifest["sequences"].append(dict(name=seq_name, prefill=prefill, decode=decode, tokens=base + ".tokens.txt",
                                          logits=base + ".logits.npy", routing=base + ".routing.npy",
                                          routing_layers=sorted(routing), min_routing_margin=worst,
                                          margin_required=margin, token_resamples=attempts,
                                          command=f"llama-logits {name}.gguf {base}.tokens.txt {prefill} {base}.logits.npy "
                                                  f"{base}.routing.bin {args.threads}"))
        print(f"  {base}: {prefill}+{decode} tokens, min routing margin {worst:.2e} ({attempts} resamples)")
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return model, manifest


def margin_for(qtype):
    # f32: both engines agree to ~1e-6; quantized: activation rounding can differ a little more.
    return 1e-4 if qtype == "F32" else 2e-2


def cmd_fixtures(args):
    os.makedirs(args.out, exist_ok=True)
    workdir = os.path.join(ROOT, ".build", "parity", "fixtures")
    os.makedirs(workdir, exist_ok=True)
    for shape, qtype, overrides in COMMITTED:
        print(f"{shape} {qtype}{' + overrides' if overrides else ''}")
        make_fixture(args, shape, qtype, overrides, args.out, workdir, args.seed, SEQUENCES, margin_for)
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"fixtures: {total / 1e6:.1f} MB in {args.out}")


def cmd_check(args):
    workdir = os.path.join(ROOT, ".build", "parity", "check")
    os.makedirs(workdir, exist_ok=True)
    rows = []
    failed = False
    only = set(args.only.split(",")) if args.only else None
    for shape, qtype, overrides in FULL_CHECK:
        name = ftype_name(shape, qtype, overrides)
        if only and name not in only and shape not in only:
            continue
        hp = SHAPES[shape]
        wide = shape.endswith("wide")
        # Wide shapes: no token resampling (each llama.cpp run takes a while); flips are reported.
        margin = (lambda q: -1.0) if wide else margin_for
        print(f"{name}: writing and running llama.cpp", flush=True)
        model, manifest = make_fixture(args, shape, qtype, overrides, workdir, workdir, args.seed, SEQUENCES, margin)
        for seq in manifest["sequences"]:
            tokens = [int(t) for t in open(os.path.join(workdir, seq["tokens"])).read().strip().split(",")]
            ref = np.load(os.path.join(workdir, seq["logits"]))
            ref_routing = {layer: s for layer, s in zip(seq["routing_layers"], np.load(os.path.join(workdir, seq["routing"])))}
            ours, our_routing, seconds = ctxbench_logits(args.ctxbench, model, tokens, seq["prefill"], workdir, args.threads)
            result = compare(ours, ref, our_routing, ref_routing, hp["top_k"])
            # The engine against itself with another micro-batch (7 tokens: other kernels, other
            # summation orders): the numerical noise floor the comparison with llama.cpp sits on.
            ours7, routing7, _ = ctxbench_logits(args.ctxbench, model, tokens, seq["prefill"], workdir, args.threads, 7)
            itself = compare(ours7, ours, routing7, our_routing, hp["top_k"])
            v = verdict(result, qtype != "F32")
            failed |= v.startswith("FAIL")
            rows.append((name, seq["name"], f"{seq['prefill']}+{seq['decode']}", f"{result['max_rel_diff']:.1e}",
                         f"{result['argmax_equal']}/{result['positions']}", f"{result['mean_kl']:.1e}",
                         f"{seq['min_routing_margin']:.1e}", str(len(result["flips"])),
                         f"{itself['max_rel_diff']:.1e} / {itself['mean_kl']:.1e}", v))
            print("  " + " | ".join(rows[-1]), flush=True)
    print()
    print("| model | sequence | tokens | max abs diff / range | same argmax | mean KL | min routing margin | flips "
          "| engine vs itself, micro-batch 7: diff / range, KL | verdict |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print(f"\nllama.cpp: {llama_version(args.llama_bin)}")
    return 1 if failed else 0


def cmd_models(args):
    """The side-by-side suites' GGUF files (suites/vs-llamacpp*.json5): each shape written in f32
    once, then converted by llama.cpp's own llama-quantize to each type. Files already there are kept."""
    os.makedirs(args.out, exist_ok=True)
    for shape in args.shapes.split(","):
        source = os.path.join(args.out, f"{shape}-f32.gguf")
        for qtype in args.types.split(","):
            dest = os.path.join(args.out, ftype_name(shape, qtype, []) + ".gguf")
            if os.path.exists(dest):
                continue
            if not os.path.exists(source):
                print(f"writing {source}", flush=True)
                write_gguf(source, shape, args.seed)
            if dest != source:
                print(f"quantizing {dest}", flush=True)
                quantize(args.llama_bin, source, dest, qtype, [])
        if args.drop_f32 and "F32" not in args.types.split(",") and os.path.exists(source):
            os.remove(source)  # written by this command for the conversions, not asked for


def cmd_write(args):
    write_gguf(args.out, args.shape, args.seed)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fixtures", help="rewrite the committed fixtures")
    f.add_argument("--out", default=FIXTURES)
    c = sub.add_parser("check", help="every shape: write, quantize, run both engines, compare")
    c.add_argument("--ctxbench", required=True)
    c.add_argument("--only", help="comma-separated model names or shapes (kimi-wide-q4_k_m, step-small)")
    m = sub.add_parser("models", help="the side-by-side suites' GGUF files, written and quantized")
    m.add_argument("--out", required=True)
    m.add_argument("--shapes", required=True, help="comma-separated shapes (kimi-wide,step-wide)")
    m.add_argument("--types", required=True, help="comma-separated llama-quantize types (F16,Q8_0,Q4_K_M,Q4_K_S)")
    m.add_argument("--drop-f32", action="store_true", help="remove the f32 source once converted")
    w = sub.add_parser("write", help="write one f32 GGUF of a shape")
    w.add_argument("shape", choices=sorted(SHAPES))
    w.add_argument("--out", required=True)
    for s in (f, c, m, w):
        s.add_argument("--seed", type=int, default=7)
        s.add_argument("--threads", type=int, default=2)
        s.add_argument("--llama-bin", default=os.path.join(ROOT, ".build", "llama.cpp", "bin"))
    args = p.parse_args()
    sys.exit({"fixtures": cmd_fixtures, "check": cmd_check, "models": cmd_models, "write": cmd_write}[args.command](args) or 0)


if __name__ == "__main__":
    main()
