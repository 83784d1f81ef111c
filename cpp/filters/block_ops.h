// Block helpers shared by our native filters: distortion of a rectangle, and copying
// the blocks a side-information map switches on.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "inloop_side_info.h"

namespace hmcnn {

// Sum of squared differences of two 8-bit planes over [x0, x1) x [y0, y1).
inline uint64_t block_sse(const uint8_t* a, ptrdiff_t sa, const uint8_t* b, ptrdiff_t sb, int x0, int y0, int x1,
                          int y1) {
    uint64_t sse = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            int d = (int)a[y * sa + x] - (int)b[y * sb + x];
            sse += (uint64_t)(d * d);
        }
    return sse;
}

// Calls fn(x0, y0, x1, y1) for every block of the map that is on.
template <class Fn>
void for_each_on_block(const hmcnn_side_info& info, const std::vector<uint8_t>& on, int width, int height, Fn fn) {
    int s = 1 << info.log2_block;
    for (int by = 0; by < info.blocks_y; by++)
        for (int bx = 0; bx < info.blocks_x; bx++)
            if (on[(size_t)by * info.blocks_x + bx]) {
                int x0 = bx * s, y0 = by * s;
                fn(x0, y0, std::min(x0 + s, width), std::min(y0 + s, height));
            }
}

// Copies the blocks that are on from a packed (width-strided) plane into dst.
inline void copy_on_blocks(uint8_t* dst, ptrdiff_t stride, const std::vector<uint8_t>& src, int width, int height,
                           const hmcnn_side_info& info, const std::vector<uint8_t>& on) {
    for_each_on_block(info, on, width, height, [&](int x0, int y0, int x1, int y1) {
        for (int y = y0; y < y1; y++) std::memcpy(dst + y * stride + x0, &src[(size_t)y * width + x0], x1 - x0);
    });
}

}  // namespace hmcnn
