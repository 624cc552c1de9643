/* npu_lower_cnn.c -- lowering the operators of mobile CNNs (ABI 1.5 descriptors): grouped and
 * depthwise Conv, ConvTranspose (zero insertion by PAD, then a stride-1 CONV2D with the kernel
 * flipped), MaxPool and AveragePool (padding by a bordered copy, divisors per position where
 * they vary), the global pools (a REDUCE over each channel's plane), Pad, Resize and Upsample,
 * the activations that need parameters (Clip, HardSigmoid, HardSwish, PRelu) and a
 * BatchNormalization that import could not fold (a CHANNEL_AFFINE). Each family's CHECK mode
 * states exactly the limits its firmware kernel enforces (firmware/src/ops), each with its own
 * reason. The window geometry comes from runtime/ops (ops_window_forward/transpose,
 * ops_resize_params), so pads, strides and output sizes are the CPU kernels' own.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"
#include "npu_lower.h"
#include "npu_twin.h"
#include "ops_geom.h"

#define CNN_PIPE_SLOTS 2          /* the window kernels' slots per stage (op_gconv.c, op_pool.c) */
#define POOL_EXACT_SUM_TAPS ((1u << 24) / 128u) /* op_pool.c: exact f32 sums of int8 windows */
#define INT8_MIN_BYTE (-128)       /* the max-pool border: below every int8 value */
#define WINDOW_MAX_SPATIAL 2       /* 1-D and 2-D windows */

/* ---------------------------------------------------------------- shared */

static uint64_t align64(uint64_t b) { return (b + NPU_ARENA_ALIGN_BYTES - 1) / NPU_ARENA_ALIGN_BYTES * NPU_ARENA_ALIGN_BYTES; }

/* [B, H, W]: the last two axes of t, every leading axis merged into B (rank 1: [1, 1, W]). */
static void view3(const rt_tensor *t, int64_t *d)
{
    d[2] = t->dims[t->rank - 1];
    d[1] = t->rank >= 2 ? t->dims[t->rank - 2] : 1;
    d[0] = rt_tensor_numel(t) / (d[1] * d[2]);
}

/* The window of node L->node over nsp spatial axes of x (forward: Conv, pools; or ConvTranspose). */
static int window_of(npu_lower *L, int x, const int64_t *k, bool transpose, ops_window *w)
{
    const rt_tensor *X = nl_tensor(L, x);
    int nsp = X->rank - 2;
    rt_op_binding bind;
    rt_error e;
    memset(&e, 0, sizeof e);
    if (ops_bind(L->g, L->node, NULL, &bind, &e) != RT_OK)
        return nl_refuse(L, "%s", e.msg);
    bool ceil_ok = nl_node(L)->op == RT_OP_MaxPool || nl_node(L)->op == RT_OP_AveragePool;
    rt_status st = transpose ? ops_window_transpose(&bind.ctx, nsp, X->dims + 2, k, w)
                             : ops_window_forward(&bind.ctx, nsp, X->dims + 2, k, ceil_ok, w);
    char msg[sizeof e.msg];
    memcpy(msg, e.msg, sizeof msg);
    ops_unbind(&bind);
    if (st != RT_OK)
        return nl_refuse(L, "window: %s", msg[0] ? msg : rt_status_str(st));
    for (int i = 0; i < nsp; i++)
        if (w->dil[i] != 1)
            return nl_refuse(L, "dilation %lld; the NPU kernels take 1", (long long)w->dil[i]);
    return 0;
}

/* 2-D geometry of a 1-D or 2-D window (1-D as H = 1): input, kernel, strides, begin pads,
 * output, and the padded buffer [HB, WB] the kernel reads. */
typedef struct win2d {
    int64_t N, C, H, W, KH, KW, SH, SW, PT, PL, PB, PR, OH, OW, HB, WB; /* PB, PR: end pads */
    bool pad;
} win2d;

static int win2d_of(npu_lower *L, int x, int y, const int64_t *k, win2d *g)
{
    const rt_tensor *X = nl_tensor(L, x), *Y = nl_tensor(L, y);
    int nsp = X->rank - 2;
    if (nsp < 1 || nsp > WINDOW_MAX_SPATIAL || Y->rank != X->rank)
        return nl_refuse(L, "a %d-D window (the NPU kernels run 1-D and 2-D)", nsp);
    ops_window w;
    if (window_of(L, x, k, false, &w))
        return -1;
    int a = nsp - 1; /* the last (W) axis */
    g->N = X->dims[0];
    g->C = X->dims[1];
    g->H = nsp == 2 ? X->dims[2] : 1;
    g->W = X->dims[X->rank - 1];
    g->KH = nsp == 2 ? w.k[0] : 1;
    g->KW = w.k[a];
    g->SH = nsp == 2 ? w.stride[0] : 1;
    g->SW = w.stride[a];
    g->PT = nsp == 2 ? w.pad_b[0] : 0;
    g->PL = w.pad_b[a];
    g->PB = nsp == 2 ? w.pad_e[0] : 0;
    g->PR = w.pad_e[a];
    g->OH = nsp == 2 ? Y->dims[2] : 1;
    g->OW = Y->dims[Y->rank - 1];
    if (g->PT < 0 || g->PL < 0 || g->OH < 1 || g->OW < 1)
        return nl_refuse(L, "negative pads or an empty output");
    int64_t hp = (g->OH - 1) * g->SH + g->KH, wp = (g->OW - 1) * g->SW + g->KW;
    g->HB = hp > g->PT + g->H ? hp : g->PT + g->H;
    g->WB = wp > g->PL + g->W ? wp : g->PL + g->W;
    g->pad = g->PT > 0 || g->PL > 0 || g->HB > g->H || g->WB > g->W;
    if ((uint64_t)(g->HB * g->WB) > DMA_MAX_PITCH || (uint64_t)(g->OH * g->OW) > DMA_MAX_PITCH)
        return nl_refuse(L, "channel planes of %lld input / %lld output bytes exceed the DMA's %u-byte row pitch",
                         (long long)(g->HB * g->WB), (long long)(g->OH * g->OW), DMA_MAX_PITCH);
    return 0;
}

