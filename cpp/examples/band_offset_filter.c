/*
 * A loop filter written in plain C against cpp/include/inloop_filter.h only: what a
 * user's own filter looks like when it is built outside this project and plugged in
 * as a shared library (hm_bridge.load_native_filter, `--filter lib.so`, or an HM build).
 *
 * Picture band offset: luma samples are sorted into 16 bands by value (their top 4 bits;
 * any bit depth 8..16: 8-bit planes hold uint8 samples, deeper ones uint16);
 * the encoder measures the mean error (source - reconstruction) of each band over the
 * picture, rounds it to an integer offset in [-max_offset, max_offset], and adds it to
 * every sample of the band, if that lowers the picture's SSE. Its side information is
 * its own layout (codecs carry it opaquely): byte 0 = 1 (version), bytes 1..16 = the
 * offsets as int8. No side information = the picture is left as it is.
 *
 *   cc -std=c11 -O2 -shared -fPIC -I cpp/include cpp/examples/band_offset_filter.c \
 *      -o libband_offset.so
 *
 * Options: NULL, "" or "max_offset=N" with N in 1..127 (default 15).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inloop_filter.h"

#define BANDS 16
#define SIDE_INFO_SIZE (1 + BANDS)

typedef struct band_offset {
    hmcnn_filter table;
    int max_offset;
} band_offset;

static _Thread_local const char* last_failure;

static int fail(const char* why)
{
    last_failure = why;
    return -1;
}

static const char* last_error(void* self)
{
    (void)self;
    return last_failure;
}

/* Luma sample x of row y of a plane (strides in samples, as the ABI gives them). */
static int sample(const hmcnn_picture* pic, const void* plane, int stride, int x, int y)
{
    return pic->bit_depth > 8 ? ((const uint16_t*)plane)[(size_t)y * stride + x]
                              : ((const uint8_t*)plane)[(size_t)y * stride + x];
}

static int band(const hmcnn_picture* pic, int v)
{
    return v >> (pic->bit_depth - 4);
}

static int clip(const hmcnn_picture* pic, int v)
{
    int top = (1 << pic->bit_depth) - 1;
    return v < 0 ? 0 : v > top ? top : v;
}

/* Adds offsets[band] to every luma sample of the picture, in place. */
static void apply_offsets(const hmcnn_picture* pic, const int8_t* offsets)
{
    for (int y = 0; y < pic->height; y++)
        for (int x = 0; x < pic->width; x++) {
            int v = sample(pic, pic->plane[0], pic->stride[0], x, y);
            v = clip(pic, v + offsets[band(pic, v)]);
            if (pic->bit_depth > 8)
                ((uint16_t*)pic->plane[0])[(size_t)y * pic->stride[0] + x] = (uint16_t)v;
            else
                ((uint8_t*)pic->plane[0])[(size_t)y * pic->stride[0] + x] = (uint8_t)v;
        }
}

/* Integer division rounded half away from zero. */
static int64_t div_round(int64_t num, int64_t den)
{
    return num >= 0 ? (num + den / 2) / den : -((-num + den / 2) / den);
}

static int encode_picture(void* self, const hmcnn_picture* pic, uint8_t* side_info, size_t capacity,
                          size_t* side_info_size)
{
    const band_offset* f = (const band_offset*)self;
    *side_info_size = 0;
    if (pic->bit_depth < 8 || pic->bit_depth > 16)
        return fail("band offset filter: bit depths 8..16 only");
    if (capacity < SIDE_INFO_SIZE)
        return fail("band offset filter: side information does not fit");

    int64_t error[BANDS] = {0}, count[BANDS] = {0};
    for (int y = 0; y < pic->height; y++)
        for (int x = 0; x < pic->width; x++) {
            int rec = sample(pic, pic->plane[0], pic->stride[0], x, y);
            error[band(pic, rec)] += sample(pic, pic->orig[0], pic->orig_stride[0], x, y) - rec;
            count[band(pic, rec)]++;
        }
    int8_t offsets[BANDS];
    int any = 0;
    for (int b = 0; b < BANDS; b++) {
        int64_t o = count[b] ? div_round(error[b], count[b]) : 0;
        o = o > f->max_offset ? f->max_offset : o < -f->max_offset ? -f->max_offset : o;
        offsets[b] = (int8_t)o;
        any |= o != 0;
    }
    if (!any)
        return 0;

    /* keep the offsets only if they bring the picture closer to the source */
    int64_t delta_sse = 0;
    for (int y = 0; y < pic->height; y++)
        for (int x = 0; x < pic->width; x++) {
            int rec = sample(pic, pic->plane[0], pic->stride[0], x, y);
            int org = sample(pic, pic->orig[0], pic->orig_stride[0], x, y);
            int before = org - rec;
            int after = org - clip(pic, rec + offsets[band(pic, rec)]);
            delta_sse += (int64_t)after * after - (int64_t)before * before;
        }
    if (delta_sse >= 0)
        return 0;

    side_info[0] = 1;
    memcpy(side_info + 1, offsets, BANDS);
    *side_info_size = SIDE_INFO_SIZE;
    apply_offsets(pic, offsets);
    return 0;
}

static int decode_picture(void* self, const hmcnn_picture* pic, const uint8_t* side_info, size_t size)
{
    (void)self;
    if (hmcnn_placement_of(pic) == HMCNN_PLACEMENT_POST) /* the offsets are the encoder's choice */
        return fail("band offset filter: needs the encoder's offsets, so it cannot run as a post-filter");
    if (size == 0)
        return 0;
    if (pic->bit_depth < 8 || pic->bit_depth > 16)
        return fail("band offset filter: bit depths 8..16 only");
    if (size != SIDE_INFO_SIZE || side_info[0] != 1)
        return fail("band offset filter: malformed side information");
    int8_t offsets[BANDS];
    memcpy(offsets, side_info + 1, BANDS);
    apply_offsets(pic, offsets);
    return 0;
}

const hmcnn_filter* hmcnn_filter_open(const char* options)
{
    int max_offset = 15;
    if (options && *options) {
        char extra;
        if (sscanf(options, "max_offset=%d%c", &max_offset, &extra) != 1 || max_offset < 1 || max_offset > 127)
            return NULL;
    }
    band_offset* f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->max_offset = max_offset;
    f->table.abi_version = HMCNN_FILTER_ABI_VERSION;
    f->table.self = f;
    f->table.encode_picture = encode_picture;
    f->table.decode_picture = decode_picture;
    f->table.last_error = last_error;
    return &f->table;
}

void hmcnn_filter_close(const hmcnn_filter* filter)
{
    if (filter)
        free(filter->self);
}
