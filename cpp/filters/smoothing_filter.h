// A small native in-loop filter implementing the C ABI: a half-strength 3x3 smoothing of
// luma, switched per block by the shared D + lambda * R policy (filters/block_policy.h).
// It is the demo and test filter: deterministic integer arithmetic, reentrant, with
// real side information (model id, frame flag, block map).
#pragma once
#include <string>

#include "inloop_filter.h"

namespace hmcnn {

struct SmoothingFilterOptions {
    int model_id = 0;     // echoed in the side information
    bool rdo = true;      // blocks by D + lambda * R; false: every block on
    int log2_block = 6;   // block size of the on/off map (64 = the default CTU)
    double lambda_scale = 1.0;  // x HM's lambda; 0 = by distortion alone (any block that gains)
};

class SmoothingFilter {
public:
    explicit SmoothingFilter(const SmoothingFilterOptions& options);
    SmoothingFilter(const SmoothingFilter&) = delete;
    SmoothingFilter& operator=(const SmoothingFilter&) = delete;
    const hmcnn_filter* table() const { return &table_; }
    const SmoothingFilterOptions& options() const { return opt_; }

    int encode_picture(const hmcnn_picture* pic, uint8_t* side_info, size_t capacity, size_t* size);
    int decode_picture(const hmcnn_picture* pic, const uint8_t* side_info, size_t size);
    const char* last_error();

private:
    SmoothingFilterOptions opt_;
    hmcnn_filter table_;
};

}  // namespace hmcnn