/* Bytes of the window kernels' im2col slot for cc channels and n positions (fw_im2col.c). */
static uint64_t im2col_bytes(const win2d *g, uint64_t cc, uint64_t n)
{
    uint64_t rows = (uint64_t)(g->KH * g->KW) * cc * n;
    if (g->SW <= 1)
        return rows;
    uint64_t qb = (uint64_t)((g->KW + g->SW - 1) / g->SW);
    return rows + align64((uint64_t)(g->SW - 1) * cc * n) + (uint64_t)g->KH * qb * cc * n * (uint64_t)g->SW;
}

/* The window input as the kernel reads it: x, or x copied into a buffer bordered with `border`. */
static npu_tensor_ref window_input(npu_lower *L, int x, const win2d *g, int8_t border)
{
    int64_t xd[4] = {g->N, g->C, g->H, g->W}, bd[4] = {g->N, g->C, g->HB, g->WB};
    npu_tensor_ref xin = nl_in_ref(L, x, 4, xd);
    return g->pad ? nl_bordered_input(L, xin, bd, g->PT, g->PL, border) : xin;
}

/* ---------------------------------------------------------------- grouped convolution */

int npu_lower_group_conv(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int x = nl_in(L, 0), w = nl_in(L, 1), bt = nl_in(L, 2), y = nl_out(L, 0);
    int iw = w >= 0 && !nl_is_const(L, w) ? nl_int_weight_src(L, w) : -1; /* an int8/int4 weight behind its cast */
    if (nl_need_act(L, x, "X") || nl_need_data(L, y, "Y") || (iw < 0 && nl_need_const(L, w, "W")))
        return -1;
    if (iw >= 0 && L->mode == NPU_LOWER_EMIT && !L->s->timing_only && !nl_tensor(L, iw)->data)
        return nl_refuse(L, "the weight '%s' has no data (a numeric segment needs it; build a timing-only one)",
                         nl_tensor(L, iw)->name);
    const rt_tensor *X = nl_tensor(L, x), *Wt = nl_tensor(L, w);
    int64_t G = rt_node_attr_int(n, "group", 1);
    if (Wt->rank != X->rank || X->rank < 3)
        return nl_refuse(L, "W of rank %d for X of rank %d", Wt->rank, X->rank);
    int64_t C = X->dims[1], CO = Wt->dims[0];
    if (G < 1 || C % G || CO % G || Wt->dims[1] != C / G)
        return nl_refuse(L, "group = %lld does not divide %lld input / %lld output channels with W's %lld per group",
                         (long long)G, (long long)C, (long long)CO, (long long)Wt->dims[1]);
    win2d g;
    if (win2d_of(L, x, y, Wt->dims + 2, &g))
        return -1;
    int64_t cin_g = C / G, cout_g = CO / G, kk = g.KH * g.KW;
    if (cin_g * kk > (int64_t)MM_MAX_K)
        return nl_refuse(L, "%lld input channels per group x a %lldx%lld kernel exceed the array's k of %u",
                         (long long)cin_g, (long long)g.KH, (long long)g.KW, MM_MAX_K);
    /* the kernel's smallest tiling: one group per block (at most the array's rows), one position */
    uint64_t mt = L->dev->matmul.rows, rmax = (uint64_t)cout_g < mt ? (uint64_t)cout_g : mt;
    uint64_t need = CNN_PIPE_SLOTS * (align64(rmax * (uint64_t)(cin_g * kk)) + align64(im2col_bytes(&g, (uint64_t)cin_g, 1)) +
                                      2 * align64(4 * rmax) + align64(8 * rmax));
    if (need + SRAM_SLACK_BYTES > L->dev->sram.size_bytes)
        return nl_refuse(L, "its smallest tiling needs %llu bytes of SRAM; the device has %llu", (unsigned long long)need,
                         (unsigned long long)L->dev->sram.size_bytes);
    if (bt >= 0) {
        if (nl_need_const(L, bt, "B"))
            return -1;
        if (nl_numel(L, bt) != CO)
            return nl_refuse(L, "B has %lld values for %lld output channels", (long long)nl_numel(L, bt), (long long)CO);
    }
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    epilogue_fusion f = nl_fuse_epilogue(L, y, CO, 1, bt >= 0, true);
    if (f.bias >= 0)
        bt = f.bias;
    npu_tensor_ref xin = window_input(L, x, &g, 0);
    uint64_t kg = (uint64_t)(cin_g * kk);
    npu_cref sc = nl_blob(L, NPU_BLOB_PARAM, 4 * (uint64_t)CO);
    npu_cref wb = nl_blob(L, NPU_BLOB_WEIGHT, (uint64_t)CO * kg);
    if (wb.host && sc.host) {
        float *scales = (float *)sc.host;
        if (iw >= 0) {
            npu_pack_ohwi_int(nl_tensor(L, iw), (uint64_t)CO, (uint64_t)cin_g, (uint64_t)g.KH, (uint64_t)g.KW, wb.host);
            for (int64_t i = 0; i < CO; i++)
                scales[i] = 1.0f;
        } else {
            float *wv = nl_const_f32(L, w);
            if (wv)
                npu_pack_ohwi(wv, (uint64_t)CO, (uint64_t)cin_g, (uint64_t)g.KH, (uint64_t)g.KW, false, wb.host, scales);
            free(wv);
        }
        if (f.scale >= 0) {
            float *m = nl_const_f32(L, f.scale);
            for (int64_t i = 0; m && i < CO; i++)
                scales[i] *= m[i];
            free(m);
        }
    }
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_GROUP_CONV2D, bt >= 0 ? 3 : 2, &scratch);
    int64_t wd[4] = {CO, cin_g, g.KH, g.KW}, od[4] = {g.N, CO, g.OH, g.OW};
    d->in[0] = xin;
    d->in[1] = nl_make_ref(wb.buf, NPU_DT_I8, wb.offset, 0.0f, 4, wd);
    d->in[1].scales_axis = 0;
    d->in[1].scales_buf = sc.buf;
    d->in[1].scales_offset = sc.offset;
    if (bt >= 0) {
        float *h;
        d->in[2] = nl_param_vec(L, CO, &h);
        if (h) {
            float *bv = nl_const_f32(L, bt);
            if (bv)
                memcpy(h, bv, (size_t)CO * sizeof *h);
            free(bv);
        }
    }
    d->iattr[0] = (int32_t)g.SH;
    d->iattr[1] = (int32_t)g.SW;
    d->iattr[6] = f.act;
    d->iattr[7] = NPU_LAYOUT_OHWI;
    d->lattr[0] = G;
    d->fattr[0] = f.prm[0];
    d->fattr[1] = f.prm[1];
    d->out = nl_out_ref(L, f.out, 4, od);
    return 0;
}

