#include "int_runner/int_network.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <thread>

#include "int_runner/int_kernels.h"

namespace hmcnn {

IntKernel best_int_kernel() {
    return __builtin_cpu_supports("avx2") ? IntKernel::Avx2 : IntKernel::Scalar;
}

const char* int_kernel_name(IntKernel k) {
    return k == IntKernel::Avx2 ? "avx2" : k == IntKernel::Avx2Direct ? "avx2-direct" : "scalar";
}

IntKernel int_kernel_named(const std::string& name) {
    if (name == "auto") return best_int_kernel();
    if (name == "scalar") return IntKernel::Scalar;
    if (name != "avx2" && name != "avx2-direct")
        throw std::invalid_argument("kernel must be auto, scalar, avx2 or avx2-direct, got '" + name + "'");
    if (!__builtin_cpu_supports("avx2")) throw std::invalid_argument("this CPU has no AVX2");
    return name == "avx2" ? IntKernel::Avx2 : IntKernel::Avx2Direct;
}

namespace intk {

const ConvKernels& conv_kernels(IntKernel k) {
    static const ConvKernels scalar{conv_row_scalar, nullptr};
    static const ConvKernels avx2{conv_row_avx2, conv_row_pair_winograd};
    static const ConvKernels avx2_direct{conv_row_avx2, nullptr};
    return k == IntKernel::Scalar ? scalar : k == IntKernel::Avx2 ? avx2 : avx2_direct;
}

}  // namespace intk

namespace {

using intk::Buffer;

// Output rows [r0, r1) of a layer into `out`: row pairs where the kernel has a Winograd
// path and the layer qualifies, the rest row by row.
void conv_rows(const intk::ConvKernels& k, const IntLayer& l, const Buffer& in, int r0, int r1, int width, Buffer* out,
               int out_bits) {
    int row = r0;
    if (k.row_pair && !l.wino_u.empty())
        for (; row + 1 < r1; row += 2) k.row_pair(l, in, row, width, out, out_bits);
    for (; row < r1; row++) k.row(l, in, row, 0, width, out, out_bits, nullptr, nullptr);
}

// Output rows [s0, s1) of the picture, in bands of kBand output rows: per band, each
// tensor's new rows (those the band's outputs need), layer after layer. Every row of every
// tensor is computed once per stripe, as a whole-stripe pass would: the same bits.
constexpr int kBand = 8;

template <class Sample>
void run_stripe(const IntModel& m, const Sample* y, std::ptrdiff_t stride, int width, int height, int s0, int s1,
                const intk::ConvKernels& kernel, Sample* out, std::vector<Buffer>& buf) {
    const int nt = (int)m.tensors.size();
    int border = 0;
    for (const IntLayer& l : m.layers) border = std::max(border, l.k / 2);
    std::vector<int> lo(nt, s0), hi(nt, s1), off(nt, 0);  // rows each tensor must hold; context below a band
    std::vector<bool> used(nt, false);
    for (int i = (int)m.layers.size() - 1; i >= 0; i--) {
        const IntLayer& l = m.layers[i];
        int olo = l.dst < 0 ? s0 : std::max(lo[l.dst], 0), ohi = l.dst < 0 ? s1 : std::min(hi[l.dst], height);
        if (!used[l.src]) lo[l.src] = olo - l.k / 2, hi[l.src] = ohi + l.k / 2, used[l.src] = true;
        lo[l.src] = std::min(lo[l.src], olo - l.k / 2);
        hi[l.src] = std::max(hi[l.src], ohi + l.k / 2);
        off[l.src] = std::max(off[l.src], (l.dst < 0 ? 0 : off[l.dst]) + l.k / 2);
    }
    buf.resize(nt);
    for (int t = 0; t < nt; t++)
        buf[t].reset(lo[t], std::min(hi[t] - lo[t], 2 * kBand + 2 * off[t] + 2), width, border, m.tensors[t].padded);
    std::vector<int> done(lo);  // per tensor: rows [lo, done) computed
    std::vector<bool> opened(nt);
    for (int f0 = s0; f0 < s1; f0 += kBand) {
        const int f1 = std::min(f0 + kBand, s1);
        std::fill(opened.begin(), opened.end(), false);
        auto open = [&](int t) {  // the band's rows [done, end) of tensor t: room, padding rows
            const int end = std::min(hi[t], f1 + off[t]);
            int keep = done[t];
            for (const IntLayer& c : m.layers)
                if (c.src == t) keep = std::min(keep, (c.dst < 0 ? f0 : std::max(done[c.dst], 0)) - c.k / 2);
            buf[t].make_room(keep, done[t], end);
            buf[t].zero_outside(done[t], end, height);
            opened[t] = true;
            return end;
        };
        std::vector<int> end(done);
        end[0] = open(0);
        for (int row = std::max(done[0], 0); row < std::min(end[0], height); row++) {
            int16_t* dst = buf[0].at(row, 0);
            const int c = buf[0].channels;
            for (int x = 0; x < width; x++) {
                dst[(size_t)x * c] = y[row * stride + x];
                for (int k = 1; k < c; k++) dst[(size_t)x * c + k] = 0;  // the pairing channel
            }
        }
        for (const IntLayer& l : m.layers) {
            if (l.dst < 0) {
                for (int row = f0; row < f1; row++)
                    kernel.row(l, buf[l.src], row, 0, width, nullptr, 0, y + row * stride, out + (size_t)row * width);
                continue;
            }
            if (!opened[l.dst]) end[l.dst] = open(l.dst);
            conv_rows(kernel, l, buf[l.src], std::max(done[l.dst], 0), std::min(end[l.dst], height), width,
                      &buf[l.dst], m.tensors[l.dst].bits);
        }
        done = end;
    }
}

template <class Sample>
std::vector<Sample> run_model(const IntModel& model, const Sample* y, std::ptrdiff_t stride, int width, int height,
                              const IntRunSettings& s) {
    if (s.kernel != IntKernel::Scalar && !__builtin_cpu_supports("avx2"))
        throw std::invalid_argument("the AVX2 kernel needs a CPU with AVX2");
    if (s.stripe < 0 || s.threads < 1) throw std::invalid_argument("threads must be positive, stripe non-negative");
    if ((model.input_bits > 8) != (sizeof(Sample) == 2))
        throw std::invalid_argument("integer model prepared for " + std::to_string(model.input_bits) +
                                    "-bit samples, given samples of another width (IntModel::at_depth)");
    std::vector<Sample> out((size_t)width * height);
    const int stripe = s.stripe ? s.stripe : std::max(1, (height + s.threads - 1) / s.threads);
    const int stripes = (height + stripe - 1) / stripe;
    const intk::ConvKernels& kernels = intk::conv_kernels(s.kernel);
    std::atomic<int> next{0};  // stripes go to whichever thread is free: a slowed core gets fewer
    auto work = [&] {
        std::vector<Buffer> workspace;  // one per thread, reused stripe after stripe
        for (int i; (i = next++) < stripes;)
            run_stripe(model, y, stride, width, height, i * stripe, std::min((i + 1) * stripe, height), kernels,
                       out.data(), workspace);
    };
    const int threads = std::min(s.threads, stripes);
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; t++) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    return out;
}

}  // namespace

std::vector<uint8_t> run_int_model(const IntModel& model, const uint8_t* y, std::ptrdiff_t stride, int width,
                                   int height, const IntRunSettings& settings) {
    return run_model(model, y, stride, width, height, settings);
}

std::vector<uint16_t> run_int_model(const IntModel& model, const uint16_t* y, std::ptrdiff_t stride, int width,
                                    int height, const IntRunSettings& settings) {
    return run_model(model, y, stride, width, height, settings);
}

}  // namespace hmcnn
