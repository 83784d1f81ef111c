// The integer runner's direct AVX2 kernels (vpmaddwd over int16 pairs into int32): the
// general one, one for a single output channel (the residual output layer), one for a
// single input channel (the first layer). The same integer sums as the scalar reference.
#include "int_runner/int_kernels.h"

namespace hmcnn {
namespace intk {
namespace {

// The same with AVX2: 4 pixels x 8*NCO output channels per step, vpmaddwd over input
// channel pairs. Exactly the scalar arithmetic (int32 sums of int16 products, no overflow).
template <int NCO, int P>
__attribute__((target("avx2"))) void conv_row_avx2(const IntLayer& l, const Buffer& in, int y, int x0, int x1,
                                                   Buffer* out, int out_bits, const void* samples,
                                                   void* result) {
    const int r = l.k / 2, taps = l.k * l.k, pairs = in.channels / 2;
    const RequantAvx2 rq(l, out_bits);
    int x = x0;
    for (; x + P <= x1; x += P)
        for (int cb = 0; cb < l.blocks(); cb += NCO) {
            __m256i acc[P][NCO];
            for (int j = 0; j < NCO; j++) {
                alignas(32) int32_t b[8] = {0};
                for (int i = 0; i < 8 && (cb + j) * 8 + i < l.cout; i++) b[i] = l.bias[(cb + j) * 8 + i];
                __m256i bias = _mm256_load_si256((const __m256i*)b);
                for (int p = 0; p < P; p++) acc[p][j] = bias;
            }
            for (int ky = 0; ky < l.k; ky++)
                for (int kx = 0; kx < l.k; kx++) {
                    const int16_t* src = in.at(y + ky - r, x + kx - r);
                    const int16_t* w[NCO];
                    for (int j = 0; j < NCO; j++)
                        w[j] = &l.packed[(((size_t)(cb + j) * taps + ky * l.k + kx) * pairs) * 16];
                    for (int pr = 0; pr < pairs; pr++) {
                        __m256i wv[NCO];
                        for (int j = 0; j < NCO; j++) wv[j] = _mm256_loadu_si256((const __m256i*)(w[j] + pr * 16));
                        for (int p = 0; p < P; p++) {
                            int32_t two;
                            std::memcpy(&two, src + (size_t)p * in.channels + pr * 2, 4);
                            __m256i xv = _mm256_set1_epi32(two);
                            for (int j = 0; j < NCO; j++)
                                acc[p][j] = _mm256_add_epi32(acc[p][j], _mm256_madd_epi16(xv, wv[j]));
                        }
                    }
                }
            for (int p = 0; p < P; p++)
                for (int j = 0; j < NCO; j++) {
                    if (!out) {  // the residual output: one channel, added to the sample
                        int32_t res = _mm256_cvtsi256_si32(rq.shifted(acc[p][j]));
                        put_residual(l, samples, result, x + p, res);
                        continue;
                    }
                    const __m128i packed = rq.to_int16(acc[p][j]);
                    int16_t* dst = out->at(y, x + p) + l.dst_offset + (cb + j) * 8;
                    int n = std::min(8, l.cout - (cb + j) * 8);
                    if (n == 8)
                        _mm_storeu_si128((__m128i*)dst, packed);
                    else {
                        alignas(16) int16_t tmp[8];
                        _mm_store_si128((__m128i*)tmp, packed);
                        std::memcpy(dst, tmp, (size_t)n * 2);
                    }
                }
        }
    if (x < x1) conv_row_scalar(l, in, y, x, x1, out, out_bits, samples, result);
}

// One output channel (the residual output layer): a dot product per pixel over taps and
// 16-channel chunks (vpmaddwd), then a horizontal sum. Same integer sums as the scalar path.
__attribute__((target("avx2"))) void conv_row_avx2_single(const IntLayer& l, const Buffer& in, int y, int x0, int x1,
                                                          Buffer* out, int out_bits, const void* samples,
                                                          void* result) {
    const int r = l.k / 2, taps = l.k * l.k, chunks = l.cin / 16;
    std::ptrdiff_t offset[128];
    for (int t = 0; t < taps; t++) offset[t] = (t / l.k - r) * in.row_stride() + (std::ptrdiff_t)(t % l.k - r) * in.channels;
    for (int x = x0; x < x1; x++) {
        __m256i acc = _mm256_setzero_si256();
        const int16_t* at = in.at(y, x);
        for (int t = 0; t < taps; t++) {
            const int16_t* src = at + offset[t];
            const int16_t* w = &l.transposed[(size_t)t * l.cin];
            for (int c = 0; c < chunks; c++)
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i*)(src + c * 16)),
                                                              _mm256_loadu_si256((const __m256i*)(w + c * 16))));
        }
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
        int32_t v = requant((int64_t)_mm_cvtsi128_si32(s4) + l.bias[0], l.shift);
        (void)taps;
        if (out)
            out->at(y, x)[l.dst_offset] = clamp_out(v, l, out_bits);
        else
            put_residual(l, samples, result, x, v);
    }
}

