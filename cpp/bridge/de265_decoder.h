// Drives the patched libde265 on an Annex-B HEVC stream, one output picture at a time:
// the stream is pushed, pictures are pulled in output order; only libde265's own DPB is
// held, whatever the stream's length.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "inloop_filter.h"

namespace hmcnn {

struct DecodedPicture {
    int width = 0, height = 0;   // output (cropped) luma size
    int bit_depth = 8;           // of every plane (9..16: two bytes per sample, little-endian)
    std::vector<uint8_t> i420;   // width*height*3/2 samples
};

class De265Session {
public:
    // `filter` (may be null) must outlive the session. threads > 0: libde265 worker threads.
    De265Session(const hmcnn_filter* filter, int threads);
    ~De265Session();
    De265Session(const De265Session&) = delete;
    De265Session& operator=(const De265Session&) = delete;

    void push(const uint8_t* data, size_t size);  // more of the stream (whole NAL units or not)
    void end();                                    // no more data will come
    // The next picture in output order, decoding as far as needed; nullopt when the
    // data pushed so far yields no more picture. Throws std::runtime_error with
    // libde265's message on a decoding error (corrupt or unsupported stream, or the
    // in-loop filter failing).
    std::optional<DecodedPicture> pull();

    int hash_mismatches() const { return hash_mismatches_; }  // pictures whose MD5 SEI did not match
    const std::vector<std::string>& warnings() const { return warnings_; }

private:
    void* ctx_ = nullptr;  // de265_decoder_context (a typedef of void in de265.h)
    size_t budget_ = 64;  // de265_decode calls left: each consumes a NAL or finishes a picture
    int hash_mismatches_ = 0, width_ = 0, height_ = 0;
    bool ended_ = false, drained_ = false;
    std::vector<std::string> warnings_;
};

}  // namespace hmcnn
