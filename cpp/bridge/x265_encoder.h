// Drives the patched x265 on raw 8-bit 4:2:0 frames held in memory.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "inloop_filter.h"

namespace hmcnn {

struct EncoderSettings {
    int width = 0, height = 0;
    int fps_num = 30, fps_den = 1;
    std::string preset = "slow";
    std::string tune;                                          // "" = none
    std::vector<std::pair<std::string, std::string>> options;  // x265 --name value pairs
    std::vector<int> frame_qp;  // per input frame, forced slice QP; empty = the encoder's
    int frame_threads = 0;      // 0 = x265's default
    int pool_threads = 0;       // 0 = x265's default
};

struct AccessUnit {
    int poc = 0;           // display index of the picture
    char slice_type = '?'; // 'I', 'P', 'B', 'b' (non-reference B)
    double qp = 0;         // average QP x265 reports
    std::string bytes;     // Annex-B NAL units of this access unit
};

struct EncodeOutput {
    std::string headers;             // VPS, SPS, PPS
    std::vector<AccessUnit> units;   // in decoding order
    std::vector<uint8_t> recon;      // frames in display order, I420, width*height*3/2 each
    std::string version;             // x265 version string
};

// frames: count * width*height*3/2 bytes of I420. Throws std::invalid_argument on bad
// settings and std::runtime_error if x265 fails (e.g. the in-loop filter returned an error).
EncodeOutput encode_i420(const EncoderSettings& settings, const uint8_t* frames, int count,
                         const hmcnn_filter* filter);

}  // namespace hmcnn
