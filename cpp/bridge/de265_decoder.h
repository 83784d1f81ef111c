// Drives the patched libde265 on an Annex-B HEVC bitstream held in memory.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "inloop_filter.h"

namespace hmcnn {

struct DecodeOutput {
    int width = 0, height = 0;      // output (cropped) luma size
    int frames = 0;
    std::vector<uint8_t> pictures;  // frames in output order, I420, width*height*3/2 each
    int hash_mismatches = 0;        // pictures whose decoded picture hash SEI did not match
    std::vector<std::string> warnings;
};

// Throws std::runtime_error with libde265's message on a decoding error (corrupt or
// unsupported stream, or the in-loop filter failing).
DecodeOutput decode_annexb(const uint8_t* data, size_t size, const hmcnn_filter* filter, int threads);

}  // namespace hmcnn
