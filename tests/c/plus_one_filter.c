/* A test plug-in for the HM adapter's unit test: +1 (clipped) on every sample of every
 * plane at the picture's bit depth; side information = POC, QP, slice type, which the
 * decoder side checks. Options: NULL or "" (anything else is refused). */
#include <stdint.h>
#include <string.h>

#include "inloop_filter.h"

static _Thread_local const char* failure;

static const char* last_error(void* self) { (void)self; return failure; }

static void plus_one(const hmcnn_picture* pic) {
    int max = (1 << pic->bit_depth) - 1;
    for (int c = 0; c < (pic->chroma_format ? 3 : 1); c++) {
        int w = c ? pic->width / 2 : pic->width, h = c ? pic->height / 2 : pic->height;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                if (pic->bit_depth == 8) {
                    uint8_t* s = (uint8_t*)pic->plane[c] + y * pic->stride[c] + x;
                    *s = (uint8_t)(*s < max ? *s + 1 : max);
                } else {
                    uint16_t* s = (uint16_t*)pic->plane[c] + y * pic->stride[c] + x;
                    *s = (uint16_t)(*s < max ? *s + 1 : max);
                }
            }
    }
}

static int enc(void* self, const hmcnn_picture* pic, uint8_t* side, size_t cap, size_t* n) {
    (void)self;
    if (cap < 3) { failure = "plus-one filter: no room for side information"; return -1; }
    side[0] = (uint8_t)pic->poc, side[1] = (uint8_t)pic->slice_qp, side[2] = (uint8_t)pic->slice_type;
    *n = 3;
    plus_one(pic);
    return 0;
}

static int dec(void* self, const hmcnn_picture* pic, const uint8_t* side, size_t n) {
    (void)self;
    if (n != 3 || side[0] != (uint8_t)pic->poc || side[1] != (uint8_t)pic->slice_qp || side[2] != (uint8_t)pic->slice_type) {
        failure = "plus-one filter: side information does not match the picture";
        return -1;
    }
    plus_one(pic);
    return 0;
}

static const hmcnn_filter table = {HMCNN_FILTER_ABI_VERSION, 0, enc, dec, last_error};

const hmcnn_filter* hmcnn_filter_open(const char* options) {
    return (options == 0 || options[0] == 0) ? &table : 0;
}
