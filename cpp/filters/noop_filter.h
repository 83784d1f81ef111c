// A native filter that leaves every picture as it is and signals nothing: measures the
// cost of the hook itself (deferred row publication, the call, border re-extension).
#pragma once
#include "inloop_filter.h"

namespace hmcnn {

inline const hmcnn_filter* noop_filter() {
    static const hmcnn_filter table = {
        HMCNN_FILTER_ABI_VERSION,
        nullptr,
        [](void*, const hmcnn_picture*, uint8_t*, size_t, size_t* size) { *size = 0; return 0; },
        [](void*, const hmcnn_picture*, const uint8_t*, size_t) { return 0; },
        nullptr,
    };
    return &table;
}

}  // namespace hmcnn
