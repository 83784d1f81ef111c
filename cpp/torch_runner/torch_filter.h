// The CNN loop filter as a native filter: TorchScript models run with libtorch (CUDA
// when asked and available, else CPU), one model per trained QP, tiled to bound memory,
// per-block on/off chosen by rate-distortion on the encoder side. Implements the C ABI;
// no Python anywhere in the per-picture path.
#pragma once
#include <torch/script.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "inloop_filter.h"

namespace hmcnn {

struct TorchFilterOptions {
    std::vector<int> qps;             // trained QP of each model, ascending
    std::vector<std::string> paths;   // TorchScript file of each model
    std::string device = "cpu";       // "cpu", "cuda", "cuda:N"
    bool half = false;                // fp16 inference (CUDA only)
    int tile = 256;                   // inference tile (output samples per side)
    int context = 16;                 // extra samples read around a tile (>= receptive radius)
    int log2_block = 6;               // on/off block size
    bool rdo = true;                  // false: every block on whenever a model applies
};

class TorchFilter {
public:
    explicit TorchFilter(const TorchFilterOptions& options);  // throws std::invalid_argument
    const hmcnn_filter* table() const { return &table_; }

    // Index of the model for a slice QP: the nearest trained QP (ties: the lower).
    // Python twin: cnn_filter.zoo.nearest_index (a test checks both agree for QP 0..51).
    int select_model(int qp) const;
    // Runs model `index` on a luma plane (8-bit), tiled as in the loop; returns the
    // filtered plane (width*height bytes) or the float output if raw_out is given.
    std::vector<uint8_t> filter_plane(int index, const uint8_t* y, ptrdiff_t stride, int width, int height,
                                      std::vector<float>* raw_out = nullptr) const;
    const std::vector<int>& qps() const { return opt_.qps; }
    std::string device() const { return device_.str(); }

    int encode_picture(const hmcnn_picture* pic, uint8_t* side_info, size_t capacity, size_t* size);
    int decode_picture(const hmcnn_picture* pic, const uint8_t* side_info, size_t size);
    const char* last_error();

private:
    TorchFilterOptions opt_;
    torch::Device device_;
    std::vector<torch::jit::Module> models_;
    hmcnn_filter table_;
};

}  // namespace hmcnn
