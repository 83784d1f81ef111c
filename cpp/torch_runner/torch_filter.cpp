#include "torch_runner/torch_filter.h"

#include <torch/cuda.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>


namespace hmcnn {
namespace {

// A window of a picture's planes: the tile [x0, x1) x [y0, y1) (luma samples) and the
// input it is computed from, [ix0, ix1) x [iy0, iy1), `context` samples larger.
struct Tile {
    int x0, y0, x1, y1, ix0, iy0, ix1, iy1;
};

template <class Fn>
void for_each_tile(int width, int height, int size, int context, Fn fn) {
    for (int ty = 0; ty < height; ty += size)
        for (int tx = 0; tx < width; tx += size) {
            Tile t{tx, ty, std::min(tx + size, width), std::min(ty + size, height), std::max(tx - context, 0),
                   std::max(ty - context, 0), 0, 0};
            t.ix1 = std::min(t.x1 + context, width);
            t.iy1 = std::min(t.y1 + context, height);
            fn(t);
        }
}

// The scale samples are divided by on the way in (and multiplied by on the way out):
// HM's PSNR peak, 255 << (bit depth - 8).
double peak(int bit_depth) { return (double)(255 << (bit_depth - 8)); }

// A (1, 1, h, w) tensor of a plane's window [x0, x1) x [y0, y1): uint8 for 8-bit
// samples, int32 for 9..16-bit ones.
torch::Tensor crop(const uint8_t* plane, ptrdiff_t stride, int x0, int y0, int x1, int y1) {
    torch::Tensor t = torch::empty({1, 1, y1 - y0, x1 - x0}, torch::kUInt8);
    uint8_t* dst = t.data_ptr<uint8_t>();
    for (int r = 0; r < y1 - y0; r++) std::memcpy(dst + (size_t)r * (x1 - x0), plane + (y0 + r) * stride + x0, x1 - x0);
    return t;
}

torch::Tensor crop(const uint16_t* plane, ptrdiff_t stride, int x0, int y0, int x1, int y1) {
    torch::Tensor t = torch::empty({1, 1, y1 - y0, x1 - x0}, torch::kInt32);
    int32_t* dst = t.data_ptr<int32_t>();
    for (int r = 0; r < y1 - y0; r++)
        for (int c = 0; c < x1 - x0; c++) dst[(size_t)r * (x1 - x0) + c] = plane[(y0 + r) * stride + x0 + c];
    return t;
}

// Writes rows [oy, oy + h) x cols [ox, ox + w) of a (1, 1, H, W) float output (0..1
// scale), cut at (cy, cx), times the peak of `bit_depth`, rounded and clipped into a
// packed plane of `width`.
template <class Sample>
void paste(const torch::Tensor& out, int cy, int cx, int h, int w, std::vector<Sample>& plane, int width, int oy,
           int ox, std::vector<float>* raw, int bit_depth = 8) {
    torch::Tensor f = out.slice(2, cy, cy + h).slice(3, cx, cx + w).to(torch::kCPU, torch::kFloat).mul(peak(bit_depth));
    f = f.contiguous();
    torch::Tensor q = f.round().clamp_(0, (1 << bit_depth) - 1).to(torch::kInt32).contiguous();
    const int32_t* qb = q.data_ptr<int32_t>();
    const float* fb = f.data_ptr<float>();
    for (int r = 0; r < h; r++) {
        Sample* dst = &plane[(size_t)(oy + r) * width + ox];
        for (int c = 0; c < w; c++) dst[c] = (Sample)qb[(size_t)r * w + c];
        if (raw) std::memcpy(&(*raw)[(size_t)(oy + r) * width + ox], fb + (size_t)r * w, w * sizeof(float));
    }
}

}  // namespace

TorchModels::TorchModels(const TorchFilterOptions& options)
    : PictureModels(options.qps, options.paths.size(), options.inter), opt_(options), device_(torch::kCPU) {
    if (opt_.kind != "loop" && opt_.kind != "loop_yuv")
        throw std::invalid_argument("unknown model kind '" + opt_.kind + "' (loop or loop_yuv)");
    if (opt_.tile < 16 || opt_.context < 0) throw std::invalid_argument("bad tile or context size");
    if (yuv() && (opt_.tile % 2 || opt_.context % 2))
        throw std::invalid_argument("a 4:2:0 model needs an even tile size and context");
    device_ = parse_device(opt_.device);
    if (opt_.half && !device_.is_cuda()) throw std::invalid_argument("fp16 inference needs a CUDA device");

    for (const std::string& path : opt_.paths) {
        torch::jit::Module m;
        try {
            m = torch::jit::load(path, device_);
        } catch (const c10::Error& e) {
            throw std::invalid_argument("cannot load TorchScript model " + path + ": " +
                                        std::string(e.what_without_backtrace()));
        }
        m.eval();
        if (opt_.half) m.to(torch::kHalf);
        check_model(m, path);
        models_.push_back(std::move(m));
    }
}

// A model must map its inputs to outputs of the same shapes.
void TorchModels::check_model(torch::jit::Module& m, const std::string& path) const {
    c10::InferenceMode guard;
    auto opts = torch::TensorOptions().device(device_).dtype(opt_.half ? torch::kHalf : torch::kFloat);
    try {
        if (!yuv()) {
            auto x = torch::zeros({1, 1, 24, 40}, opts);
            auto out = m.forward({x});
            if (!out.isTensor() || out.toTensor().sizes() != x.sizes())
                throw std::invalid_argument("model " + path + " does not map a (1, 1, H, W) luma tensor to the same shape");
            return;
        }
        auto y = torch::zeros({1, 1, 24, 40}, opts), c = torch::zeros({1, 1, 12, 20}, opts);
        auto out = m.forward({y, c, c, torch::full({1}, 32.0, opts)});
        if (!out.isTuple() || out.toTuple()->elements().size() != 3 ||
            out.toTuple()->elements()[0].toTensor().sizes() != y.sizes() ||
            out.toTuple()->elements()[1].toTensor().sizes() != c.sizes() ||
            out.toTuple()->elements()[2].toTensor().sizes() != c.sizes())
            throw std::invalid_argument("model " + path + " does not map (y, u, v, qp) to (y, u, v) of the same shapes");
    } catch (const c10::Error& e) {
        throw std::invalid_argument("model " + path + " fails on " + (yuv() ? "(y, u, v, qp)" : "a (1, 1, H, W) luma tensor") +
                                    ": " + std::string(e.what_without_backtrace()));
    }
}

template <class Sample>
std::vector<Sample> TorchModels::filter_luma(int index, const Sample* y, ptrdiff_t stride, int width, int height,
                                            int bit_depth, std::vector<float>* raw_out) const {
    if (yuv()) throw std::invalid_argument("a 4:2:0 model filters whole pictures (filter_picture)");
    c10::InferenceMode guard;
    torch::jit::Module& model = const_cast<torch::jit::Module&>(models_.at(index));
    std::vector<Sample> out((size_t)width * height);
    if (raw_out) raw_out->assign((size_t)width * height, 0.f);
    auto dtype = opt_.half ? torch::kHalf : torch::kFloat;
    for_each_tile(width, height, opt_.tile, opt_.context, [&](const Tile& t) {
        torch::Tensor x = crop(y, stride, t.ix0, t.iy0, t.ix1, t.iy1).to(device_).to(dtype).div_(peak(bit_depth));
        torch::Tensor res = model.forward({x}).toTensor();
        paste(res, t.y0 - t.iy0, t.x0 - t.ix0, t.y1 - t.y0, t.x1 - t.x0, out, width, t.y0, t.x0, raw_out, bit_depth);
    });
    return out;
}

std::vector<uint8_t> TorchModels::filter_plane(int index, const uint8_t* y, ptrdiff_t stride, int width, int height,
                                               std::vector<float>* raw_out) const {
    return filter_luma(index, y, stride, width, height, 8, raw_out);
}

template <class Sample>
void TorchModels::filter_yuv(int index, const hmcnn_picture* pic, std::vector<Sample>& y, std::vector<Sample>& u,
                             std::vector<Sample>& v) const {
    c10::InferenceMode guard;
    torch::jit::Module& model = const_cast<torch::jit::Module&>(models_.at(index));
    const int w = pic->width, h = pic->height, cw = w / 2, depth = pic->bit_depth;
    y.resize((size_t)w * h);
    u.resize((size_t)cw * (h / 2));
    v.resize(u.size());
    auto dtype = opt_.half ? torch::kHalf : torch::kFloat;
    torch::Tensor qp = torch::full({1}, (double)pic->slice_qp, torch::TensorOptions().device(device_).dtype(dtype));
    for_each_tile(w, h, opt_.tile, opt_.context, [&](const Tile& t) {
        auto in = [&](int c, int s) {
            return crop((const Sample*)pic->plane[c], pic->stride[c], t.ix0 / s, t.iy0 / s, t.ix1 / s, t.iy1 / s)
                .to(device_).to(dtype).div_(peak(depth));
        };
        auto res = model.forward({in(0, 1), in(1, 2), in(2, 2), qp}).toTuple()->elements();
        paste(res[0].toTensor(), t.y0 - t.iy0, t.x0 - t.ix0, t.y1 - t.y0, t.x1 - t.x0, y, w, t.y0, t.x0, nullptr, depth);
        for (int c = 1; c <= 2; c++)
            paste(res[c].toTensor(), (t.y0 - t.iy0) / 2, (t.x0 - t.ix0) / 2, (t.y1 - t.y0) / 2, (t.x1 - t.x0) / 2,
                  c == 1 ? u : v, cw, t.y0 / 2, t.x0 / 2, nullptr, depth);
    });
}

FilteredPlanes TorchModels::filter_picture(int index, const hmcnn_picture* pic) const {
    FilteredPlanes out;
    const int w = pic->width, h = pic->height, depth = pic->bit_depth;
    if (depth > 8) {
        if (yuv())
            filter_yuv(index, pic, out.y16, out.u16, out.v16);
        else
            out.y16 = filter_luma(index, (const uint16_t*)pic->plane[0], pic->stride[0], w, h, depth, nullptr);
    } else if (yuv()) {
        filter_yuv(index, pic, out.y, out.u, out.v);
    } else {
        out.y = filter_luma(index, (const uint8_t*)pic->plane[0], pic->stride[0], w, h, 8, nullptr);
    }
    return out;
}

void TorchModels::check_picture(const hmcnn_picture* pic) const {
    if (pic->bit_depth < 8 || pic->bit_depth > 16) throw std::runtime_error("CNN filter: bit depths 8..16 only");
    if (yuv() && pic->chroma_format != 1) throw std::runtime_error("CNN filter: the 4:2:0 model needs 4:2:0 pictures");
}

torch::Device parse_device(const std::string& name) {
    torch::Device device(torch::kCPU);
    try {
        device = torch::Device(name);
    } catch (const c10::Error&) {
        throw std::invalid_argument("unknown device '" + name + "'");
    }
    if (device.is_cuda() && !torch::cuda::is_available())
        throw std::invalid_argument("device '" + name + "' asked for, but CUDA is not available");
    return device;
}

std::unique_ptr<BlockSwitchedFilter> make_torch_filter(const TorchFilterOptions& options) {
    return std::make_unique<BlockSwitchedFilter>(std::make_unique<TorchModels>(options), options.blocks);
}

}  // namespace hmcnn
