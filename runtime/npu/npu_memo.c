/* npu_memo.c -- timing-only segment results, remembered.
 *
 * A timing-only job's cycles and counters are a function of its op descriptors and the device
 * configuration alone: the device starts every job drained and idle, timing never depends on
 * data, and no model in sim/ depends on an address but one: on a device with on-chip memory
 * (npu.dram.onchip_bytes) a DMA is on chip or not by where it lands. So the key also holds, per
 * job buffer, whether it is wholly on chip, wholly off, or split (then the offsets into it stay
 * in the key: they decide which side a transfer is on). When a segment with the same descriptors
 * (buffer indices and offsets aside) runs again on the same backend — the 32 identical layers of
 * LLaMA-7B, the same encoder in two tasks — its stats are taken from the memo instead of
 * simulating it again, with its per-op profile (with npu.overlap on, only a segment whose tensors
 * lie at the same offsets in their buffers, whose buffers share bytes alike: see normalise()). The result is identical by construction;
 * tests/npu checks it anyway by running segments with the memo on and off.
 */
#include "npu_internal.h"

#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#define NPU_MEMO_INITIAL_SLOTS 64u

/* Where a job buffer lies against the on-chip memory: wholly off chip, wholly on, or split at this
 * offset into it (0 < split < its bytes). */
#define NPU_MEMO_OFF_CHIP UINT64_MAX
#define NPU_MEMO_ON_CHIP 0u

/* With npu.overlap on, which of a job's buffer windows share bytes: alias[k][l] (k < l) is l's
 * start minus k's when they meet, NPU_MEMO_APART when not (always, with overlap off). */
#define NPU_MEMO_APART INT64_MIN
typedef struct npu_memo_alias {
    int64_t d[NPU_MAX_BUFFERS][NPU_MAX_BUFFERS];
} npu_memo_alias;

/* A lookup's normalised key (a decode segment's is some 2,000 descriptors, 700 KiB), kept for
 * the store that follows when it missed: the simulation in between changes neither the
 * segment's descriptors nor its buffers, so the store takes this key, hash, placement and
 * aliasing as they are instead of normalising and hashing the descriptors again into a fresh
 * allocation. The buffer is reused by the next lookup while no store has taken it. */
struct npu_memo_pending {
    const npu_segment *seg; /* the segment the key below is of; NULL: none */
    npu_op_desc *key;       /* normalised descriptors (cap of them allocated) */
    uint32_t cap, n_ops;
    uint64_t hash;
    uint64_t place[NPU_MAX_BUFFERS];
    npu_memo_alias alias;
};

struct npu_memo_entry {
    uint64_t hash;
    uint32_t n_ops;
    uint64_t place[NPU_MAX_BUFFERS]; /* per job buffer: NPU_MEMO_OFF_CHIP, NPU_MEMO_ON_CHIP or a split */
    npu_memo_alias alias; /* npu.overlap on: which job buffers share bytes */
    npu_op_desc *key; /* the normalised descriptors */
    npu_segment_stats stats;
    npu_op_profile *profile; /* per descriptor, cycles relative to the job's start */
};

/* Each job buffer of the segment against the device's on-chip memory (all off chip without one). */
static void placement(const npu_backend *b, const npu_segment *s, uint64_t place[NPU_MAX_BUFFERS])
{
    uint64_t onchip = npu_dev_onchip_bytes(b->dev), base = npu_dev_onchip_base(b->dev);
    for (uint32_t k = 0; k < NPU_MAX_BUFFERS; k++) {
        const npu_window *w = &s->win[k];
        place[k] = NPU_MEMO_OFF_CHIP;
        if (!onchip || k >= s->nbufs || !w->bo)
            continue;
        uint64_t at = npu_bo_addr(w->bo) + w->offset;
        if (at >= base)
            place[k] = NPU_MEMO_ON_CHIP;
        else if (at + w->bytes > base)
            place[k] = base - at;
    }
}

/* The firmware's fences then depend on which buffers share bytes (and on where tensors lie in
 * their buffers, which normalise() keeps), not on the distance between buffers
 * (firmware/src/ops/fw_overlap.c). */
