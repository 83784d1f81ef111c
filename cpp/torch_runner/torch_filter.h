// The CNN loop filter's libtorch runner: TorchScript models run with libtorch (CUDA
// when asked and available, else CPU), tiled to bound memory. The C ABI side (per-block
// on/off by the shared D + lambda * R policy, side information) is the one
// BlockSwitchedFilter (filters/block_switched_filter.h); make_torch_filter builds it.
// No Python anywhere in the per-picture path.
//
// Two model interfaces (cnn_filter.models' kinds):
//   "loop"      forward(y) -> y, luma only; one model per trained QP, the nearest
//               QP's model runs and its index travels in the side information.
//   "loop_yuv"  forward(y, u, v, qp) -> (y, u, v), 4:2:0, the slice QP as an input;
//               one model for every QP; chroma planes are switched as a whole.
// Either may add inter models, which then run on the P and B pictures
// (PictureModels::select_model).
#pragma once
#include <torch/script.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "filters/block_switched_filter.h"
#include "inloop_filter.h"

namespace hmcnn {

struct TorchFilterOptions {
    std::vector<int> qps;             // trained QP of each model, ascending
    std::vector<std::string> paths;   // TorchScript file of each model
    std::vector<int> inter;           // per model: 1 = serves P and B pictures (select_model_index); may be empty
    std::string kind = "loop";        // "loop" or "loop_yuv" (see above)
    std::string device = "cpu";       // "cpu", "cuda", "cuda:N"
    bool half = false;                // fp16 inference (CUDA only)
    int tile = 256;                   // inference tile (output luma samples per side)
    int context = 16;                 // extra luma samples read around a tile (>= receptive radius)
    BlockSwitchOptions blocks;        // the block switching (log2_block, rdo, min_gain)
};

class TorchModels : public PictureModels {
public:
    explicit TorchModels(const TorchFilterOptions& options);  // throws std::invalid_argument

    const char* name() const override { return "CNN filter"; }
    bool yuv() const override { return opt_.kind == "loop_yuv"; }
    void check_picture(const hmcnn_picture* pic) const override;
    // Runs model `index` on the picture's planes, tiled as in the loop. Any bit depth: the
    // samples enter divided by HM's peak, 255 << (depth - 8) (a model trained on 8-bit
    // pictures sees a 10-bit one on the scale it knows), and leave multiplied by it.
    FilteredPlanes filter_picture(int index, const hmcnn_picture* pic) const override;
    // Luma models: model `index` on one luma plane; raw_out gets the float output.
    std::vector<uint8_t> filter_plane(int index, const uint8_t* y, ptrdiff_t stride, int width, int height,
                                      std::vector<float>* raw_out = nullptr) const;
    std::string device() const { return device_.str(); }

private:
    void check_model(torch::jit::Module& m, const std::string& path) const;
    template <class Sample>
    void filter_yuv(int index, const hmcnn_picture* pic, std::vector<Sample>& y, std::vector<Sample>& u,
                    std::vector<Sample>& v) const;
    template <class Sample>
    std::vector<Sample> filter_luma(int index, const Sample* y, ptrdiff_t stride, int width, int height, int bit_depth,
                                    std::vector<float>* raw_out) const;

    TorchFilterOptions opt_;
    torch::Device device_;
    std::vector<torch::jit::Module> models_;
};

// A device name ("cpu", "cuda", "cuda:N") as a torch::Device; std::invalid_argument for
// an unknown name or CUDA asked for where it is not available.
torch::Device parse_device(const std::string& name);

// The libtorch runner behind the C ABI.
std::unique_ptr<BlockSwitchedFilter> make_torch_filter(const TorchFilterOptions& options);

}  // namespace hmcnn
