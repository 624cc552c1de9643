/* npu_internal.h -- what the files of runtime/npu share: the backend and segment structures and
 * the lowering context. Not part of the API (npu_backend.h is).
 *
 * A segment's device memory is a handful of buffers (the ISA addresses at most 16 per job, and a
 * DMA reaches 4 GiB into one): buffer 0 holds the activations (placed by liveness, reused after
 * their last reader), buffer 1 the small constants (per-channel scales, biases, gamma/beta, f32
 * operands, zero-bordered padding buffers), buffers 2.. the quantised weights, as many 4 GiB
 * arenas as they need.
 */
#ifndef M4NPU_NPU_INTERNAL_H
#define M4NPU_NPU_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "npu_backend.h"

#define NPU_BUF_ACT 0u
#define NPU_BUF_PARAM 1u
#define NPU_BUF_WEIGHT0 2u
#define NPU_MAX_WEIGHT_ARENAS (NPU_MAX_BUFFERS - NPU_BUF_WEIGHT0)
#define NPU_ARENA_ALIGN_BYTES 64u
#define NPU_ARENA_MAX_BYTES ((UINT64_C(1) << 32) - NPU_ARENA_ALIGN_BYTES) /* a DMA's 32-bit offset */

struct npu_memo_entry;

struct npu_backend {
    m4npu_config cfg;
    npu_dev *dev;
    /* timing-only segment results by their descriptors (npu_memo.c) */
    bool memo_on;
    struct npu_memo_entry *memo;
    size_t memo_len, memo_cap;
    uint64_t memo_hits;
};

/* npu_memo.c */
bool npu_memo_lookup(npu_backend *b, const npu_segment *s, npu_segment_stats *st);
void npu_memo_store(npu_backend *b, const npu_segment *s, const npu_segment_stats *st);
void npu_memo_free(npu_backend *b);

typedef enum npu_blob_kind { NPU_BLOB_PARAM = 0, NPU_BLOB_WEIGHT } npu_blob_kind;

/* A constant the segment uploads at build time (weights, scales, biases, padding buffers). */
typedef struct npu_blob {
    npu_blob_kind kind;
    uint32_t buf;
    uint64_t offset, bytes;
} npu_blob;

/* Where a graph tensor the segment touches lives, and how it is quantised. */
typedef struct npu_tinfo {
    bool used;          /* read or written by a descriptor */
    bool produced;      /* written by a node of the segment */
    int root;           /* storage: the tensor whose bytes these are (aliases: Reshape ...) */
    int scale_root;     /* tensors that must share a scale (aliases, pure data movement) */
    bool scale_set;
    float scale;        /* at scale_root */
    float lo, hi;       /* at scale_root: the range a kernel accepts for the scale (softmax input) */
    int def, last;      /* first writer and last reader (segment positions), at root */
    uint64_t offset;    /* in the activation buffer, at root */
} npu_tinfo;

struct npu_segment {
    npu_backend *b;
    rt_graph *g;
    int *nodes, n_nodes;
    int *pos;             /* graph node -> position in the segment, or -1 */
    bool *fused;          /* position -> folded into an earlier node's descriptor */
    bool timing_only;
    npu_weight_type wtype;
    npu_tinfo *t;         /* per graph tensor */
    npu_blob *blobs;
    int n_blobs, cap_blobs;
    npu_op_desc *ops;
    int *op_node;         /* descriptor -> graph node */
    uint32_t n_ops, cap_ops;
    bool oom;             /* a descriptor could not be appended */
    uint64_t buf_bytes[NPU_MAX_BUFFERS];
    uint32_t nbufs;
    npu_bo *bo[NPU_MAX_BUFFERS], *prog;
    uint8_t *param_host, **weight_host; /* build-time images (freed after upload) */
    int *ins, n_ins;      /* boundary inputs (storage roots) */
    int *outs, n_outs;    /* boundary outputs (graph tensors) */
    uint64_t weight_bytes;
};

/* ---------------------------------------------------------------- lowering (npu_lower.c) */

typedef enum npu_lower_mode {
    NPU_LOWER_CHECK = 0, /* can the kernels run the node? (no segment) */
    NPU_LOWER_PLAN,      /* record tensor uses, aliases, scales and constants */
    NPU_LOWER_EMIT,      /* write the descriptors and the constants' data */
} npu_lower_mode;

typedef struct npu_lower {
    npu_lower_mode mode;
    const npu_device_config *dev;
    const rt_graph *g;
    npu_segment *s;  /* NULL when checking */
    int node, pos;   /* graph node, its position in the segment */
    int blob_next;   /* constants are numbered in lowering order, the same in PLAN and EMIT */
    char *why;
    size_t whylen;
} npu_lower;

/* Lower node L->node; 0, or -1 with the reason in L->why. */
int npu_lower_node(npu_lower *L);

/* ---------------------------------------------------------------- weights (npu_weights.c) */

/* Bytes of a BLOCKED [K, N] weight with block width nb. */
uint64_t npu_blocked_bytes(uint64_t k, uint64_t n, uint64_t nb, bool int4);
/* Quantise w (element (k, n) at w[k * ks + n * ns], times alpha) per column n into the BLOCKED
 * layout at dst (npu_blocked_bytes), scales[N] = max|w| / qmax (1 for an all-zero column). */
void npu_pack_blocked(const float *w, int64_t ks, int64_t ns, uint64_t k, uint64_t n, float alpha, uint64_t nb,
                      bool int4, uint8_t *dst, float *scales);
/* Conv weights [CO, C, KH, KW] -> OHWI int8 with scales[CO]. */
void npu_pack_ohwi(const float *w, uint64_t co, uint64_t c, uint64_t kh, uint64_t kw, uint8_t *dst, float *scales);
/* Already quantised weights (an i8 or packed i4 rt_tensor with data): the same layouts, values
 * unchanged (int4 into int8 for conv, whose weights are the array's int8 A operand). */
void npu_pack_blocked_int(const rt_tensor *w, uint64_t k, uint64_t n, uint64_t nb, bool int4, uint8_t *dst);
void npu_pack_ohwi_int(const rt_tensor *w, uint64_t co, uint64_t c, uint64_t kh, uint64_t kw, uint8_t *dst);

#endif