static void aliasing(const npu_backend *b, const npu_segment *s, npu_memo_alias *a)
{
    for (uint32_t k = 0; k < NPU_MAX_BUFFERS; k++)
        for (uint32_t l = 0; l < NPU_MAX_BUFFERS; l++)
            a->d[k][l] = NPU_MEMO_APART;
    if (b->cfg.npu.overlap != NPU_ON)
        return;
    for (uint32_t k = 0; k < s->nbufs && k < NPU_MAX_BUFFERS; k++)
        for (uint32_t l = k + 1; l < s->nbufs && l < NPU_MAX_BUFFERS; l++) {
            const npu_window *wk = &s->win[k], *wl = &s->win[l];
            if (!wk->bo || !wl->bo)
                continue;
            uint64_t ak = npu_bo_addr(wk->bo) + wk->offset, al = npu_bo_addr(wl->bo) + wl->offset;
            if (ak < al + wl->bytes && al < ak + wk->bytes)
                a->d[k][l] = (int64_t)(al - ak);
        }
}

static bool split_buffer(const uint64_t place[NPU_MAX_BUFFERS], uint32_t buf)
{
    return buf < NPU_MAX_BUFFERS && place[buf] != NPU_MEMO_OFF_CHIP && place[buf] != NPU_MEMO_ON_CHIP;
}

/* The descriptors with everything that names a place in memory zeroed, but the offsets into a
 * buffer split by the on-chip memory's boundary. With npu.overlap on nothing is zeroed: the
 * firmware then fences an op after an earlier one where their DRAM ranges meet, so the timing
 * depends on where tensors lie within their buffers (and on which buffers share bytes: aliasing()). */
static void normalise(const npu_backend *b, const npu_op_desc *in, npu_op_desc *out, uint32_t n,
                      const uint64_t place[NPU_MAX_BUFFERS])
{
    memcpy(out, in, (size_t)n * sizeof *in);
    if (b->cfg.npu.overlap == NPU_ON)
        return;
    for (uint32_t i = 0; i < n; i++) {
        npu_tensor_ref *refs[NPU_OP_MAX_INPUTS + 1] = {&out[i].in[0], &out[i].in[1], &out[i].in[2], &out[i].out};
        for (int k = 0; k < NPU_OP_MAX_INPUTS + 1; k++) {
            if (!split_buffer(place, refs[k]->buf)) {
                refs[k]->buf = refs[k]->buf == NPU_NO_BUFFER ? NPU_NO_BUFFER : 0;
                refs[k]->offset = 0;
            }
            if (!split_buffer(place, refs[k]->scales_buf)) {
                refs[k]->scales_buf = refs[k]->scales_buf == NPU_NO_BUFFER ? NPU_NO_BUFFER : 0;
                refs[k]->scales_offset = 0;
            }
        }
        if (out[i].op == NPU_OP_ATTENTION) { /* the mask's place is in the attributes */
            out[i].iattr[3] = 0;
            out[i].lattr[0] = 0;
        }
    }
}


void npu_memo_free(npu_backend *b)
{
    for (size_t i = 0; i < b->memo_len; i++) {
        free(b->memo[i].key);
        free(b->memo[i].profile);
    }
    free(b->memo);
    b->memo = NULL;
    b->memo_len = b->memo_cap = 0;
    if (b->memo_pending)
        free(b->memo_pending->key);
    free(b->memo_pending);
    b->memo_pending = NULL;
}

/* xxHash's XXH3 (libxxhash, as the traces use it): a decode segment's key is some 2,000
 * descriptors, hundreds of KiB; FNV-1a a byte at a time took 4 instructions a byte, at every
 * lookup and store. Only equal hashes are compared (memcmp), so the hash decides no result. */
static uint64_t key_hash(const npu_op_desc *key, uint32_t n, const uint64_t place[NPU_MAX_BUFFERS],
                         const npu_memo_alias *alias)
{
    uint64_t seed = XXH3_64bits_withSeed(alias, sizeof *alias, XXH3_64bits(place, NPU_MAX_BUFFERS * sizeof *place));
    return XXH3_64bits_withSeed(key, (size_t)n * sizeof *key, seed);
}