/* ---------------------------------------------------------------- transposed convolution */

int npu_lower_conv_transpose(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int x = nl_in(L, 0), w = nl_in(L, 1), bt = nl_in(L, 2), y = nl_out(L, 0);
    if (nl_need_act(L, x, "X") || nl_need_data(L, y, "Y"))
        return -1;
    if (w >= 0 && !nl_is_const(L, w) && nl_int_weight_src(L, w) >= 0)
        return nl_refuse(L, "an integer weight behind a Cast (the kernel flips float weights when it packs them)");
    if (nl_need_const(L, w, "W"))
        return -1;
    if (rt_node_attr_int(n, "group", 1) != 1)
        return nl_refuse(L, "group = %lld; the NPU path takes 1", (long long)rt_node_attr_int(n, "group", 1));
    const rt_tensor *X = nl_tensor(L, x), *Wt = nl_tensor(L, w), *Y = nl_tensor(L, y);
    int nsp = X->rank - 2;
    if (nsp < 1 || nsp > WINDOW_MAX_SPATIAL || Wt->rank != X->rank || Y->rank != X->rank)
        return nl_refuse(L, "a %d-D transposed convolution (the NPU path runs 1-D and 2-D)", nsp);
    ops_window win;
    if (window_of(L, x, Wt->dims + 2, true, &win))
        return -1;
    int64_t C = X->dims[1], CO = Wt->dims[1];
    if (Wt->dims[0] != C || Y->dims[1] != CO)
        return nl_refuse(L, "W [%lld, %lld, ...] for %lld input channels", (long long)Wt->dims[0], (long long)Wt->dims[1],
                         (long long)C);
    /* as 2-D: zeros inserted between input elements (stride - 1), borders of kernel - 1 - pad */
    int a = nsp - 1;
    int64_t H = nsp == 2 ? X->dims[2] : 1, Wd = X->dims[X->rank - 1];
    int64_t KH = nsp == 2 ? win.k[0] : 1, KW = win.k[a], SH = nsp == 2 ? win.stride[0] : 1, SW = win.stride[a];
    int64_t top = nsp == 2 ? KH - 1 - win.pad_b[0] : 0, left = KW - 1 - win.pad_b[a];
    int64_t bottom = nsp == 2 ? KH - 1 - win.pad_e[0] + win.out_pad[0] : 0, right = KW - 1 - win.pad_e[a] + win.out_pad[a];
    if (top < 0 || left < 0 || bottom < 0 || right < 0)
        return nl_refuse(L, "pads beyond kernel - 1 (the zero-inserted input would need cropping)");
    int64_t HU = top + H + (H - 1) * (SH - 1) + bottom, WU = left + Wd + (Wd - 1) * (SW - 1) + right;
    int64_t OH = nsp == 2 ? Y->dims[2] : 1, OW = Y->dims[Y->rank - 1];
    if (HU != OH + KH - 1 || WU != OW + KW - 1)
        return nl_refuse(L, "output %lldx%lld does not follow from the padded input %lldx%lld", (long long)OH,
                         (long long)OW, (long long)HU, (long long)WU);
    if ((uint64_t)(HU * WU) > DMA_MAX_PITCH || (uint64_t)(OH * OW) > DMA_MAX_PITCH || (uint64_t)WU > VEC_MAX_COLS)
        return nl_refuse(L, "channel planes of %lld input / %lld output bytes exceed the DMA's %u-byte row pitch",
                         (long long)(HU * WU), (long long)(OH * OW), DMA_MAX_PITCH);
    if (KH * KW > (int64_t)MM_MAX_K)
        return nl_refuse(L, "a %lldx%lld kernel exceeds the array's k of %u", (long long)KH, (long long)KW, MM_MAX_K);
    /* the pad kernel: a row of the zero-inserted input and its staging in one of three slots; the
     * conv kernel's smallest tiling (op_conv.c, as npu_lower_conv checks it) */
    uint64_t mt = L->dev->matmul.rows, kmin = (uint64_t)(KH * KW);
    uint64_t need = 2 * (mt * kmin) + 2 * kmin + 48 * mt + SRAM_SLACK_BYTES;
    if (need > L->dev->sram.size_bytes || !nl_sram_fits(L, STREAM_SLOTS, (uint64_t)(WU + Wd), 0))
        return nl_refuse(L, "its smallest tiling does not fit the %llu-byte SRAM", (unsigned long long)L->dev->sram.size_bytes);
    if (bt >= 0) {
        if (nl_need_const(L, bt, "B"))
            return -1;
        if (nl_numel(L, bt) != CO)
            return nl_refuse(L, "B has %lld values for %lld output channels", (long long)nl_numel(L, bt), (long long)CO);
    }
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    epilogue_fusion f = nl_fuse_epilogue(L, y, CO, 1, bt >= 0, true);
    if (f.bias >= 0)
        bt = f.bias;
    int64_t N = X->dims[0], xd[3] = {N * C, H, Wd}, ud[3] = {N * C, HU, WU}, fd[1] = {WU};
    npu_tensor_ref xin = nl_in_ref(L, x, 3, xd);
    /* the zero-inserted, bordered input: the PAD rewrites it whole every run (arena scratch) */
    npu_cref ub = nl_blob(L, NPU_BLOB_SCRATCH, (uint64_t)(N * C * HU * WU));
    npu_cref zb = nl_blob(L, NPU_BLOB_PARAM, (uint64_t)WU);
    if (zb.host)
        memset(zb.host, 0, (size_t)WU);
    npu_op_desc scratch;
    npu_op_desc *pd = nl_new_op(L, NPU_OP_PAD, 2, &scratch);
    pd->in[0] = xin;
    pd->in[1] = nl_make_ref(zb.buf, NPU_DT_I8, zb.offset, xin.scale, 1, fd);
    pd->out = nl_make_ref(ub.buf, NPU_DT_I8, ub.offset, xin.scale, 3, ud);
    pd->iattr[0] = (int32_t)top;
    pd->iattr[1] = (int32_t)left;
    pd->iattr[2] = (int32_t)bottom;
    pd->iattr[3] = (int32_t)right;
    pd->iattr[4] = NPU_PAD_CONSTANT;
    pd->iattr[5] = (int32_t)(SH - 1);
    pd->iattr[6] = (int32_t)(SW - 1);
    /* W[ci][co][kh][kw] -> W'[co][ci][KH-1-kh][KW-1-kw], then per output channel int8 (OHWI) */
    uint64_t K = (uint64_t)(C * KH * KW);
    npu_cref sc = nl_blob(L, NPU_BLOB_PARAM, 4 * (uint64_t)CO);
    npu_cref wb = nl_blob(L, NPU_BLOB_WEIGHT, (uint64_t)CO * K);
    if (wb.host && sc.host) {
        float *wv = nl_const_f32(L, w), *flip = malloc((size_t)(CO * C * KH * KW) * sizeof *flip);
        if (wv && flip) {
            for (int64_t co = 0; co < CO; co++)
                for (int64_t ci = 0; ci < C; ci++)
                    for (int64_t i = 0; i < KH; i++)
                        for (int64_t j = 0; j < KW; j++)
                            flip[((co * C + ci) * KH + i) * KW + j] =
                                wv[((ci * CO + co) * KH + (KH - 1 - i)) * KW + (KW - 1 - j)];
            npu_pack_ohwi(flip, (uint64_t)CO, (uint64_t)C, (uint64_t)KH, (uint64_t)KW, false, wb.host, (float *)sc.host);
        }
        free(wv);
        free(flip);
    }
    npu_op_desc *d = nl_new_op(L, NPU_OP_CONV2D, bt >= 0 ? 3 : 2, &scratch);
    int64_t cd[4] = {N, C, HU, WU}, wd[4] = {CO, C, KH, KW}, od[4] = {N, CO, OH, OW};
    d->in[0] = nl_make_ref(ub.buf, NPU_DT_I8, ub.offset, xin.scale, 4, cd);
    d->in[1] = nl_make_ref(wb.buf, NPU_DT_I8, wb.offset, 0.0f, 4, wd);
    d->in[1].scales_axis = 0;
    d->in[1].scales_buf = sc.buf;
    d->in[1].scales_offset = sc.offset;
    if (bt >= 0) {
        float *h;
        d->in[2] = nl_param_vec(L, CO, &h);
        if (h) {
            float *bv = nl_const_f32(L, bt);
            if (bv)
                memcpy(h, bv, (size_t)CO * sizeof *h);
            free(bv);
        }
    }
    d->iattr[0] = d->iattr[1] = 1;
    d->iattr[6] = f.act;
    d->iattr[7] = NPU_LAYOUT_OHWI;
    d->fattr[0] = f.prm[0];
    d->fattr[1] = f.prm[1];
    d->out = nl_out_ref(L, f.out, 4, od);
    return 0;
}

