// Forwards every call to a native filter and keeps the first failure's message (the
// filter's last_error, read on the failing thread as the ABI requires), so that a failed
// encode/decode raises the filter's own explanation rather than a generic codec error.
#pragma once
#include <mutex>
#include <string>

#include "filters/filter_table.h"

namespace hmcnn {

class CheckedFilter {
public:
    explicit CheckedFilter(const hmcnn_filter* inner) : inner_(inner), table_(make_filter_table(this)) {}
    CheckedFilter(const CheckedFilter&) = delete;
    CheckedFilter& operator=(const CheckedFilter&) = delete;

    const hmcnn_filter* table() const { return &table_; }
    bool failed() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return failed_;
    }
    std::string failure() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return failure_;
    }

    int encode_picture(const hmcnn_picture* pic, uint8_t* side_info, size_t capacity, size_t* size) {
        return check(inner_->encode_picture(inner_->self, pic, side_info, capacity, size), pic);
    }
    int decode_picture(const hmcnn_picture* pic, const uint8_t* side_info, size_t size) {
        return check(inner_->decode_picture(inner_->self, pic, side_info, size), pic);
    }
    const char* last_error() { return inner_->last_error ? inner_->last_error(inner_->self) : nullptr; }

private:

    int check(int rc, const hmcnn_picture* pic) {
        if (rc == 0) return 0;
        const char* why = inner_->last_error ? inner_->last_error(inner_->self) : nullptr;
        std::lock_guard<std::mutex> lock(mutex_);
        if (!failed_) {
            failed_ = true;
            const char* where = hmcnn_placement_of(pic) == HMCNN_PLACEMENT_POST ? "post-filter"
                                : pic->is_encoder                                  ? "encoder-side loop filter"
                                                                                   : "decoder-side loop filter";
            failure_ = std::string(where) + " failed on POC " +
                       std::to_string(pic->poc) + ": " + (why && *why ? why : "(the filter gave no message)");
        }
        return rc;
    }

    const hmcnn_filter* inner_;
    hmcnn_filter table_;
    mutable std::mutex mutex_;
    bool failed_ = false;
    std::string failure_;
};

}  // namespace hmcnn
