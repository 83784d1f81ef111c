// Drives the patched x265 one picture at a time: a frame in, at most one coded picture
// out (its access unit and its reconstruction), so that nothing here grows with the
// sequence's length. x265's own look-ahead and DPB are the only pictures held.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "inloop_filter.h"

struct x265_encoder;
struct x265_param;
struct x265_picture;
struct x265_api;

namespace hmcnn {

struct EncoderSettings {
    int width = 0, height = 0;
    int fps_num = 30, fps_den = 1;
    std::string preset = "slow";
    std::string tune;                                          // "" = none
    std::vector<std::pair<std::string, std::string>> options;  // x265 --name value pairs
    std::vector<int> forced_qp;  // per input frame, the slice QP forced on it; empty = the encoder's
    int frame_threads = 0;      // 0 = x265's default
    int pool_threads = 0;       // 0 = x265's default
    int first_poc = 0;          // a segment's first picture's index in the whole sequence (hmcnnFirstPoc)
    int bit_depth = 8;          // 8 (Main) or 10 (Main10: the 10-bit x265 linked in); samples in and out
                                // take two bytes each (little-endian) above 8 bits
};

// One coded picture as x265 hands it back (decoding order).
struct CodedPicture {
    int poc = 0;                 // display index of the picture
    char slice_type = '?';       // 'I', 'P', 'B', 'b' (non-reference B)
    double qp = 0;               // average QP x265 reports
    std::string bytes;           // Annex-B NAL units of this access unit
    std::vector<uint8_t> recon;  // its reconstruction, I420, width*height*3/2 bytes
};

class X265Session {
public:
    // Throws std::invalid_argument on bad settings. `filter` (may be null) must outlive
    // the session. `count`: the number of frames that will be pushed.
    X265Session(const EncoderSettings& settings, int count, const hmcnn_filter* filter);
    ~X265Session();
    X265Session(const X265Session&) = delete;
    X265Session& operator=(const X265Session&) = delete;

    const std::string& headers() const { return headers_; }  // VPS, SPS, PPS
    // Codes the next frame (I420, width*height*3/2 samples); returns the coded picture x265
    // finished meanwhile, if any. Throws std::runtime_error if x265 fails (e.g. the
    // in-loop filter returned an error).
    std::optional<CodedPicture> push(const uint8_t* frame);
    // After the last push: the pictures still inside x265, one per call, then nullopt.
    std::optional<CodedPicture> flush();

private:
    std::optional<CodedPicture> take(int produced);
    void release();

    EncoderSettings settings_;
    int count_ = 0, pushed_ = 0, returned_ = 0;
    std::vector<bool> returned_poc_;
    std::string headers_;
    const x265_api* api_ = nullptr;  // the 8- or 10-bit x265's entry points
    size_t sample_bytes_ = 1;
    x265_param* param_ = nullptr;
    x265_encoder* encoder_ = nullptr;
    x265_picture* pic_out_ = nullptr;
};

}  // namespace hmcnn
