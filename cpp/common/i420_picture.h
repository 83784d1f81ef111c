// An 8-bit 4:2:0 picture of contiguous planes (luma stride = width, chroma = width / 2)
// described for the filter ABI: what the Python-facing modules hand a filter.
#pragma once
#include "inloop_filter.h"

namespace hmcnn {

inline hmcnn_picture i420_picture(int width, int height, void* y, void* u, void* v) {
    hmcnn_picture pic{};
    pic.struct_size = sizeof(pic);
    pic.width = width;
    pic.height = height;
    pic.chroma_format = 1;
    pic.bit_depth = 8;
    pic.plane[0] = y;
    pic.plane[1] = u;
    pic.plane[2] = v;
    pic.stride[0] = width;
    pic.stride[1] = pic.stride[2] = width / 2;
    return pic;
}

}  // namespace hmcnn
