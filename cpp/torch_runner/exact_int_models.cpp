#include "torch_runner/exact_int_models.h"

#include "torch_runner/torch_filter.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace hmcnn {

namespace {

constexpr double kExact = 9007199254740992.0;  // 2^53: float64 sums of integers below it are exact

}  // namespace

// The samples (8 bits), or the clamp of a ReLU tensor; a tensor written by a layer without
// ReLU holds int16 values.
double layer_input_max(const IntModel& m, int index) {
    const int tensor = m.layers.at(index).src;
    if (tensor == 0) return 255.0;
    for (const IntLayer& l : m.layers)
        if (l.dst == tensor && !l.relu) return 32768.0;
    return std::ldexp(1.0, m.tensors.at(tensor).bits) - 1;
}

double exact_sum_bound(const IntLayer& l, double a) {
    const double half = l.shift ? std::ldexp(1.0, l.shift - 1) : 0.0;
    const size_t per = (size_t)l.cin * l.k * l.k;
    double worst = 0;
    for (int co = 0; co < l.cout; co++) {
        double s = std::fabs((double)l.bias[co]) + half;
        for (size_t i = 0; i < per; i++) s += std::fabs((double)l.weight[co * per + i]) * a;
        worst = std::max(worst, s);
    }
    if (worst >= kExact)
        throw std::invalid_argument("layer " + l.name + ": a float64 partial sum could reach " +
                                    std::to_string(worst) + " >= 2^53, where sums stop being exact");
    return worst;
}

ExactIntModels::ExactIntModels(const ExactIntOptions& o)
    : PictureModels(o.qps, o.paths.size(), o.inter), opt_(o), device_(torch::kCPU) {
    if (o.stripe < 8) throw std::invalid_argument("stripe must be at least 8 rows");
    device_ = parse_device(o.device);
    auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    for (const std::string& p : o.paths) {
        models_.push_back(IntModel::load(p));
        const IntModel& m = models_.back();
        std::vector<Layer> layers;
        for (size_t i = 0; i < m.layers.size(); i++) {
            const IntLayer& l = m.layers[i];
            exact_sum_bound(l, layer_input_max(m, (int)i));
            torch::Tensor w = torch::from_blob((void*)l.weight.data(), {l.cout, l.cin, l.k, l.k}, torch::kInt16);
            torch::Tensor b = torch::from_blob((void*)l.bias.data(), {l.cout}, torch::kInt32);
            layers.push_back({w.to(f64).to(device_), b.to(f64).to(device_)});
        }
        layers_.push_back(std::move(layers));
    }
}

void ExactIntModels::check_picture(const hmcnn_picture* pic) const {
    if (pic->bit_depth != 8)
        throw std::runtime_error("integer CNN filter on the exact libtorch path: 8-bit pictures only (the integer "
                                 "runner, device=cpu, takes 8 to 12 bits)");
}

bool ExactIntModels::content_hash(int index, int* hash) const {
    *hash = models_.at(index).hash;
    return true;
}

std::vector<uint8_t> ExactIntModels::filter_plane(int index, const uint8_t* y, std::ptrdiff_t stride, int width,
                                                  int height) const {
    c10::InferenceMode guard;
    const IntModel& m = models_.at(index);
    const std::vector<Layer>& L = layers_.at(index);
    std::vector<uint8_t> out((size_t)width * height);
    const int r = m.radius;
    for (int s0 = 0; s0 < height; s0 += opt_.stripe) {
        // rows [i0, i1): the stripe and the receptive radius around it (zero rows only at the
        // picture's edges, as the integer runner pads); outputs outside the stripe are dropped
        const int s1 = std::min(s0 + opt_.stripe, height), i0 = std::max(s0 - r, 0), i1 = std::min(s1 + r, height);
        torch::Tensor samples = torch::empty({1, 1, i1 - i0, width}, torch::kUInt8);
        for (int row = i0; row < i1; row++)
            std::memcpy(samples.data_ptr<uint8_t>() + (size_t)(row - i0) * width, y + row * stride, width);
        samples = samples.to(device_);
        std::vector<torch::Tensor> tensors(m.tensors.size());
        tensors[0] = samples.to(torch::kFloat64);
        torch::Tensor result;
        for (size_t i = 0; i < m.layers.size(); i++) {
            const IntLayer& l = m.layers[i];
            // exact: integer operands, every partial sum below 2^53 (exact_sum_bound)
            torch::Tensor acc = torch::conv2d(tensors[l.src], L[i].weight, L[i].bias, 1, l.k / 2).to(torch::kInt64);
            if (l.shift) acc = torch::bitwise_right_shift(acc + (int64_t(1) << (l.shift - 1)), l.shift);
            if (l.dst < 0) {  // the residual output: whole samples added to the input, 0..255
                result = (samples.to(torch::kInt64) + acc).clamp_(0, 255).to(torch::kUInt8);
                continue;
            }
            acc = l.relu ? acc.clamp_(0, (int64_t(1) << m.tensors[l.dst].bits) - 1) : acc.clamp_(-32768, 32767);
            if (!tensors[l.dst].defined())
                tensors[l.dst] = torch::zeros({1, m.tensors[l.dst].channels, i1 - i0, width},
                                              torch::TensorOptions().dtype(torch::kFloat64).device(device_));
            tensors[l.dst].narrow(1, l.dst_offset, l.cout).copy_(acc);
        }
        if (!result.defined()) throw std::runtime_error("integer model without an output layer");
        torch::Tensor rows = result.narrow(2, s0 - i0, s1 - s0).to(torch::kCPU).contiguous();
        std::memcpy(&out[(size_t)s0 * width], rows.data_ptr<uint8_t>(), (size_t)(s1 - s0) * width);
    }
    return out;
}

FilteredPlanes ExactIntModels::filter_picture(int index, const hmcnn_picture* pic) const {
    FilteredPlanes out;  // luma models: chroma untouched
    out.y = filter_plane(index, (const uint8_t*)pic->plane[0], pic->stride[0], pic->width, pic->height);
    return out;
}

std::unique_ptr<BlockSwitchedFilter> make_exact_int_filter(const ExactIntOptions& options) {
    return std::make_unique<BlockSwitchedFilter>(std::make_unique<ExactIntModels>(options), options.blocks);
}

}  // namespace hmcnn