/* ---------------------------------------------------------------- pools */

/* Window elements of output index o along one axis that lie inside [lo, hi) (the input, or the
 * padded extent). */
static int64_t count_inside(int64_t o, int64_t stride, int64_t pad_b, int64_t k, int64_t lo, int64_t hi)
{
    int64_t first = o * stride - pad_b, c = 0;
    for (int64_t i = 0; i < k; i++)
        c += first + i >= lo && first + i < hi;
    return c;
}

int npu_lower_pool(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int x = nl_in(L, 0), y = nl_out(L, 0);
    bool is_max = n->op == RT_OP_MaxPool;
    if (nl_need_act(L, x, "X") || nl_need_data(L, y, "Y"))
        return -1;
    if (is_max && !nl_output_unused(L, nl_out(L, 1)))
        return nl_refuse(L, "the Indices output is used");
    const rt_tensor *X = nl_tensor(L, x);
    const int64_t *ks;
    size_t nk = rt_node_attr_ints(n, "kernel_shape", &ks);
    if ((int)nk != X->rank - 2)
        return nl_refuse(L, "kernel_shape has %zu values for %d spatial axes", nk, X->rank - 2);
    win2d g;
    if (win2d_of(L, x, y, ks, &g))
        return -1;
    if ((uint64_t)(g.KH * g.KW) > POOL_EXACT_SUM_TAPS)
        return nl_refuse(L, "a %lldx%lld window has more than %u taps (the f32 sum of int8 values is exact up to that)",
                         (long long)g.KH, (long long)g.KW, POOL_EXACT_SUM_TAPS);
    /* the kernel's smallest tiling: one channel, one position */
    uint64_t need = CNN_PIPE_SLOTS * (align64(im2col_bytes(&g, 1, 1)) + 2 * align64(4) + align64(4));
    if (need + SRAM_SLACK_BYTES > L->dev->sram.size_bytes)
        return nl_refuse(L, "its smallest tiling needs %llu bytes of SRAM; the device has %llu", (unsigned long long)need,
                         (unsigned long long)L->dev->sram.size_bytes);
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    if (is_max)
        nl_share_scale(L, x, y); /* a maximum is one of its inputs: requantised exactly */
    npu_tensor_ref xin = window_input(L, x, &g, is_max ? INT8_MIN_BYTE : 0);
    /* divisors: the window's elements inside the input (or inside the padded extent with
     * count_include_pad), one per output position where they are not all KH*KW */
    bool include_pad = rt_node_attr_int(n, "count_include_pad", 0) != 0;
    int64_t P = g.OH * g.OW, hlo = include_pad ? -g.PT : 0, hhi = include_pad ? g.H + g.PB : g.H;
    int64_t wlo = include_pad ? -g.PL : 0, whi = include_pad ? g.W + g.PR : g.W;
    bool varies = false;
    for (int64_t oh = 0; oh < g.OH && !is_max && !varies; oh++)
        for (int64_t ow = 0; ow < g.OW && !varies; ow++)
            varies = count_inside(oh, g.SH, g.PT, g.KH, hlo, hhi) * count_inside(ow, g.SW, g.PL, g.KW, wlo, whi) !=
                     g.KH * g.KW;
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_POOL, varies ? 2 : 1, &scratch);
    d->in[0] = xin;
    if (varies) {
        float *h;
        d->in[1] = nl_param_vec(L, P, &h);
        for (int64_t oh = 0; h && oh < g.OH; oh++)
            for (int64_t ow = 0; ow < g.OW; ow++) {
                int64_t cnt = count_inside(oh, g.SH, g.PT, g.KH, hlo, hhi) * count_inside(ow, g.SW, g.PL, g.KW, wlo, whi);
                h[oh * g.OW + ow] = cnt ? (float)(1.0 / (double)cnt) : 0.0f;
            }
    }
    int64_t od[4] = {g.N, g.C, g.OH, g.OW};
    d->out = nl_out_ref(L, y, 4, od);
    d->iattr[0] = (int32_t)g.SH;
    d->iattr[1] = (int32_t)g.SW;
    d->iattr[2] = (int32_t)g.KH;
    d->iattr[3] = (int32_t)g.KW;
    d->iattr[4] = is_max ? NPU_POOL_MAX : NPU_POOL_AVG;
    d->fattr[0] = (float)(1.0 / (double)(g.KH * g.KW));
    return 0;
}

