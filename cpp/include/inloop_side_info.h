/*
 * hm-cnn-loop side information, layout 2 (header-only C helpers).
 *
 * Codecs carry these bytes opaquely (see inloop_filter.h); this is the layout our
 * filters write and read, mirrored in Python by hm_bridge/side_info.py. It is a bit
 * string, most significant bit first, zero-padded to whole bytes (the codec's
 * rbsp_trailing_bits follow); u(n) is an n-bit unsigned number, ue(v) HEVC's Exp-Golomb
 * code (0 -> "1", 1 -> "010", 2 -> "011", 3 -> "00100", ...):
 *
 *   u(1)  luma on ("frame on")
 *   u(1)  more flags follow; if 1:
 *         u(1) Cb filtered, u(1) Cr filtered (whole planes; only filters of all three
 *         planes set them), u(1) model hash present
 *   ue(v) model id (which model of the filter ran; 0..255), if anything is filtered
 *   u(16) the model file's 16-bit content hash, if present (integer models send it on
 *         I pictures, so that a decoder with another model refuses)
 *   if luma on:
 *     u(1)  block map present (else every block is on); if 1:
 *       u(3)  log2 of the block size minus 3 (3 = 64x64, a CTU by default)
 *       u(1)  run-coded; blocks in raster order over ceil(width/size) x ceil(height/size)
 *       if 0: one bit per block (1 = on)
 *       if 1: u(1) the first block's bit, then the lengths of the runs of equal bits,
 *             each as ue(v) of length - 1, until every block is covered
 *
 * A filtered picture whose every block is on costs one byte for the models 0..6; it sends no
 * block size, and the reader reports 6 (64x64) for it.
 * Luma that is off is not filtered. Layout 1 (4 fixed bytes, a version byte first) is
 * gone: a stream's side information must come from a build of the same layout, which the
 * picture hash checks (a wrong picture is an error, never a number).
 */
#ifndef HMCNN_INLOOP_SIDE_INFO_H
#define HMCNN_INLOOP_SIDE_INFO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HMCNN_SIDE_INFO_LAYOUT 2

typedef struct hmcnn_side_info {
    int model_id;       /* 0..255 */
    int frame_on;       /* luma filtered: 0 or 1 */
    int log2_block;     /* 3..10 */
    int blocks_x, blocks_y;
    int cb_on, cr_on;   /* chroma planes filtered (whole planes): 0 or 1 */
    int has_hash;       /* model_hash present: 0 or 1 */
    int model_hash;     /* 0..65535 */
} hmcnn_side_info;

static inline int hmcnn_side_info_blocks(int width, int height, int log2_block, int* bx, int* by)
{
    int size = 1 << log2_block;
    *bx = (width + size - 1) / size;
    *by = (height + size - 1) / size;
    return *bx * *by;
}

/* A bit string over out[0..capacity) (out == NULL: count the bits only). */
typedef struct hmcnn_bit_writer {
    uint8_t* out;
    size_t capacity, bits;
    int overflow;
} hmcnn_bit_writer;

static inline void hmcnn_put_bits(hmcnn_bit_writer* w, uint32_t value, int n)
{
    for (int i = n - 1; i >= 0; i--, w->bits++) {
        if (!w->out)
            continue;
        if (w->bits / 8 >= w->capacity) {
            w->overflow = 1;
            continue;
        }
        if (w->bits % 8 == 0)
            w->out[w->bits / 8] = 0;
        if ((value >> i) & 1u)
            w->out[w->bits / 8] |= (uint8_t)(0x80u >> (w->bits % 8));
    }
}

/* The leading zeros of value's ue(v) code (the code is 2 * that + 1 bits). */
static inline int hmcnn_ue_zeros(uint32_t value)
{
    int len = 0;
    while (((uint64_t)value + 1) >> (len + 1))
        len++;
    return len;
}

static inline void hmcnn_put_ue(hmcnn_bit_writer* w, uint32_t value)
{
    int len = hmcnn_ue_zeros(value);
    hmcnn_put_bits(w, 0, len);
    hmcnn_put_bits(w, value + 1, len + 1);
}

typedef struct hmcnn_bit_reader {
    const uint8_t* data;
    size_t size, bits;
    int overrun;
} hmcnn_bit_reader;

static inline uint32_t hmcnn_get_bits(hmcnn_bit_reader* r, int n)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++, r->bits++) {
        if (r->bits / 8 >= r->size) {
            r->overrun = 1;
            return 0;
        }
        v = (v << 1) | ((r->data[r->bits / 8] >> (7 - r->bits % 8)) & 1u);
    }
    return v;
}

static inline uint32_t hmcnn_get_ue(hmcnn_bit_reader* r)
{
    int zeros = 0;
    while (!r->overrun && hmcnn_get_bits(r, 1) == 0)
        if (++zeros > 31) {
            r->overrun = 1;
            return 0;
        }
    return r->overrun ? 0 : (uint32_t)(((uint64_t)1 << zeros) - 1 + hmcnn_get_bits(r, zeros));
}

/* The block map as runs: bits the run code takes (ue(v) of each length - 1, the first bit
 * not counted); put != 0: writes them. */
static inline size_t hmcnn_map_runs(hmcnn_bit_writer* w, const uint8_t* block_on, int n, int put)
{
    size_t bits = 0;
    for (int i = 0; i < n;) {
        int j = i + 1;
        while (j < n && (block_on[j] != 0) == (block_on[i] != 0))
            j++;
        uint32_t v = (uint32_t)(j - i - 1);
        bits += (size_t)(2 * hmcnn_ue_zeros(v) + 1);
        if (put)
            hmcnn_put_ue(w, v);
        i = j;
    }
    return bits;
}

