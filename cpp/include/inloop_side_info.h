/*
 * hm-cnn-loop side information, layout version 1 (header-only C helpers).
 *
 * Codecs carry these bytes opaquely (see inloop_filter.h); this is the layout our
 * filters write and read, mirrored in Python by hm_bridge/side_info.py.
 *
 *   byte 0   layout version (1)
 *   byte 1   model id (which model of the filter ran; 0..255)
 *   byte 2   flags: bit 0 luma on ("frame on"), bit 1 block map present (else every
 *            block is on), bit 2 Cb filtered, bit 3 Cr filtered (whole planes; only
 *            filters of all three planes set them), bit 4 model hash present
 *   byte 3   log2 of the block size (6 = 64x64, a CTU by default)
 *   2 bytes  only if bit 4: the 16-bit content hash of the model file, big-endian (integer
 *            models send it on I pictures, so that a decoder with another model refuses)
 *   then     block map, present only if bit 1: one bit per block, blocks in raster
 *            order over ceil(width/size) x ceil(height/size), most significant bit first
 *
 * Luma whose bit 0 is clear is not filtered, whatever the map says.
 */
#ifndef HMCNN_INLOOP_SIDE_INFO_H
#define HMCNN_INLOOP_SIDE_INFO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HMCNN_SIDE_INFO_VERSION 1
#define HMCNN_SIDE_INFO_HEADER 4
#define HMCNN_SIDE_INFO_FRAME_ON 1u
#define HMCNN_SIDE_INFO_HAS_MAP 2u
#define HMCNN_SIDE_INFO_CB_ON 4u
#define HMCNN_SIDE_INFO_CR_ON 8u
#define HMCNN_SIDE_INFO_HAS_HASH 16u

typedef struct hmcnn_side_info {
    int model_id;       /* 0..255 */
    int frame_on;       /* luma filtered: 0 or 1 */
    int log2_block;     /* 3..8 */
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

/* Writes the side information; block_on holds blocks_x*blocks_y bytes (0/1), or is
 * NULL for "every block on". Returns the byte count, or 0 if capacity is too small. */
static inline size_t hmcnn_side_info_write(const hmcnn_side_info* info, const uint8_t* block_on,
                                           uint8_t* out, size_t capacity)
{
    int n = info->blocks_x * info->blocks_y;
    int all_on = 1;
    if (block_on)
        for (int i = 0; i < n; i++)
            all_on &= block_on[i] != 0;
    int has_map = info->frame_on && !all_on;
    size_t map_at = HMCNN_SIDE_INFO_HEADER + (info->has_hash ? 2 : 0);
    size_t size = map_at + (has_map ? (size_t)(n + 7) / 8 : 0);
    if (size > capacity)
        return 0;
    out[0] = HMCNN_SIDE_INFO_VERSION;
    out[1] = (uint8_t)info->model_id;
    out[2] = (uint8_t)((info->frame_on ? HMCNN_SIDE_INFO_FRAME_ON : 0) | (has_map ? HMCNN_SIDE_INFO_HAS_MAP : 0) |
                       (info->cb_on ? HMCNN_SIDE_INFO_CB_ON : 0) | (info->cr_on ? HMCNN_SIDE_INFO_CR_ON : 0) |
                       (info->has_hash ? HMCNN_SIDE_INFO_HAS_HASH : 0));
    out[3] = (uint8_t)info->log2_block;
    if (info->has_hash) {
        out[4] = (uint8_t)((info->model_hash >> 8) & 0xFF);
        out[5] = (uint8_t)(info->model_hash & 0xFF);
    }
    if (has_map) {
        memset(out + map_at, 0, (size_t)(n + 7) / 8);
        for (int i = 0; i < n; i++)
            if (block_on[i])
                out[map_at + i / 8] |= (uint8_t)(0x80u >> (i % 8));
    }
    return size;
}

/* Parses side information for a width x height picture; fills info and, if the frame
 * is on, block_on (capacity bytes; one 0/1 byte per block). Returns 0, or -1 if the
 * bytes are malformed or block_on is too small. */
static inline int hmcnn_side_info_read(const uint8_t* data, size_t size, int width, int height,
                                       hmcnn_side_info* info, uint8_t* block_on, size_t capacity)
{
    if (size < HMCNN_SIDE_INFO_HEADER || data[0] != HMCNN_SIDE_INFO_VERSION || data[3] < 3 || data[3] > 8)
        return -1;
    info->model_id = data[1];
    info->frame_on = (data[2] & HMCNN_SIDE_INFO_FRAME_ON) != 0;
    info->cb_on = (data[2] & HMCNN_SIDE_INFO_CB_ON) != 0;
    info->cr_on = (data[2] & HMCNN_SIDE_INFO_CR_ON) != 0;
    info->has_hash = (data[2] & HMCNN_SIDE_INFO_HAS_HASH) != 0;
    size_t map_at = HMCNN_SIDE_INFO_HEADER + (info->has_hash ? 2 : 0);
    if (size < map_at)
        return -1;
    info->model_hash = info->has_hash ? (data[4] << 8) | data[5] : 0;
    info->log2_block = data[3];
    int n = hmcnn_side_info_blocks(width, height, info->log2_block, &info->blocks_x, &info->blocks_y);
    int has_map = (data[2] & HMCNN_SIDE_INFO_HAS_MAP) != 0;
    if (size != map_at + (has_map ? (size_t)(n + 7) / 8 : 0))
        return -1;
    if (!block_on)
        return 0;
    if ((size_t)n > capacity)
        return -1;
    for (int i = 0; i < n; i++)
        block_on[i] = has_map ? (data[map_at + i / 8] >> (7 - i % 8)) & 1 : 1;
    return 0;
}

#endif /* HMCNN_INLOOP_SIDE_INFO_H */