int npu_lower_global_pool(npu_lower *L)
{
    int x = nl_in(L, 0), y = nl_out(L, 0);
    bool is_max = nl_node(L)->op == RT_OP_GlobalMaxPool;
    if (nl_need_act(L, x, "X") || nl_need_data(L, y, "Y"))
        return -1;
    const rt_tensor *X = nl_tensor(L, x);
    if (X->rank < 3)
        return nl_refuse(L, "input of rank %d (expected [N, C, ...])", X->rank);
    int64_t rows = X->dims[0] * X->dims[1], cols = rt_tensor_numel(X) / rows;
    if (cols > (int64_t)VEC_MAX_COLS || !nl_sram_fits(L, STREAM_SLOTS, 4 * (uint64_t)cols + 4, 0))
        return nl_refuse(L, "channel planes of %lld elements exceed the vector unit or the SRAM", (long long)cols);
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    if (is_max)
        nl_share_scale(L, x, y);
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_REDUCE, 1, &scratch);
    int64_t xd[2] = {rows, cols}, od[2] = {rows, 1};
    d->in[0] = nl_in_ref(L, x, 2, xd);
    d->out = nl_out_ref(L, y, 2, od);
    d->iattr[0] = is_max ? ISA_REDOP_MAX : ISA_REDOP_MEAN;
    return 0;
}