// One input channel (the first layer): the reduction runs over taps, in pairs (tap 2j,
// tap 2j+1), gathered once per pixel; then 8*NCO output channels per vpmaddwd step.
template <int NCO, int P>
__attribute__((target("avx2"))) void conv_row_avx2_taps(const IntLayer& l, const Buffer& in, int y, int x0, int x1,
                                                        Buffer* out, int out_bits) {
    const int r = l.k / 2, taps = l.k * l.k, pairs = (taps + 1) / 2;
    const RequantAvx2 rq(l, out_bits);
    int32_t gathered[P * 64];  // pairs <= 41 for kernels up to 9x9
    std::ptrdiff_t offset[128];  // of each tap from the pixel, in samples of the buffer
    for (int t = 0; t < taps; t++) offset[t] = (t / l.k - r) * in.row_stride() + (std::ptrdiff_t)(t % l.k - r) * in.channels;
    int x = x0;
    for (; x + P <= x1; x += P) {
        for (int p = 0; p < P; p++) {
            const int16_t* at = in.at(y, x + p);
            for (int j = 0; j < pairs; j++) {
                uint32_t a = (uint16_t)at[offset[2 * j]];
                uint32_t b = 2 * j + 1 < taps ? (uint16_t)at[offset[2 * j + 1]] : 0;
                gathered[p * pairs + j] = (int32_t)(a | (b << 16));
            }
        }
        for (int cb = 0; cb < l.blocks(); cb += NCO) {
            __m256i acc[P][NCO];
            for (int j = 0; j < NCO; j++) {
                __m256i bias = _mm256_loadu_si256((const __m256i*)&l.bias[(cb + j) * 8]);
                for (int p = 0; p < P; p++) acc[p][j] = bias;
            }
            for (int pr = 0; pr < pairs; pr++) {
                __m256i wv[NCO];
                for (int j = 0; j < NCO; j++)
                    wv[j] = _mm256_loadu_si256((const __m256i*)&l.packed_taps[(((size_t)(cb + j) * pairs) + pr) * 16]);
                for (int p = 0; p < P; p++) {
                    __m256i xv = _mm256_set1_epi32(gathered[(size_t)p * pairs + pr]);
                    for (int j = 0; j < NCO; j++) acc[p][j] = _mm256_add_epi32(acc[p][j], _mm256_madd_epi16(xv, wv[j]));
                }
            }
            for (int p = 0; p < P; p++)
                for (int j = 0; j < NCO; j++) {
                    _mm_storeu_si128((__m128i*)(out->at(y, x + p) + l.dst_offset + (cb + j) * 8),
                                     rq.to_int16(acc[p][j]));
                }
        }
    }
    if (x < x1) conv_row_scalar(l, in, y, x, x1, out, out_bits, nullptr, nullptr);
}

}  // namespace

void conv_row_avx2_8x8(const IntLayer& l, const Buffer& in, int y, int x0, int x1, Buffer* out, int out_bits,
                       const void* samples, void* result) {
    conv_row_avx2<1, 8>(l, in, y, x0, x1, out, out_bits, samples, result);
}

void conv_row_avx2(const IntLayer& l, const Buffer& in, int y, int x0, int x1, Buffer* out, int out_bits,
                   const void* samples, void* result) {
    if (l.cout == 1 && l.cin % 16 == 0) return conv_row_avx2_single(l, in, y, x0, x1, out, out_bits, samples, result);
    if (l.cin == 1 && out && l.cout % 8 == 0) return conv_row_avx2_taps<1, 8>(l, in, y, x0, x1, out, out_bits);
    // 8 pixels x 8 output channels a step: 8 accumulators, one weight register, one broadcast
    // (measured fastest on this project's AMD Zen 3 machine: wider blockings spill)
    conv_row_avx2<1, 8>(l, in, y, x0, x1, out, out_bits, samples, result);
}

}  // namespace intk
}  // namespace hmcnn