/* Writes the side information; block_on holds blocks_x*blocks_y bytes (0/1), or is NULL
 * for "every block on"; out == NULL only counts. Returns the byte count, or 0 if capacity
 * is too small or the fields are out of range. */
static inline size_t hmcnn_side_info_write(const hmcnn_side_info* info, const uint8_t* block_on,
                                           uint8_t* out, size_t capacity)
{
    int n = info->blocks_x * info->blocks_y;
    int all_on = 1;
    if (block_on)
        for (int i = 0; i < n; i++)
            all_on &= block_on[i] != 0;
    int has_map = info->frame_on && !all_on;
    int more = info->cb_on || info->cr_on || info->has_hash;
    if (info->model_id < 0 || info->model_id > 255 || (has_map && (info->log2_block < 3 || info->log2_block > 10)))
        return 0;
    hmcnn_bit_writer w = {out, capacity, 0, 0};
    hmcnn_put_bits(&w, info->frame_on ? 1 : 0, 1);
    hmcnn_put_bits(&w, (uint32_t)more, 1);
    if (more) {
        hmcnn_put_bits(&w, info->cb_on ? 1 : 0, 1);
        hmcnn_put_bits(&w, info->cr_on ? 1 : 0, 1);
        hmcnn_put_bits(&w, info->has_hash ? 1 : 0, 1);
    }
    if (info->frame_on || info->cb_on || info->cr_on)
        hmcnn_put_ue(&w, (uint32_t)info->model_id);
    if (info->has_hash)
        hmcnn_put_bits(&w, (uint32_t)info->model_hash & 0xFFFFu, 16);
    if (info->frame_on) {
        hmcnn_put_bits(&w, (uint32_t)has_map, 1);
        if (has_map) {
            hmcnn_put_bits(&w, (uint32_t)(info->log2_block - 3), 3);
            size_t run_bits = 1 + hmcnn_map_runs(&w, block_on, n, 0); /* the first bit, the runs */
            int runs = run_bits < (size_t)n;                           /* else one bit a block */
            hmcnn_put_bits(&w, (uint32_t)runs, 1);
            if (runs) {
                hmcnn_put_bits(&w, block_on[0] ? 1 : 0, 1);
                hmcnn_map_runs(&w, block_on, n, 1);
            } else {
                for (int i = 0; i < n; i++)
                    hmcnn_put_bits(&w, block_on[i] ? 1 : 0, 1);
            }
        }
    }
    if (w.overflow)
        return 0;
    if (w.bits % 8)
        hmcnn_put_bits(&w, 0, (int)(8 - w.bits % 8));
    return w.bits / 8;
}

/* Bytes the side information takes (hmcnn_side_info_write's count). */
static inline size_t hmcnn_side_info_size(const hmcnn_side_info* info, const uint8_t* block_on)
{
    return hmcnn_side_info_write(info, block_on, NULL, 0);
}

/* Parses side information for a width x height picture; fills info and, if the frame
 * is on, block_on (capacity bytes; one 0/1 byte per block). Returns 0, or -1 if the
 * bytes are malformed (too few or too many, nonzero padding, fields out of range) or
 * block_on is too small. */
static inline int hmcnn_side_info_read(const uint8_t* data, size_t size, int width, int height,
                                       hmcnn_side_info* info, uint8_t* block_on, size_t capacity)
{
    hmcnn_bit_reader r = {data, size, 0, 0};
    memset(info, 0, sizeof(*info));
    info->frame_on = (int)hmcnn_get_bits(&r, 1);
    if (hmcnn_get_bits(&r, 1)) {
        info->cb_on = (int)hmcnn_get_bits(&r, 1);
        info->cr_on = (int)hmcnn_get_bits(&r, 1);
        info->has_hash = (int)hmcnn_get_bits(&r, 1);
    }
    if (info->frame_on || info->cb_on || info->cr_on) {
        uint32_t id = hmcnn_get_ue(&r);
        if (id > 255)
            return -1;
        info->model_id = (int)id;
    }
    if (info->has_hash)
        info->model_hash = (int)hmcnn_get_bits(&r, 16);
    int has_map = info->frame_on ? (int)hmcnn_get_bits(&r, 1) : 0;
    info->log2_block = has_map ? (int)hmcnn_get_bits(&r, 3) + 3 : 6;
    if (info->log2_block > 10)
        return -1;
    int n = hmcnn_side_info_blocks(width, height, info->log2_block, &info->blocks_x, &info->blocks_y);
    if (block_on && info->frame_on && (size_t)n > capacity)
        return -1;
    if (has_map) {
        if (hmcnn_get_bits(&r, 1)) {
            uint32_t bit = hmcnn_get_bits(&r, 1);
            for (int i = 0; i < n && !r.overrun; bit ^= 1u) {
                uint32_t run = hmcnn_get_ue(&r) + 1;
                if (r.overrun || run > (uint32_t)(n - i))
                    return -1;
                for (uint32_t k = 0; k < run; k++, i++)
                    if (block_on)
                        block_on[i] = (uint8_t)bit;
            }
        } else {
            for (int i = 0; i < n; i++) {
                uint32_t bit = hmcnn_get_bits(&r, 1);
                if (block_on)
                    block_on[i] = (uint8_t)bit;
            }
        }
    } else if (block_on && info->frame_on) {
        memset(block_on, 1, (size_t)n);
    }
    if (r.overrun || size != (r.bits + 7) / 8 || size == 0)
        return -1;
    if (r.bits % 8 && (data[size - 1] & (0xFFu >> (r.bits % 8))))
        return -1;  /* padding must be zero */
    return 0;
}

#endif /* HMCNN_INLOOP_SIDE_INFO_H */
