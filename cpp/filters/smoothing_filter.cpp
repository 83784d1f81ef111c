#include "filters/smoothing_filter.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "filters/block_ops.h"
#include "inloop_side_info.h"

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

// Average of a pixel and its (1 2 1)^T (1 2 1) / 16 smoothing, integer with rounding,
// picture edges replicated; reads src, writes dst over the rectangle [x0, x1) x [y0, y1).
void smooth_block(const std::vector<uint8_t>& src, int width, int height, Plane dst,
                  int x0, int y0, int x1, int y1) {
    for (int y = y0; y < y1; y++) {
        const uint8_t* up = &src[(size_t)(y > 0 ? y - 1 : 0) * width];
        const uint8_t* mid = &src[(size_t)y * width];
        const uint8_t* down = &src[(size_t)(y < height - 1 ? y + 1 : y) * width];
        uint8_t* out = dst.data + y * dst.stride;
        for (int x = x0; x < x1; x++) {
            int l = x > 0 ? x - 1 : 0, r = x < width - 1 ? x + 1 : x;
            int sum = up[l] + 2 * up[x] + up[r] + 2 * (mid[l] + 2 * mid[x] + mid[r]) +
                      down[l] + 2 * down[x] + down[r];
            out[x] = (uint8_t)((mid[x] + ((sum + 8) >> 4) + 1) >> 1);  // half-strength
        }
    }
}

std::vector<uint8_t> copy_plane(const Plane& p) {
    std::vector<uint8_t> v((size_t)p.width * p.height);
    for (int y = 0; y < p.height; y++)
        std::memcpy(&v[(size_t)y * p.width], p.data + y * p.stride, p.width);
    return v;
}

struct Smoothing {
    SmoothingFilterOptions opt;
    hmcnn_filter table;
};

const char* last_error(void*) { return g_last_error.c_str(); }

Plane luma(const hmcnn_picture* pic) {
    return Plane{(uint8_t*)pic->plane[0], pic->stride[0], pic->width, pic->height};
}

void apply(const hmcnn_picture* pic, const hmcnn_side_info& info, const std::vector<uint8_t>& on,
           const std::vector<uint8_t>& unfiltered) {
    Plane y = luma(pic);
    for_each_on_block(info, on, y.width, y.height, [&](int x0, int y0, int x1, int y1) {
        smooth_block(unfiltered, y.width, y.height, y, x0, y0, x1, y1);
    });
}

int encode_picture(void* self, const hmcnn_picture* pic, uint8_t* side_info, size_t capacity,
                   size_t* side_info_size) {
    const Smoothing& s = *(const Smoothing*)self;
    *side_info_size = 0;
    if (pic->bit_depth != 8) return fail("smoothing filter: only 8-bit pictures are supported");
    Plane y = luma(pic);
    std::vector<uint8_t> unfiltered = copy_plane(y);

    hmcnn_side_info info{};
    info.model_id = s.opt.model_id;
    info.log2_block = s.opt.log2_block;
    int n = hmcnn_side_info_blocks(y.width, y.height, info.log2_block, &info.blocks_x, &info.blocks_y);
    std::vector<uint8_t> on((size_t)n, 1);

    if (s.opt.rdo) {
        // filter everything into a scratch plane, then keep the blocks that got closer to the source
        std::vector<uint8_t> filtered((size_t)y.width * y.height);
        Plane scratch{filtered.data(), y.width, y.width, y.height};
        smooth_block(unfiltered, y.width, y.height, scratch, 0, 0, y.width, y.height);
        const uint8_t* orig = (const uint8_t*)pic->orig[0];
        int size = 1 << info.log2_block;
        for (int by = 0; by < info.blocks_y; by++)
            for (int bx = 0; bx < info.blocks_x; bx++) {
                int x0 = bx * size, y0 = by * size;
                int x1 = std::min(x0 + size, y.width), y1 = std::min(y0 + size, y.height);
                uint64_t before = block_sse(unfiltered.data(), y.width, orig, pic->orig_stride[0], x0, y0, x1, y1);
                uint64_t after = block_sse(filtered.data(), y.width, orig, pic->orig_stride[0], x0, y0, x1, y1);
                on[(size_t)by * info.blocks_x + bx] = after < before;
            }
    }
    info.frame_on = 0;
    for (uint8_t b : on) info.frame_on |= b;

    if (!info.frame_on) return 0;  // nothing to signal: no side information costs no bits
    *side_info_size = hmcnn_side_info_write(&info, on.data(), side_info, capacity);
    if (!*side_info_size) return fail("smoothing filter: side information does not fit");
    apply(pic, info, on, unfiltered);
    return 0;
}

int decode_picture(void*, const hmcnn_picture* pic, const uint8_t* side_info, size_t size) {
    if (pic->bit_depth != 8) return fail("smoothing filter: only 8-bit pictures are supported");
    if (size == 0) return 0;  // nothing signalled: the encoder did not filter this picture
    hmcnn_side_info info{};
    if (hmcnn_side_info_read(side_info, size, pic->width, pic->height, &info, nullptr, 0))
        return fail("smoothing filter: malformed side information");
    if (!info.frame_on) return 0;
    std::vector<uint8_t> on((size_t)info.blocks_x * info.blocks_y);
    hmcnn_side_info_read(side_info, size, pic->width, pic->height, &info, on.data(), on.size());
    apply(pic, info, on, copy_plane(luma(pic)));
    return 0;
}

}  // namespace

hmcnn_filter* create_smoothing_filter(const SmoothingFilterOptions& options) {
    auto* s = new Smoothing{options, {}};
    s->table.abi_version = HMCNN_FILTER_ABI_VERSION;
    s->table.self = s;
    s->table.encode_picture = encode_picture;
    s->table.decode_picture = decode_picture;
    s->table.last_error = last_error;
    return &s->table;
}

void destroy_smoothing_filter(hmcnn_filter* filter) {
    if (filter) delete (Smoothing*)filter->self;
}

}  // namespace hmcnn
