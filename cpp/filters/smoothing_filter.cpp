#include "filters/smoothing_filter.h"

#include <cstring>
#include <string>
#include <vector>

#include "filters/block_policy.h"
#include "filters/filter_table.h"

namespace hmcnn {
namespace {

thread_local std::string g_last_error;

int fail(const std::string& why) {
    g_last_error = why;
    return -1;
}

struct Plane {
    uint8_t* data;
    ptrdiff_t stride;
    int width, height;
};

Plane luma(const hmcnn_picture* pic) {
    return Plane{(uint8_t*)pic->plane[0], pic->stride[0], pic->width, pic->height};
}

std::vector<uint8_t> copy_plane(const Plane& p) {
    std::vector<uint8_t> v((size_t)p.width * p.height);
    for (int y = 0; y < p.height; y++) std::memcpy(&v[(size_t)y * p.width], p.data + y * p.stride, p.width);
    return v;
}

// Average of a pixel and its (1 2 1)^T (1 2 1) / 16 smoothing, integer with rounding,
// picture edges replicated; reads src (packed), writes dst over [x0, x1) x [y0, y1).
void smooth_block(const std::vector<uint8_t>& src, int width, int height, Plane dst, int x0, int y0, int x1,
                  int y1) {
    for (int y = y0; y < y1; y++) {
        const uint8_t* up = &src[(size_t)(y > 0 ? y - 1 : 0) * width];
        const uint8_t* mid = &src[(size_t)y * width];
        const uint8_t* down = &src[(size_t)(y < height - 1 ? y + 1 : y) * width];
        uint8_t* out = dst.data + y * dst.stride;
        for (int x = x0; x < x1; x++) {
            int l = x > 0 ? x - 1 : 0, r = x < width - 1 ? x + 1 : x;
            int sum = up[l] + 2 * up[x] + up[r] + 2 * (mid[l] + 2 * mid[x] + mid[r]) + down[l] + 2 * down[x] +
                      down[r];
            out[x] = (uint8_t)((mid[x] + ((sum + 8) >> 4) + 1) >> 1);  // half-strength
        }
    }
}

}  // namespace

SmoothingFilter::SmoothingFilter(const SmoothingFilterOptions& options)
    : opt_(options), table_(make_filter_table(this)) {}

const char* SmoothingFilter::last_error() { return g_last_error.c_str(); }

int SmoothingFilter::encode_picture(const hmcnn_picture* pic, uint8_t* side_info, size_t capacity, size_t* size) {
    *size = 0;
    if (pic->bit_depth != 8) return fail("smoothing filter: only 8-bit pictures are supported");
    Plane y = luma(pic);
    std::vector<uint8_t> unfiltered = copy_plane(y), filtered(unfiltered.size());
    smooth_block(unfiltered, y.width, y.height, Plane{filtered.data(), y.width, y.width, y.height}, 0, 0, y.width,
                 y.height);
    BlockMap map = make_block_map(y.width, y.height, opt_.log2_block, opt_.model_id);
    BlockCosts costs = measure_blocks(map, unfiltered.data(), y.width, filtered.data(), y.width,
                                      (const uint8_t*)pic->orig[0], pic->orig_stride[0], y.width, y.height);
    decide_blocks(costs, opt_.lambda_scale * hm_lambda(pic->slice_qp, pic->slice_type), opt_.rdo, &map);
    if (!map.info.frame_on) return 0;  // nothing to signal: no side information costs no bits
    *size = write_block_map(map, side_info, capacity);
    if (!*size) return fail("smoothing filter: side information does not fit");
    copy_on_blocks(y.data, y.stride, filtered, y.width, y.height, map);
    return 0;
}

int SmoothingFilter::decode_picture(const hmcnn_picture* pic, const uint8_t* side_info, size_t size) {
    if (pic->bit_depth != 8) return fail("smoothing filter: only 8-bit pictures are supported");
    BlockMap map;
    try {
        if (!decoder_block_map(pic, side_info, size, opt_.log2_block, opt_.model_id, false, &map, "smoothing filter"))
            return 0;  // nothing signalled: the encoder did not filter this picture
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    if (!map.info.frame_on) return 0;
    Plane y = luma(pic);
    std::vector<uint8_t> unfiltered = copy_plane(y);
    for_each_on_block(map, y.width, y.height, [&](int x0, int y0, int x1, int y1) {
        smooth_block(unfiltered, y.width, y.height, y, x0, y0, x1, y1);
    });
    return 0;
}

}  // namespace hmcnn
