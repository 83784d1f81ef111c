// The integer runner's kernels and what they share (internal to cpp/int_runner): the
// tensor window a stripe works in, the requantization, and the kernels behind one table
// (int_conv_kernels), as libde265 keeps its SIMD apart from the algorithm:
//   int_conv_scalar.cpp   the scalar reference
//   int_conv_avx2.cpp     the three direct AVX2 kernels (vpmaddwd)
//   int_winograd.cpp      exact-integer Winograd F(2x2, 3x3) with AVX2
//   int_network.cpp       the stripe scheduler (bands of rows, threads)
// Every kernel computes the same int32 sums of int16 products: the same bits.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "int_runner/int_model.h"
#include "int_runner/int_network.h"

namespace hmcnn {
namespace intk {

// A window of a tensor's rows [base, base + cap) within one stripe, NHWC int16, with
// `border` zero columns each side. The window slides down as the stripe advances (the
// rows still to be read move to the front), so a tensor holds a band's worth of rows, not
// the stripe's: the layers' working set stays in the caches.
struct Buffer {
    int base = 0, cap = 0, width = 0, border = 0, channels = 0;
    std::vector<int16_t> data;
    std::ptrdiff_t row_stride() const { return (std::ptrdiff_t)(width + 2 * border) * channels; }
    int16_t* at(int row, int col) { return &data[(size_t)(row - base) * row_stride() + (size_t)(col + border) * channels]; }
    const int16_t* at(int row, int col) const {
        return &data[(size_t)(row - base) * row_stride() + (size_t)(col + border) * channels];
    }
    // An all-zero window from row base_: the border columns stay zero for good (nothing
    // writes them, and whole rows move).
    void reset(int base_, int cap_, int width_, int border_, int channels_) {
        base = base_, cap = cap_, width = width_, border = border_, channels = channels_;
        size_t need = (size_t)cap * row_stride();
        if (data.size() < need) data.resize(need);
        std::memset(data.data(), 0, need * 2);
    }
    // Rows up to `end` (exclusive) are about to be written, rows [keep, done) are still to be
    // read: slide the window if `end` does not fit.
    void make_room(int keep, int done, int end) {
        if (end - base <= cap) return;
        if (end - keep > cap || keep < base) throw std::logic_error("integer runner: band window too small");
        std::memmove(data.data(), at(keep, -border), (size_t)(done - keep) * row_stride() * 2);
        base = keep;
    }
    // Rows [lo, hi) outside a picture `height` rows high: zeros, as the network pads.
    void zero_outside(int lo, int hi, int height) {
        for (int row = lo; row < hi; row++)
            if (row < 0 || row >= height) std::memset(at(row, -border), 0, (size_t)row_stride() * 2);
    }
};

// The residual output layer's write: the residual added to the picture's sample, clipped
// to its depth (8 bits: uint8_t samples; 9..12: uint16_t).
inline void put_residual(const IntLayer& l, const void* samples, void* result, int x, int32_t v) {
    if (l.sample_bits == 8) {
        ((uint8_t*)result)[x] = (uint8_t)std::min(std::max((int32_t)((const uint8_t*)samples)[x] + v, 0), 255);
        return;
    }
    const int32_t top = (1 << l.sample_bits) - 1;
    ((uint16_t*)result)[x] = (uint16_t)std::min(std::max((int32_t)((const uint16_t*)samples)[x] + v, 0), top);
}

inline int32_t requant(int64_t acc, int shift) {  // acc fits int32 by the export's proof
    return shift ? (int32_t)(((int32_t)acc + (1 << (shift - 1))) >> shift) : (int32_t)acc;
}

inline int16_t clamp_out(int32_t v, const IntLayer& l, int bits) {
    if (l.relu) return (int16_t)std::min(std::max(v, 0), (1 << bits) - 1);
    return (int16_t)std::min(std::max(v, -32768), 32767);
}

// The scalar path's requant + clamp_out on 8 int32 sums at once: the rounding shift, then
// for a tensor the ReLU / int16 clamp and the packing to 8 int16.
struct RequantAvx2 {
    __m128i count;
    __m256i half, lo, hi;
    __attribute__((target("avx2"))) RequantAvx2(const IntLayer& l, int out_bits)
        : count(_mm_cvtsi32_si128(l.shift)),
          half(_mm256_set1_epi32(l.shift ? 1 << (l.shift - 1) : 0)),
          lo(_mm256_set1_epi32(l.relu ? 0 : -32768)),
          hi(_mm256_set1_epi32(l.relu ? (1 << out_bits) - 1 : 32767)) {}
    __attribute__((target("avx2"))) __m256i shifted(__m256i acc) const {
        return _mm256_sra_epi32(_mm256_add_epi32(acc, half), count);
    }
    __attribute__((target("avx2"))) __m128i to_int16(__m256i acc) const {
        __m256i v = _mm256_min_epi32(_mm256_max_epi32(shifted(acc), lo), hi);
        return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packs_epi32(v, v), 0x08));
    }
};

// One output row of a layer, columns [x0, x1), every output channel, into the tensor
// `out`, or (out == nullptr: the residual output layer) added to `samples` into `result`.
using ConvRowFn = void (*)(const IntLayer& l, const Buffer& in, int y, int x0, int x1, Buffer* out, int out_bits,
                           const void* samples, void* result);
// Output rows y and y + 1 of a layer that qualifies for Winograd (IntLayer::wino_u), whole width.
using ConvRowPairFn = void (*)(const IntLayer& l, const Buffer& in, int y, int width, Buffer* out, int out_bits);

void conv_row_scalar(const IntLayer& l, const Buffer& in, int y, int x0, int x1, Buffer* out, int out_bits,
                     const void* samples, void* result);
void conv_row_avx2(const IntLayer& l, const Buffer& in, int y, int x0, int x1, Buffer* out, int out_bits,
                   const void* samples, void* result);
// 8 pixels x 8 output channels a step, any layer with whole 8-channel blocks (the
// Winograd kernel's remainder columns)
void conv_row_avx2_8x8(const IntLayer& l, const Buffer& in, int y, int x0, int x1, Buffer* out, int out_bits,
                       const void* samples, void* result);
void conv_row_pair_winograd(const IntLayer& l, const Buffer& in, int y, int width, Buffer* out, int out_bits);

// The kernels of one IntKernel: a row function, and a row-pair function for the layers
// that qualify for Winograd (nullptr: none).
struct ConvKernels {
    ConvRowFn row;
    ConvRowPairFn row_pair;
};
const ConvKernels& conv_kernels(IntKernel k);

}  // namespace intk
}  // namespace hmcnn