/* ---------------------------------------------------------------- Pad */

int npu_lower_pad(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int x = nl_in(L, 0), y = nl_out(L, 0);
    if (nl_need_act(L, x, "data") || nl_need_data(L, y, "output"))
        return -1;
    const rt_tensor *X = nl_tensor(L, x);
    int r = X->rank;
    const char *mode = rt_node_attr_string(n, "mode", "constant");
    int32_t pm = strcmp(mode, "constant") == 0 ? NPU_PAD_CONSTANT
                 : strcmp(mode, "edge") == 0   ? NPU_PAD_EDGE
                 : strcmp(mode, "reflect") == 0 ? NPU_PAD_REFLECT
                                                : -1;
    if (pm < 0)
        return nl_refuse(L, "mode '%s' (the kernel pads constant, edge or reflect)", mode);
    /* pads per axis: [begin..., end...] */
    int64_t pads[2 * RT_MAX_RANK] = {0};
    float value = 0.0f;
    if (graph_opset(L->g, n->domain) < 11) {
        const int64_t *v;
        size_t cnt = rt_node_attr_ints(n, "pads", &v);
        if ((int)cnt != 2 * r)
            return nl_refuse(L, "pads has %zu values for rank %d", cnt, r);
        memcpy(pads, v, cnt * sizeof *v);
        value = rt_node_attr_float(n, "value", 0.0f);
    } else {
        int pt = nl_in(L, 1), cv = nl_in(L, 2), at = nl_in(L, 3);
        const rt_tensor *P = pt >= 0 ? nl_tensor(L, pt) : NULL;
        if (!P || P->kind != RT_TENSOR_CONSTANT || !P->data || P->dtype != RT_DT_I64)
            return nl_refuse(L, "pads that are not an int64 constant");
        int axes[RT_MAX_RANK], na = r;
        for (int i = 0; i < r; i++)
            axes[i] = i;
        if (at >= 0) {
            const rt_tensor *A = nl_tensor(L, at);
            if (A->kind != RT_TENSOR_CONSTANT || !A->data || rt_tensor_numel(A) > r)
                return nl_refuse(L, "axes that are not a constant");
            na = (int)rt_tensor_numel(A);
            for (int i = 0; i < na; i++) {
                int64_t v = (int64_t)rt_tensor_get_f64(A, i);
                axes[i] = (int)(v < 0 ? v + r : v);
                if (axes[i] < 0 || axes[i] >= r)
                    return nl_refuse(L, "axis %lld out of range", (long long)v);
            }
        }
        if (rt_tensor_numel(P) != 2 * na)
            return nl_refuse(L, "pads has %lld values for %d axes", (long long)rt_tensor_numel(P), na);
        for (int i = 0; i < na; i++) {
            pads[axes[i]] = (int64_t)rt_tensor_get_f64(P, i);
            pads[r + axes[i]] = (int64_t)rt_tensor_get_f64(P, na + i);
        }
        if (cv >= 0) {
            int c = nl_csrc(L, cv);
            if (c < 0 || nl_numel(L, cv) != 1 || !nl_tensor(L, c)->data)
                return nl_refuse(L, "a constant_value that is not a constant scalar");
            value = (float)rt_tensor_get_f64(nl_tensor(L, c), 0);
        }
    }
    for (int i = 0; i < 2 * r; i++) {
        if (pads[i] < 0)
            return nl_refuse(L, "a negative pad (cropping) on axis %d", i % r);
        if (pads[i] > 0 && i % r < r - 2)
            return nl_refuse(L, "pads on axis %d; the kernel pads the last two axes", i % r);
    }
    int64_t xd[3], od[3];
    view3(X, xd);
    int64_t top = r >= 2 ? pads[r - 2] : 0, bottom = r >= 2 ? pads[2 * r - 2] : 0, left = pads[r - 1], right = pads[2 * r - 1];
    od[0] = xd[0];
    od[1] = xd[1] + top + bottom;
    od[2] = xd[2] + left + right;
    if (pm == NPU_PAD_REFLECT && (top >= xd[1] || bottom >= xd[1] || left >= xd[2] || right >= xd[2]))
        return nl_refuse(L, "reflect pads %lld,%lld,%lld,%lld reach past a %lldx%lld input", (long long)top, (long long)left,
                         (long long)bottom, (long long)right, (long long)xd[1], (long long)xd[2]);
    if (od[2] > (int64_t)VEC_MAX_COLS || !nl_sram_fits(L, STREAM_SLOTS, (uint64_t)(od[2] + xd[2]), 0))
        return nl_refuse(L, "rows of %lld elements exceed the vector unit or the SRAM", (long long)od[2]);
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    nl_share_scale(L, x, y); /* bytes move unchanged */
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_PAD, pm == NPU_PAD_CONSTANT ? 2 : 1, &scratch);
    d->in[0] = nl_in_ref(L, x, 3, xd);
    d->out = nl_out_ref(L, y, 3, od);
    if (pm == NPU_PAD_CONSTANT) { /* the fill row: the value quantised with the output's scale */
        npu_cref fb = nl_blob(L, NPU_BLOB_PARAM, (uint64_t)od[2]);
        int64_t fd[1] = {od[2]};
        d->in[1] = nl_make_ref(fb.buf, NPU_DT_I8, fb.offset, d->out.scale, 1, fd);
        if (fb.host)
            memset(fb.host, (unsigned char)npu_quantize(value, d->out.scale), (size_t)od[2]);
    }
    d->iattr[0] = (int32_t)top;
    d->iattr[1] = (int32_t)left;
    d->iattr[2] = (int32_t)bottom;
    d->iattr[3] = (int32_t)right;
    d->iattr[4] = pm;
    return 0;
}

