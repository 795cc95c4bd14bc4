# A tiny llama-architecture GGUF with random weights, only to make llama-bench and
# llama-batched-bench produce real output files for ctxbench's import tests.
import sys
# usage: PYTHONPATH=<llama.cpp>/gguf-py python3 make-tiny-gguf.py tiny.gguf
import numpy as np, gguf
n_embd, n_layer, n_head, n_ff, n_vocab = 256, 2, 4, 512, 1024
rng = np.random.default_rng(0)
w = gguf.GGUFWriter(sys.argv[1], "llama")
w.add_name("tiny-random-llama")
w.add_context_length(8192); w.add_embedding_length(n_embd); w.add_block_count(n_layer)
w.add_feed_forward_length(n_ff); w.add_head_count(n_head); w.add_head_count_kv(n_head)
w.add_layer_norm_rms_eps(1e-5); w.add_rope_dimension_count(n_embd // n_head)
w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
types = [2, 3, 3] + [6] * 256
while len(tokens) < n_vocab:
    tokens.append(f"\u2581t{len(tokens)}"); types.append(1)
w.add_tokenizer_model("llama"); w.add_token_list(tokens)
w.add_token_scores([0.0] * n_vocab); w.add_token_types(types)
w.add_bos_token_id(1); w.add_eos_token_id(2); w.add_unk_token_id(0)
def t(name, *shape, norm=False):
    a = np.ones(shape, np.float32) if norm else (rng.standard_normal(shape) * 0.02).astype(np.float16 if len(shape) == 2 else np.float32)
    w.add_tensor(name, a)
t("token_embd.weight", n_vocab, n_embd); t("output_norm.weight", n_embd, norm=True); t("output.weight", n_vocab, n_embd)
for i in range(n_layer):
    p = f"blk.{i}."
    t(p + "attn_norm.weight", n_embd, norm=True); t(p + "ffn_norm.weight", n_embd, norm=True)
    for n in ("attn_q", "attn_k", "attn_v", "attn_output"): t(p + n + ".weight", n_embd, n_embd)
    t(p + "ffn_gate.weight", n_ff, n_embd); t(p + "ffn_up.weight", n_ff, n_embd); t(p + "ffn_down.weight", n_embd, n_ff)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
