// An integer model (.hmq) evaluated with libtorch on any device (CPU, CUDA), to the
// integer runner's bits: each layer a float64 convolution of integer-valued tensors, exact
// because every partial sum stays below 2^53 (proved per layer at load, from the layer's
// shape, weights and input range, as the export proves int32); then the integer runner's
// rounding shift, clamp and residual in int64. The side information is the integer
// runner's (same model choice, same content hash): a stream coded with one decodes with
// the other.
#pragma once
#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

#include "filters/block_switched_filter.h"
#include "int_runner/int_model.h"

namespace hmcnn {

struct ExactIntOptions {
    std::vector<int> qps;            // ascending
    std::vector<std::string> paths;  // .hmq file of each QP
    std::vector<int> inter;          // per model: 1 = serves P and B pictures (select_model_index); may be empty
    std::string device = "cpu";      // "cpu", "cuda", "cuda:N"
    int stripe = 512;                // output rows computed at once (with the receptive radius around)
    BlockSwitchOptions blocks;
};

// The largest partial sum a layer's float64 convolution can reach (|bias| + rounding half
// + sum of |weights| x `input_max`, the input's largest magnitude); std::invalid_argument
// naming the layer if it could reach 2^53 (the sums would no longer be exact). Every file
// IntModel::load accepts stays below (k <= 9, cin < 2^16, int16 weights, inputs of at most
// 15 bits: < 5.7e15 < 2^53 = 9.0e15); the check stands guard over the format.
double exact_sum_bound(const IntLayer& layer, double input_max);
// The largest magnitude layer `index`'s input tensor can hold.
double layer_input_max(const IntModel& model, int index);

class ExactIntModels : public PictureModels {
public:
    explicit ExactIntModels(const ExactIntOptions& options);  // throws std::invalid_argument

    const char* name() const override { return "integer CNN filter (libtorch, exact)"; }
    bool yuv() const override { return false; }
    void check_picture(const hmcnn_picture* pic) const override;
    FilteredPlanes filter_picture(int index, const hmcnn_picture* pic) const override;
    bool content_hash(int index, int* hash) const override;

    std::vector<uint8_t> filter_plane(int index, const uint8_t* y, std::ptrdiff_t stride, int width, int height) const;
    std::string device() const { return device_.str(); }

private:
    struct Layer {
        torch::Tensor weight, bias;  // float64 on the device
    };
    ExactIntOptions opt_;
    torch::Device device_;
    std::vector<IntModel> models_;
    std::vector<std::vector<Layer>> layers_;  // per model
};

std::unique_ptr<BlockSwitchedFilter> make_exact_int_filter(const ExactIntOptions& options);

}  // namespace hmcnn