/* ---------------------------------------------------------------- Resize */

int npu_lower_resize(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int x = nl_in(L, 0), y = nl_out(L, 0);
    if (nl_need_act(L, x, "X") || nl_need_data(L, y, "Y"))
        return -1;
    const rt_tensor *X = nl_tensor(L, x), *Y = nl_tensor(L, y);
    bool legacy = n->op == RT_OP_Upsample || graph_opset(L->g, n->domain) < 11;
    const char *ms = rt_node_attr_string(n, "mode", "nearest");
    int32_t mode = strcmp(ms, "nearest") == 0 ? NPU_RESIZE_NEAREST
                   : strcmp(ms, "linear") == 0 || strcmp(ms, "bilinear") == 0 ? NPU_RESIZE_LINEAR
                                                                               : -1;
    if (mode < 0)
        return nl_refuse(L, "mode '%s' (the kernel resizes nearest or linear)", ms);
    const char *cs = legacy ? "asymmetric" : rt_node_attr_string(n, "coordinate_transformation_mode", "half_pixel");
    static const char *const coords[NPU_COORD_COUNT] = {"half_pixel", "asymmetric", "align_corners",
                                                        "pytorch_half_pixel", "tf_half_pixel_for_nn"};
    int32_t coord = -1;
    for (int i = 0; i < NPU_COORD_COUNT; i++)
        if (strcmp(cs, coords[i]) == 0)
            coord = i;
    if (coord < 0)
        return nl_refuse(L, "coordinate_transformation_mode '%s'", cs);
    const char *ns = legacy ? "floor" : rt_node_attr_string(n, "nearest_mode", "round_prefer_floor");
    static const char *const rules[NPU_NEAREST_COUNT] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    int32_t rule = -1;
    for (int i = 0; i < NPU_NEAREST_COUNT; i++)
        if (strcmp(ns, rules[i]) == 0)
            rule = i;
    if (rule < 0)
        return nl_refuse(L, "nearest_mode '%s'", ns);
    if (rt_node_attr_int(n, "exclude_outside", 0) || rt_node_attr_int(n, "antialias", 0))
        return nl_refuse(L, "exclude_outside or antialias (the kernel interpolates plain taps)");
    rt_op_binding bind;
    rt_error e;
    memset(&e, 0, sizeof e);
    int64_t out_dims[RT_MAX_RANK];
    double scales[RT_MAX_RANK];
    if (ops_bind(L->g, L->node, NULL, &bind, &e) != RT_OK)
        return nl_refuse(L, "%s", e.msg);
    rt_status st = ops_resize_params(&bind.ctx, out_dims, scales);
    ops_unbind(&bind);
    if (st != RT_OK)
        return nl_refuse(L, "sizes or scales that are not constants");
    int r = X->rank;
    for (int i = 0; i < r; i++) {
        if (out_dims[i] != Y->dims[i])
            return nl_refuse(L, "output dims do not follow from the scales");
        if (i < r - 2 && out_dims[i] != X->dims[i])
            return nl_refuse(L, "resizes axis %d; the kernel resizes the last two axes", i);
    }
    int64_t xd[3], od[3];
    view3(X, xd);
    view3(Y, od);
    uint64_t e_sz = mode == NPU_RESIZE_LINEAR ? 4 : 1, wi = (uint64_t)xd[2], wo = (uint64_t)od[2];
    /* op_resize.c's smallest block: one plane, one output row (two input rows for linear) */
    uint64_t rows = mode == NPU_RESIZE_LINEAR ? 2 : 1;
    uint64_t slot = 2 * align64(rows * wi * e_sz) + 2 * align64(rows * wo * e_sz) + align64(4 * rows) + align64(2 * wo * 4);
    if (wi > VEC_MAX_COLS || wo > VEC_MAX_COLS || 2 * slot + SRAM_SLACK_BYTES > L->dev->sram.size_bytes)
        return nl_refuse(L, "rows of %lld input / %lld output elements exceed the vector unit or the SRAM",
                         (long long)xd[2], (long long)od[2]);
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    if (mode == NPU_RESIZE_NEAREST)
        nl_share_scale(L, x, y); /* bytes move unchanged */
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_RESIZE, 1, &scratch);
    d->in[0] = nl_in_ref(L, x, 3, xd);
    d->out = nl_out_ref(L, y, 3, od);
    d->iattr[0] = mode;
    d->iattr[1] = coord;
    d->iattr[2] = rule;
    double sh = r >= 2 ? scales[r - 2] : 1.0, sw = scales[r - 1];
    memcpy(&d->lattr[0], &sh, sizeof sh);
    memcpy(&d->lattr[1], &sw, sizeof sw);
    return 0;
}

/* ---------------------------------------------------------------- activations */

/* A constant of C values along axis 1 of a rank-r tensor (ones elsewhere, right-aligned). */
static bool per_channel(const rt_tensor *c, int64_t C, int r)
{
    if (rt_tensor_numel(c) != C || c->rank > r)
        return false;
    for (int i = 0; i < c->rank; i++) {
        int a = r - c->rank + i;
        if (c->dims[i] != (a == 1 ? C : 1))
            return false;
    }
    return true;
}

