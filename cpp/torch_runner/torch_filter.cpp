#include "torch_runner/torch_filter.h"

#include <torch/cuda.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "filters/block_ops.h"
#include "inloop_side_info.h"

namespace hmcnn {
namespace {

thread_local std::string g_last_error;

// Bytes a side-info SEI NAL costs on top of its payload: start code (3), NAL header (2),
// payloadType (1), payloadSize (1), UUID (16), trailing bits (1).
constexpr int kSeiOverheadBytes = 24;

// HM's lambda for an 8-bit SSE cost at a QP (random-access B-frame weight omitted).
double lambda_for(int qp) { return 0.57 * std::pow(2.0, (qp - 12) / 3.0); }

}  // namespace

TorchFilter::TorchFilter(const TorchFilterOptions& options) : opt_(options), device_(torch::kCPU) {
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
    table_.abi_version = HMCNN_FILTER_ABI_VERSION;
    table_.self = this;
    table_.encode_picture = encode_picture;
    table_.decode_picture = decode_picture;
    table_.last_error = last_error;
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

const char* TorchFilter::last_error(void*) { return g_last_error.c_str(); }

int TorchFilter::encode_picture(void* self, const hmcnn_picture* pic, uint8_t* side_info, size_t capacity,
                                size_t* size) {
    auto& f = *static_cast<TorchFilter*>(self);
    *size = 0;
    try {
        if (pic->bit_depth != 8) throw std::runtime_error("CNN filter: 8-bit pictures only");
        int w = pic->width, h = pic->height;
        const uint8_t* rec = (const uint8_t*)pic->plane[0];
        const uint8_t* org = (const uint8_t*)pic->orig[0];
        int model = f.select_model(pic->slice_qp);
        std::vector<uint8_t> filtered = f.filter_plane(model, rec, pic->stride[0], w, h);

        hmcnn_side_info info{};
        info.model_id = model;
        info.log2_block = f.opt_.log2_block;
        int n = hmcnn_side_info_blocks(w, h, info.log2_block, &info.blocks_x, &info.blocks_y);
        std::vector<uint8_t> on((size_t)n, 1);
        int s = 1 << info.log2_block;
        uint64_t d_off = 0, d_all = 0, d_map = 0;
        for (int by = 0; by < info.blocks_y; by++)
            for (int bx = 0; bx < info.blocks_x; bx++) {
                int x0 = bx * s, y0 = by * s, x1 = std::min(x0 + s, w), y1 = std::min(y0 + s, h);
                uint64_t before = block_sse(rec, pic->stride[0], org, pic->orig_stride[0], x0, y0, x1, y1);
                uint64_t after = block_sse(filtered.data(), w, org, pic->orig_stride[0], x0, y0, x1, y1);
                d_off += before;
                d_all += after;
                d_map += std::min(before, after);
                on[(size_t)by * info.blocks_x + bx] = after < before;
            }
        // choose frame off / every block on / block map by D + lambda * R (R in bits)
        double lambda = lambda_for(pic->slice_qp);
        double j_off = (double)d_off;
        double j_all = (double)d_all + lambda * 8 * (kSeiOverheadBytes + HMCNN_SIDE_INFO_HEADER);
        double j_map = (double)d_map + lambda * 8 * (kSeiOverheadBytes + HMCNN_SIDE_INFO_HEADER + (n + 7) / 8);
        if (!f.opt_.rdo) {
            j_all = -1;  // always on
        }
        if (j_off <= j_all && j_off <= j_map) return 0;  // frame off: nothing sent
        if (j_all <= j_map) std::fill(on.begin(), on.end(), 1);
        info.frame_on = 1;
        *size = hmcnn_side_info_write(&info, on.data(), side_info, capacity);
        if (!*size) throw std::runtime_error("CNN filter: side information does not fit");
        copy_on_blocks((uint8_t*)pic->plane[0], pic->stride[0], filtered, w, h, info, on);
        return 0;
    } catch (const std::exception& e) {
        g_last_error = e.what();
        return -1;
    }
}

int TorchFilter::decode_picture(void* self, const hmcnn_picture* pic, const uint8_t* side_info, size_t size) {
    auto& f = *static_cast<TorchFilter*>(self);
    try {
        if (size == 0) return 0;  // frame off
        if (pic->bit_depth != 8) throw std::runtime_error("CNN filter: 8-bit pictures only");
        int w = pic->width, h = pic->height;
        hmcnn_side_info info{};
        if (hmcnn_side_info_read(side_info, size, w, h, &info, nullptr, 0))
            throw std::runtime_error("CNN filter: malformed side information");
        if (!info.frame_on) return 0;
        if (info.model_id >= (int)f.models_.size())
            throw std::runtime_error("CNN filter: the stream names model " + std::to_string(info.model_id) +
                                     " but only " + std::to_string(f.models_.size()) + " are loaded");
        std::vector<uint8_t> on((size_t)info.blocks_x * info.blocks_y);
        hmcnn_side_info_read(side_info, size, w, h, &info, on.data(), on.size());
        uint8_t* rec = (uint8_t*)pic->plane[0];
        std::vector<uint8_t> filtered = f.filter_plane(info.model_id, rec, pic->stride[0], w, h);
        copy_on_blocks(rec, pic->stride[0], filtered, w, h, info, on);
        return 0;
    } catch (const std::exception& e) {
        g_last_error = e.what();
        return -1;
    }
}

}  // namespace hmcnn
