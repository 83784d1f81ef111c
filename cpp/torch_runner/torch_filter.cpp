#include "torch_runner/torch_filter.h"

#include <torch/cuda.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "filters/block_policy.h"
#include "filters/filter_table.h"

namespace hmcnn {
namespace {

thread_local std::string g_last_error;

}  // namespace

TorchFilter::TorchFilter(const TorchFilterOptions& options)
    : opt_(options), device_(torch::kCPU), table_(make_filter_table(this)) {
    if (opt_.qps.empty() || opt_.qps.size() != opt_.paths.size())
        throw std::invalid_argument("need one model file per QP, and at least one");
    if (opt_.qps.size() > 256) throw std::invalid_argument("at most 256 models");
    if (!std::is_sorted(opt_.qps.begin(), opt_.qps.end()))
        throw std::invalid_argument("model QPs must be ascending");
    if (opt_.tile < 16 || opt_.context < 0 || opt_.log2_block < 3 || opt_.log2_block > 8)
        throw std::invalid_argument("bad tile/context/block size");
    try {
        device_ = torch::Device(opt_.device);
    } catch (const c10::Error&) {
        throw std::invalid_argument("unknown device '" + opt_.device + "'");
    }
    if (device_.is_cuda() && !torch::cuda::is_available())
        throw std::invalid_argument("device '" + opt_.device + "' asked for, but CUDA is not available");
    if (opt_.half && !device_.is_cuda()) throw std::invalid_argument("fp16 inference needs a CUDA device");

    for (size_t i = 0; i < opt_.paths.size(); i++) {
        torch::jit::Module m;
        try {
            m = torch::jit::load(opt_.paths[i], device_);
        } catch (const c10::Error& e) {
            throw std::invalid_argument("cannot load TorchScript model " + opt_.paths[i] + ": " +
                                        std::string(e.what_without_backtrace()));
        }
        m.eval();
        if (opt_.half) m.to(torch::kHalf);
        // a model must map (N, 1, H, W) to the same shape
        try {
            c10::InferenceMode guard;
            auto x = torch::zeros({1, 1, 24, 40}, torch::TensorOptions().device(device_)
                                                     .dtype(opt_.half ? torch::kHalf : torch::kFloat));
            auto out = m.forward({x});
            if (!out.isTensor() || out.toTensor().sizes() != x.sizes())
                throw std::invalid_argument("model " + opt_.paths[i] +
                                            " does not map a (1, 1, H, W) luma tensor to the same shape");
        } catch (const c10::Error& e) {
            throw std::invalid_argument("model " + opt_.paths[i] + " fails on a (1, 1, H, W) luma tensor: " +
                                        std::string(e.what_without_backtrace()));
        }
        models_.push_back(std::move(m));
    }
}

int TorchFilter::select_model(int qp) const {
    int best = 0;
    for (int i = 1; i < (int)opt_.qps.size(); i++)
        if (std::abs(opt_.qps[i] - qp) < std::abs(opt_.qps[best] - qp)) best = i;
    return best;
}

std::vector<uint8_t> TorchFilter::filter_plane(int index, const uint8_t* y, ptrdiff_t stride, int width, int height,
                                               std::vector<float>* raw_out) const {
    c10::InferenceMode guard;
    torch::jit::Module& model = const_cast<torch::jit::Module&>(models_.at(index));
    std::vector<uint8_t> out((size_t)width * height);
    if (raw_out) raw_out->assign((size_t)width * height, 0.f);
    const int T = opt_.tile, C = opt_.context;
    for (int ty = 0; ty < height; ty += T)
        for (int tx = 0; tx < width; tx += T) {
            int x1 = std::min(tx + T, width), y1 = std::min(ty + T, height);
            int ix0 = std::max(tx - C, 0), iy0 = std::max(ty - C, 0);
            int ix1 = std::min(x1 + C, width), iy1 = std::min(y1 + C, height);
            int iw = ix1 - ix0, ih = iy1 - iy0;
            torch::Tensor in = torch::empty({1, 1, ih, iw}, torch::kUInt8);
            uint8_t* dst = in.data_ptr<uint8_t>();
            for (int r = 0; r < ih; r++) std::memcpy(dst + (size_t)r * iw, y + (iy0 + r) * stride + ix0, iw);
            torch::Tensor x = in.to(device_).to(opt_.half ? torch::kHalf : torch::kFloat).div_(255.0);
            torch::Tensor res = model.forward({x}).toTensor().to(torch::kFloat).mul_(255.0);
            res = res.slice(2, ty - iy0, ty - iy0 + (y1 - ty)).slice(3, tx - ix0, tx - ix0 + (x1 - tx));
            res = res.to(torch::kCPU).contiguous();
            torch::Tensor q = res.round().clamp_(0, 255).to(torch::kUInt8).contiguous();
            const float* rf = res.data_ptr<float>();
            const uint8_t* qb = q.data_ptr<uint8_t>();
            int ow = x1 - tx;
            for (int r = 0; r < y1 - ty; r++) {
                std::memcpy(&out[(size_t)(ty + r) * width + tx], qb + (size_t)r * ow, ow);
                if (raw_out) std::memcpy(&(*raw_out)[(size_t)(ty + r) * width + tx], rf + (size_t)r * ow, ow * sizeof(float));
            }
        }
    return out;
}

const char* TorchFilter::last_error() { return g_last_error.c_str(); }

int TorchFilter::encode_picture(const hmcnn_picture* pic, uint8_t* side_info, size_t capacity, size_t* size) {
    *size = 0;
    try {
        if (pic->bit_depth != 8) throw std::runtime_error("CNN filter: 8-bit pictures only");
        int w = pic->width, h = pic->height;
        const uint8_t* rec = (const uint8_t*)pic->plane[0];
        int model = select_model(pic->slice_qp);
        std::vector<uint8_t> filtered = filter_plane(model, rec, pic->stride[0], w, h);
        BlockMap map = make_block_map(w, h, opt_.log2_block, model);
        BlockCosts costs = measure_blocks(map, rec, pic->stride[0], filtered.data(), w,
                                          (const uint8_t*)pic->orig[0], pic->orig_stride[0], w, h);
        decide_blocks(costs, hm_lambda(pic->slice_qp), opt_.rdo, &map);
        if (!map.info.frame_on) return 0;  // frame off: nothing sent
        *size = write_block_map(map, side_info, capacity);
        if (!*size) throw std::runtime_error("CNN filter: side information does not fit");
        copy_on_blocks((uint8_t*)pic->plane[0], pic->stride[0], filtered, w, h, map);
        return 0;
    } catch (const std::exception& e) {
        g_last_error = e.what();
        return -1;
    }
}

int TorchFilter::decode_picture(const hmcnn_picture* pic, const uint8_t* side_info, size_t size) {
    try {
        if (size == 0) return 0;  // frame off
        if (pic->bit_depth != 8) throw std::runtime_error("CNN filter: 8-bit pictures only");
        int w = pic->width, h = pic->height;
        BlockMap map;
        if (!read_block_map(side_info, size, w, h, &map))
            throw std::runtime_error("CNN filter: malformed side information");
        if (!map.info.frame_on) return 0;
        if (map.info.model_id >= (int)models_.size())
            throw std::runtime_error("CNN filter: the stream names model " + std::to_string(map.info.model_id) +
                                     " but only " + std::to_string(models_.size()) + " are loaded");
        uint8_t* rec = (uint8_t*)pic->plane[0];
        std::vector<uint8_t> filtered = filter_plane(map.info.model_id, rec, pic->stride[0], w, h);
        copy_on_blocks(rec, pic->stride[0], filtered, w, h, map);
        return 0;
    } catch (const std::exception& e) {
        g_last_error = e.what();
        return -1;
    }
}

}  // namespace hmcnn