int npu_lower_activation(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int x = nl_in(L, 0), y = nl_out(L, 0);
    if (nl_need_act(L, x, "X") || nl_need_data(L, y, "Y"))
        return -1;
    const rt_tensor *X = nl_tensor(L, x);
    int32_t act;
    float prm[2] = {0.0f, 0.0f};
    int slope = -1;
    switch (n->op) {
    case RT_OP_Clip:
        if (nl_clip_bounds(L, L->node, &prm[0], &prm[1]))
            return nl_refuse(L, "a bound that is not a constant scalar");
        act = NPU_ACT_CLIP;
        break;
    case RT_OP_HardSwish: act = NPU_ACT_HARDSWISH; break;
    case RT_OP_PRelu:
        slope = nl_in(L, 1);
        if (nl_need_const(L, slope, "slope"))
            return -1;
        if (nl_numel(L, slope) == 1) { /* one slope: a leaky relu */
            const rt_tensor *s = nl_tensor(L, nl_csrc(L, slope));
            if (!s->data)
                return nl_refuse(L, "the slope '%s' has no data", s->name);
            prm[0] = (float)rt_tensor_get_f64(s, 0);
            act = NPU_ACT_LEAKY;
            slope = -1;
            break;
        }
        if (X->rank < 2 || !per_channel(nl_tensor(L, slope), X->dims[1], X->rank))
            return nl_refuse(L, "a slope of shape other than one value or one per channel (axis 1)");
        act = NPU_ACT_PRELU;
        break;
    default: /* HardSigmoid */
        act = nl_fused_act(L, L->node, prm);
        break;
    }
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_ACTIVATION, slope >= 0 ? 2 : 1, &scratch);
    int64_t dd[2];
    if (slope >= 0) { /* [N * C, spatial], one slope per row */
        dd[0] = X->dims[0] * X->dims[1];
        dd[1] = rt_tensor_numel(X) / dd[0];
        float *h;
        int64_t sd[2] = {dd[0], 1};
        d->in[1] = nl_param_vec(L, dd[0], &h);
        d->in[1].rank = 2;
        memcpy(d->in[1].dims, sd, sizeof sd);
        float *sv = h ? nl_const_f32(L, slope) : NULL;
        for (int64_t r = 0; sv && r < dd[0]; r++)
            h[r] = sv[r % X->dims[1]];
        free(sv);
    } else {
        dd[1] = X->dims[X->rank - 1];
        dd[0] = rt_tensor_numel(X) / dd[1];
    }
    d->in[0] = nl_in_ref(L, x, 2, dd);
    d->out = nl_out_ref(L, y, 2, dd);
    d->iattr[0] = act;
    d->fattr[0] = prm[0];
    d->fattr[1] = prm[1];
    return 0;
}

/* ---------------------------------------------------------------- BatchNormalization */

int npu_lower_batchnorm(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int x = nl_in(L, 0), y = nl_out(L, 0);
    if (nl_need_act(L, x, "X") || nl_need_data(L, y, "Y"))
        return -1;
    if (rt_node_attr_int(n, "training_mode", 0))
        return nl_refuse(L, "training_mode = 1 (batch statistics)");
    for (int k = 1; k < n->n_outputs; k++)
        if (!nl_output_unused(L, nl_out(L, k)))
            return nl_refuse(L, "the running mean or variance output is used");
    const rt_tensor *X = nl_tensor(L, x);
    if (X->rank < 2)
        return nl_refuse(L, "input of rank %d (expected [N, C, ...])", X->rank);
    int64_t C = X->dims[1];
    static const char *const names[4] = {"scale", "B", "input_mean", "input_var"};
    for (int k = 1; k <= 4; k++) {
        if (nl_need_const(L, nl_in(L, k), names[k - 1]))
            return -1;
        if (nl_numel(L, nl_in(L, k)) != C)
            return nl_refuse(L, "%s has %lld values for %lld channels", names[k - 1], (long long)nl_numel(L, nl_in(L, k)),
                             (long long)C);
    }
    int64_t rows = X->dims[0] * C, cols = rt_tensor_numel(X) / rows;
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    epilogue_fusion f = nl_fuse_epilogue(L, y, C, 1, true, false); /* only an activation */
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_CHANNEL_AFFINE, 3, &scratch);
    int64_t dd[2] = {rows, cols}, cd[2] = {rows, 1};
    d->in[0] = nl_in_ref(L, x, 2, dd);
    float *hs, *ht;
    d->in[1] = nl_param_vec(L, rows, &hs);
    d->in[2] = nl_param_vec(L, rows, &ht);
    for (int k = 1; k <= 2; k++) {
        d->in[k].rank = 2;
        memcpy(d->in[k].dims, cd, sizeof cd);
    }
    if (hs && ht) { /* s = scale / sqrt(var + eps), t = B - mean * s (double), per image */
        float *v[4];
        for (int k = 0; k < 4; k++)
            v[k] = nl_const_f32(L, nl_in(L, k + 1));
        double eps = rt_node_attr_float(n, "epsilon", 1e-5f);
        for (int64_t r = 0; v[0] && v[1] && v[2] && v[3] && r < rows; r++) {
            int64_t c = r % C;
            double s = (double)v[0][c] / sqrt((double)v[3][c] + eps);
            hs[r] = (float)s;
            ht[r] = (float)((double)v[1][c] - (double)v[2][c] * s);
        }
        for (int k = 0; k < 4; k++)
            free(v[k]);
    }
    d->out = nl_out_ref(L, f.out, 2, dd);
    d->iattr[0] = f.act;
    d->fattr[0] = f.prm[0];
    d->fattr[1] = f.prm[1];
    return 0;
}