/* Find the entry for normalised descriptors (hash h) on buffers placed so. */
static const struct npu_memo_entry *find(const npu_backend *b, uint64_t h, const npu_op_desc *key, uint32_t n,
                                         const uint64_t place[NPU_MAX_BUFFERS], const npu_memo_alias *alias)
{
    for (size_t i = 0; i < b->memo_len; i++) {
        const struct npu_memo_entry *m = &b->memo[i];
        if (m->hash == h && m->n_ops == n && memcmp(m->place, place, sizeof m->place) == 0 &&
            memcmp(&m->alias, alias, sizeof *alias) == 0 &&
            memcmp(m->key, key, (size_t)n * sizeof *key) == 0)
            return m;
    }
    return NULL;
}

bool npu_memo_lookup(npu_backend *b, npu_segment *s, npu_segment_stats *st)
{
    if (b->memo_pending)
        b->memo_pending->seg = NULL;
    if (!b->memo_on || !s->timing_only || s->n_ops == 0)
        return false;
    if (!b->memo_pending && !(b->memo_pending = calloc(1, sizeof *b->memo_pending)))
        return false;
    struct npu_memo_pending *k = b->memo_pending;
    if (k->cap < s->n_ops) {
        free(k->key);
        k->cap = 0;
        if (!(k->key = malloc((size_t)s->n_ops * sizeof *k->key)))
            return false;
        k->cap = s->n_ops;
    }
    placement(b, s, k->place);
    normalise(b, s->ops, k->key, s->n_ops, k->place);
    aliasing(b, s, &k->alias);
    k->n_ops = s->n_ops;
    k->hash = key_hash(k->key, s->n_ops, k->place, &k->alias);
    k->seg = s;
    const struct npu_memo_entry *m = find(b, k->hash, k->key, s->n_ops, k->place, &k->alias);
    if (!m || (b->profile_on && !m->profile))
        return false; /* not remembered, or without the per-op profile now asked for */
    if (b->profile_on) {
        if (!s->profile && !(s->profile = calloc(s->n_ops, sizeof *s->profile)))
            return false; /* simulate it instead */
        memcpy(s->profile, m->profile, (size_t)s->n_ops * sizeof *s->profile);
    }
    st->cycles = m->stats.cycles;
    st->seconds = m->stats.seconds;
    st->counters = m->stats.counters;
    st->insns = m->stats.insns;
    b->memo_hits++;
    k->seg = NULL; /* a hit is not stored */
    return true;
}

void npu_memo_store(npu_backend *b, const npu_segment *s, const npu_segment_stats *st)
{
    if (!b->memo_on || !s->timing_only || s->n_ops == 0)
        return;
    if (b->memo_len == b->memo_cap) {
        size_t cap = b->memo_cap ? 2 * b->memo_cap : NPU_MEMO_INITIAL_SLOTS;
        struct npu_memo_entry *m = realloc(b->memo, cap * sizeof *m);
        if (!m)
            return; /* a memo that cannot grow only costs time */
        b->memo = m;
        b->memo_cap = cap;
    }
    struct npu_memo_pending *k = b->memo_pending;
    bool pending = k && k->seg == s && k->n_ops == s->n_ops; /* the lookup that missed just before */
    npu_op_desc *key = pending ? k->key : malloc((size_t)s->n_ops * sizeof *key);
    bool keep = b->profile_on && s->profile; /* the profile too, when jobs carry one */
    npu_op_profile *profile = keep ? malloc((size_t)s->n_ops * sizeof *profile) : NULL;
    if (!key || (keep && !profile)) {
        if (!pending)
            free(key);
        free(profile);
        return;
    }
    struct npu_memo_entry *m = &b->memo[b->memo_len++];
    if (pending) { /* the entry takes the lookup's key */
        memcpy(m->place, k->place, sizeof m->place);
        m->alias = k->alias;
        m->hash = k->hash;
        k->key = NULL;
        k->cap = 0;
        k->seg = NULL;
    } else {
        placement(b, s, m->place);
        normalise(b, s->ops, key, s->n_ops, m->place);
        aliasing(b, s, &m->alias);
        m->hash = key_hash(key, s->n_ops, m->place, &m->alias);
    }
    if (keep)
        memcpy(profile, s->profile, (size_t)s->n_ops * sizeof *profile);
    m->profile = profile;
    m->n_ops = s->n_ops;
    m->key = key;
    m->stats = *st;
}

void npu_backend_set_memo(npu_backend *b, bool on)
{
    b->memo_on = on;
    if (!on)
        npu_memo_free(b);
}

uint64_t npu_backend_memo_hits(const npu_backend *b) { return b->memo_hits; }
