// Forwards every call to a native filter and keeps the first failure's message (the
// filter's last_error, read on the failing thread as the ABI requires), so that a failed
// encode/decode raises the filter's own explanation rather than a generic codec error.
#pragma once
#include <mutex>
#include <string>

#include "inloop_filter.h"

namespace hmcnn {

class CheckedFilter {
public:
    explicit CheckedFilter(const hmcnn_filter* inner) : inner_(inner) {
        table_.abi_version = HMCNN_FILTER_ABI_VERSION;
        table_.self = this;
        table_.encode_picture = encode_picture;
        table_.decode_picture = decode_picture;
        table_.last_error = last_error;
    }
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

private:
    static int encode_picture(void* self, const hmcnn_picture* pic, uint8_t* side_info, size_t capacity,
                              size_t* size) {
        auto* f = static_cast<CheckedFilter*>(self);
        return f->check(f->inner_->encode_picture(f->inner_->self, pic, side_info, capacity, size), pic);
    }
    static int decode_picture(void* self, const hmcnn_picture* pic, const uint8_t* side_info, size_t size) {
        auto* f = static_cast<CheckedFilter*>(self);
        return f->check(f->inner_->decode_picture(f->inner_->self, pic, side_info, size), pic);
    }
    static const char* last_error(void* self) {
        auto* f = static_cast<CheckedFilter*>(self);
        return f->inner_->last_error ? f->inner_->last_error(f->inner_->self) : nullptr;
    }

    int check(int rc, const hmcnn_picture* pic) {
        if (rc == 0) return 0;
        const char* why = inner_->last_error ? inner_->last_error(inner_->self) : nullptr;
        std::lock_guard<std::mutex> lock(mutex_);
        if (!failed_) {
            failed_ = true;
            failure_ = std::string(pic->is_encoder ? "encoder" : "decoder") + "-side loop filter failed on POC " +
                       std::to_string(pic->poc) + ": " + (why && *why ? why : "(the filter gave no message)");
        }
        return rc;
    }

    const hmcnn_filter* inner_;
    hmcnn_filter table_{};
    mutable std::mutex mutex_;
    bool failed_ = false;
    std::string failure_;
};

}  // namespace hmcnn
