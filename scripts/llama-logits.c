// llama-logits: llama.cpp's logits (and MoE routing scores) for a token sequence, the reference the
// engine's parity tests compare against. Built by scripts/setup-llama-cpp against the static
// libraries of the llama.cpp it builds; never linked into ctxbench.
//
//   llama-logits MODEL.gguf TOKENS PREFILL OUT_LOGITS.npy [OUT_ROUTING.bin] [THREADS]
//
// TOKENS: a file of token ids (separated by commas or white space). The first PREFILL tokens go
// in one llama_decode call (llama.cpp splits it into micro-batches as it always does), the rest
// one decode call per token, as `ctxbench logits` does. Every position's logits are written as a
// float32 NumPy array [positions, vocabulary]. The KV cache is f32 and flash attention is off, so
// the reference is llama.cpp's full-precision path.
//
// OUT_ROUTING (optional): for every MoE layer and evaluated micro-batch, the scores the experts
// are selected by (llama.cpp's "ffn_moe_probs_biased", or "ffn_moe_probs" without a selection
// bias): records of int32 layer, int32 tokens, int32 experts, then tokens x experts float32.
#include "llama.h"
#include "ggml.h"
#include "ggml-backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *routing_out = NULL;

// The selection scores of a layer are "ffn_moe_probs" (sigmoid of the router), followed at once by
// "ffn_moe_probs_biased" when the layer has a selection bias: a plain record is held back until the
// next one shows whether its biased version replaces it.
static int32_t pending_header[3];
static float *pending = NULL;
static size_t pending_count = 0;

static void quiet_log(enum ggml_log_level level, const char *text, void *user) {
    (void)user;
    if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static int layer_of(const char *name, const char *prefix) {
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0 || name[n] != '-') return -1;
    char *end = NULL;
    long il = strtol(name + n + 1, &end, 10);
    return (end && *end == '\0') ? (int)il : -1;
}

static void flush_pending(void) {
    if (!pending) return;
    fwrite(pending_header, sizeof(pending_header), 1, routing_out);
    fwrite(pending, sizeof(float), pending_count, routing_out);
    free(pending);
    pending = NULL;
}

// Asked first whether a tensor is wanted, then called with it computed.
static bool capture_routing(struct ggml_tensor *t, bool ask, void *user) {
    (void)user;
    int biased = layer_of(t->name, "ffn_moe_probs_biased");
    int plain = layer_of(t->name, "ffn_moe_probs");
    int il = biased >= 0 ? biased : plain;
    if (il < 0) return ask ? false : true;
    if (ask) return true;
    if (!routing_out || t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t)) return true;
    size_t count = (size_t)t->ne[0] * (size_t)t->ne[1];
    float *data = malloc(count * sizeof(float));
    if (!data) { fprintf(stderr, "llama-logits: out of memory\n"); exit(1); }
    ggml_backend_tensor_get(t, data, 0, count * sizeof(float));
    if (biased >= 0 && pending && pending_header[0] == il) {
        free(pending);  // replaced by the biased scores
        pending = NULL;
    }
    flush_pending();
    pending_header[0] = il;
    pending_header[1] = (int32_t)t->ne[1];
    pending_header[2] = (int32_t)t->ne[0];
    pending = data;
    pending_count = count;
    return true;
}

static int read_tokens(const char *path, llama_token **tokens) {
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "llama-logits: cannot open %s\n", path); exit(1); }
    int capacity = 1024, n = 0;
    *tokens = malloc(sizeof(llama_token) * capacity);
    long v;
    for (;;) {
        int c = fgetc(f);
        if (c == EOF) break;
        if (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        ungetc(c, f);
        if (fscanf(f, "%ld", &v) != 1) { fprintf(stderr, "llama-logits: %s: expected token ids\n", path); exit(1); }
        if (n == capacity) { capacity *= 2; *tokens = realloc(*tokens, sizeof(llama_token) * capacity); }
        (*tokens)[n++] = (llama_token)v;
    }
    fclose(f);
    return n;
}

static void write_npy(const char *path, const float *data, int rows, int cols) {
    FILE *f = fopen(path, "wb");
    if (!f) { fprintf(stderr, "llama-logits: cannot write %s\n", path); exit(1); }
    char header[128];
    int len = snprintf(header, sizeof(header), "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols);
    int total = 10 + len + 1;
    int pad = (64 - total % 64) % 64;
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    unsigned short hlen = (unsigned short)(len + pad + 1);
    fwrite(&hlen, 2, 1, f);
    fwrite(header, 1, len, f);
    for (int i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    fwrite(data, sizeof(float), (size_t)rows * cols, f);
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: llama-logits MODEL.gguf TOKENS PREFILL OUT_LOGITS.npy [OUT_ROUTING.bin] [THREADS]\n");
        return 64;
    }
    llama_token *tokens = NULL;
    int n = read_tokens(argv[2], &tokens);
    int prefill = atoi(argv[3]);
    if (n < 1 || prefill < 1 || prefill > n) { fprintf(stderr, "llama-logits: need 1 <= PREFILL <= tokens (%d)\n", n); return 64; }
    if (argc > 5 && strcmp(argv[5], "-") != 0) {
        routing_out = fopen(argv[5], "wb");
        if (!routing_out) { fprintf(stderr, "llama-logits: cannot write %s\n", argv[5]); return 1; }
    }
    int threads = argc > 6 ? atoi(argv[6]) : 2;

    llama_log_set(quiet_log, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    // ggml's plain CPU products (vec_dot on rows quantized by quantize_row_*), not the weight
    // repacking of the CPU backend's extra buffer types: their activation quantizers for the
    // interleaved layouts round differently, so the same file gives slightly different logits with
    // and without them. CTXBENCH_LLAMA_REPACK=1 keeps them, to measure that difference.
    const char *repack = getenv("CTXBENCH_LLAMA_REPACK");
    mp.use_extra_bufts = repack && strcmp(repack, "1") == 0;
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "llama-logits: cannot load %s\n", argv[1]); return 1; }
    int vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));

    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)(n + 16);
    cp.n_batch = (uint32_t)(prefill > 512 ? prefill : 512);
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.type_k = GGML_TYPE_F32;
    cp.type_v = GGML_TYPE_F32;
    cp.cb_eval = capture_routing;
    cp.cb_eval_user_data = NULL;
    cp.no_perf = true;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "llama-logits: cannot create a context\n"); return 1; }

    float *logits = malloc(sizeof(float) * (size_t)n * vocab);
    struct llama_batch batch = llama_batch_init(prefill, 0, 1);
    int done = 0;
    while (done < n) {
        int count = done == 0 ? prefill : 1;
        batch.n_tokens = count;
        for (int i = 0; i < count; i++) {
            batch.token[i] = tokens[done + i];
            batch.pos[i] = done + i;
            batch.n_seq_id[i] = 1;
            batch.seq_id[i][0] = 0;
            batch.logits[i] = 1;
        }
        if (llama_decode(ctx, batch) != 0) { fprintf(stderr, "llama-logits: llama_decode failed at position %d\n", done); return 1; }
        for (int i = 0; i < count; i++) {
            const float *row = llama_get_logits_ith(ctx, i);
            if (!row) { fprintf(stderr, "llama-logits: no logits for position %d\n", done + i); return 1; }
            memcpy(logits + (size_t)(done + i) * vocab, row, sizeof(float) * vocab);
        }
        done += count;
    }
    write_npy(argv[4], logits, n, vocab);
    if (routing_out) { flush_pending(); fclose(routing_out); }
    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    free(logits);
    free(tokens);
    return 0;
}
