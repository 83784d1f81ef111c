// A native filter that leaves every picture as it is and signals nothing: measures the
// cost of the hook itself (deferred row publication, the call, border re-extension).
#pragma once
#include "filters/filter_table.h"

namespace hmcnn {

class NoopFilter {
public:
    NoopFilter() : table_(make_filter_table(this)) {}
    NoopFilter(const NoopFilter&) = delete;
    NoopFilter& operator=(const NoopFilter&) = delete;
    const hmcnn_filter* table() const { return &table_; }

    int encode_picture(const hmcnn_picture*, uint8_t*, size_t, size_t* size) {
        *size = 0;
        return 0;
    }
    int decode_picture(const hmcnn_picture*, const uint8_t*, size_t) { return 0; }
    const char* last_error() { return nullptr; }

private:
    hmcnn_filter table_;
};

}  // namespace hmcnn
