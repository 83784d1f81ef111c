// A small native in-loop filter implementing the C ABI: a half-strength 3x3 smoothing of
// luma, switched on/off per block by distortion against the source picture.
// It is the demo and test filter: deterministic integer arithmetic, reentrant, with
// real side information (model id, frame flag, block map).
#pragma once
#include "inloop_filter.h"

namespace hmcnn {

struct SmoothingFilterOptions {
    int model_id = 0;     // echoed in the side information
    bool rdo = true;      // per-block on/off by SSE vs the source; false: every block on
    int log2_block = 6;   // block size of the on/off map (64 = the default CTU)
};

// The returned table lives until destroy_smoothing_filter().
hmcnn_filter* create_smoothing_filter(const SmoothingFilterOptions& options);
void destroy_smoothing_filter(hmcnn_filter* filter);

}  // namespace hmcnn
