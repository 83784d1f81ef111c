// Adapts a Python callable to the C filter ABI, for hm_bridge.encode/decode(loop_filter=fn).
//
// The callable gets one hm_bridge._core.Picture: writable numpy views y/u/v of the
// picture in the decoded picture buffer (valid only during the call), the source
// planes (encoder) and the picture's facts; on the decoder side .side_info holds the
// bytes the encoder-side call returned. The encoder-side call may return side
// information (bytes-like) or None.
//
// Codec threads call in without the GIL: the adapter takes it. The first exception
// raised by the callable is kept; every later call fails fast, the codec aborts, and
// rethrow_if_failed() raises that exception in the caller's thread.
#pragma once
#include <pybind11/pybind11.h>

#include <memory>
#include <mutex>
#include <string>

#include "inloop_filter.h"

namespace hmcnn {

namespace py = pybind11;

struct PictureView {
    py::object y, u, v, orig;   // orig: (y, u, v) read-only views, or None on the decoder side
    py::bytes side_info;
    int width = 0, height = 0, poc = 0, qp = 0, slice_type = 0, temporal_id = 0, ctu_size = 0;
    bool is_encoder = false;
    std::string placement;  // "loop" or "post"
};

class PythonFilter {
public:
    explicit PythonFilter(py::object callable);
    const hmcnn_filter* table() const { return &table_; }
    void rethrow_if_failed();  // GIL held

    int encode_picture(const hmcnn_picture* pic, uint8_t* side_info, size_t capacity, size_t* size);
    int decode_picture(const hmcnn_picture* pic, const uint8_t* side_info, size_t size);
    const char* last_error() { return message_.c_str(); }

private:
    int call(const hmcnn_picture* pic, const uint8_t* side_in, size_t side_in_size,
             uint8_t* side_out, size_t capacity, size_t* side_out_size);

    py::object callable_;
    hmcnn_filter table_;
    std::mutex mutex_;
    std::unique_ptr<py::error_already_set> error_;
    std::string message_;
};

}  // namespace hmcnn
