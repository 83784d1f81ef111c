#include "int_runner/int_network.h"

#include <immintrin.h>

#include <cstring>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

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

namespace {

// One thread's share of int16_mac_peak: `rounds` x N vpmaddwd (16 MACs each), each into
// its own accumulator.
template <int N>
__attribute__((target("avx2"))) int32_t madd_loop(long rounds) {
    __m256i a = _mm256_set1_epi16(3), b = _mm256_set1_epi16(5), acc[N];
#pragma GCC unroll 8
    for (auto& v : acc) v = _mm256_setzero_si256();
    for (long i = 0; i < rounds; i++) {
#pragma GCC unroll 8
        for (int j = 0; j < N; j++) {
            __asm__ volatile("" : "+x"(a));  // a "new" a each time: N products, none hoisted or shared
            acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(a, b));
        }
    }
    __m256i s = acc[0];
#pragma GCC unroll 8
    for (int j = 1; j < N; j++) s = _mm256_add_epi32(s, acc[j]);
    return _mm256_extract_epi32(s, 0);
}

// GMAC/s of `threads` threads each running madd_loop<N> for about `seconds`.
template <int N>
double madd_rate(int threads, double seconds) {
    const long rounds = (long)(seconds * 4e8 / N);  // ~1e9 vpmaddwd/s/thread at worst: long enough to time
    std::vector<std::thread> pool;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < threads; i++) pool.emplace_back([rounds] {
        volatile int32_t sink = madd_loop<N>(rounds);
        (void)sink;
    });
    for (auto& t : pool) t.join();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return (double)rounds * N * 16 * threads / s / 1e9;
}

}  // namespace

double int16_mac_peak(int threads, double seconds) {
    if (best_int_kernel() != IntKernel::Avx2) return 0.0;
    threads = std::max(1, threads);
    const double each = seconds / 12;  // 4 accumulator counts x 3 tries; the best is the ceiling
    double best = 0.0;
    for (int k = 0; k < 3; k++)
        best = std::max({best, madd_rate<4>(threads, each), madd_rate<5>(threads, each), madd_rate<6>(threads, each),
                         madd_rate<8>(threads, each)});
    return best;
}

namespace {

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

inline int32_t requant(int64_t acc, int shift) {  // acc fits int32 by the export's proof
    return shift ? (int32_t)(((int32_t)acc + (1 << (shift - 1))) >> shift) : (int32_t)acc;
}

inline int16_t clamp_out(int32_t v, const IntLayer& l, int bits) {
    if (l.relu) return (int16_t)std::min(std::max(v, 0), (1 << bits) - 1);
    return (int16_t)std::min(std::max(v, -32768), 32767);
}

// One output row of a layer, columns [x0, x1), every output channel (scalar reference).
void conv_row_scalar(const IntLayer& l, const Buffer& in, int y, int x0, int x1, Buffer* out, int out_bits,
                     const uint8_t* samples, uint8_t* result) {
    const int r = l.k / 2, taps = l.k * l.k;
    for (int x = x0; x < x1; x++)
        for (int co = 0; co < l.cout; co++) {
            int32_t acc = l.bias[co];
            for (int ky = 0; ky < l.k; ky++)
                for (int kx = 0; kx < l.k; kx++) {
                    const int16_t* p = in.at(y + ky - r, x + kx - r);
                    const int16_t* w = &l.weight[(size_t)co * l.cin * taps + ky * l.k + kx];
                    for (int ci = 0; ci < l.cin; ci++) acc += (int32_t)w[(size_t)ci * taps] * p[ci];
                }
            int32_t v = requant(acc, l.shift);
            if (out)
                out->at(y, x)[l.dst_offset + co] = clamp_out(v, l, out_bits);
            else
                result[x] = (uint8_t)std::min(std::max((int32_t)samples[x] + v, 0), 255);
        }
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

// The same with AVX2: 4 pixels x 8*NCO output channels per step, vpmaddwd over input
// channel pairs. Exactly the scalar arithmetic (int32 sums of int16 products, no overflow).
template <int NCO, int P>
__attribute__((target("avx2"))) void conv_row_avx2(const IntLayer& l, const Buffer& in, int y, int x0, int x1,
                                                   Buffer* out, int out_bits, const uint8_t* samples,
                                                   uint8_t* result) {
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
                        result[x + p] = (uint8_t)std::min(std::max((int32_t)samples[x + p] + res, 0), 255);
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
                                                          Buffer* out, int out_bits, const uint8_t* samples,
                                                          uint8_t* result) {
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
            result[x] = (uint8_t)std::min(std::max((int32_t)samples[x] + v, 0), 255);
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

// Winograd F(2x2, 3x3), exact: two output rows (y, y+1), T tiles of 2x2 pixels a chunk.
// Per chunk: the inputs' 4x4 windows transformed (V = B^T d B, int16), per transformed
// position xi a small matrix product over (piece, input-channel pair) with vpmaddwd into
// int32 (M), then Y = A^T M A = 4 S per pixel; S = Y >> 2, plus bias, then the direct
// path's requantization and clamp. prepare_winograd proved every step exact.
template <int T, int NCO>
__attribute__((target("avx2"))) void conv_rows_wino(const IntLayer& l, const Buffer& in, int y, int width,
                                                    Buffer* out, int out_bits) {
    const int pairs = in.channels / 2, blocks = l.blocks(), r = l.k / 2;
    const int rows = l.k == 3 ? 1 : 2, npos = l.k == 3 ? T : T + 1;  // 5x5: windows shared by neighbours
    const std::ptrdiff_t rs = in.row_stride(), cs = in.channels;
    thread_local std::vector<int16_t> V;  // [row group][xi][position][channel]
    thread_local std::vector<int32_t> M;  // [row group][tile][xi][output channel]
    V.resize((size_t)rows * npos * 16 * in.channels);
    M.resize((size_t)rows * T * 16 * blocks * 8);
    const RequantAvx2 rq(l, out_bits);
    const int tiles = width / 2;
    int t0 = 0;
    for (; t0 + T <= tiles; t0 += T) {
        const int xs = 2 * t0;
        for (int ry = 0; ry < rows; ry++)  // the input transform
            for (int pos = 0; pos < npos; pos++) {
                const int16_t* base = in.at(y - r + 2 * ry, xs - r + 2 * pos);
                int16_t* v = &V[(size_t)(ry * 16 * npos + pos) * in.channels];
                const std::ptrdiff_t xstep = (std::ptrdiff_t)npos * in.channels;  // next xi
                for (int c = 0; c < in.channels; c += 16) {  // prepare_winograd: a multiple of 16
                    // row i of B^T d: two rows of d combined; then its columns: few live registers
                    static const int kRow[4][2] = {{0, 2}, {1, 2}, {2, 1}, {1, 3}};
                    static const int kAdd[4] = {0, 1, 0, 0};  // row 1 adds, the others subtract
                    for (int i = 0; i < 4; i++) {
                        const int16_t* a = base + kRow[i][0] * rs + c;
                        const int16_t* b = base + kRow[i][1] * rs + c;
                        __m256i t[4];
                        for (int j = 0; j < 4; j++) {
                            __m256i da = _mm256_loadu_si256((const __m256i*)(a + j * cs));
                            __m256i db = _mm256_loadu_si256((const __m256i*)(b + j * cs));
                            t[j] = kAdd[i] ? _mm256_add_epi16(da, db) : _mm256_sub_epi16(da, db);
                        }
                        __m256i e[4] = {_mm256_sub_epi16(t[0], t[2]), _mm256_add_epi16(t[1], t[2]),
                                        _mm256_sub_epi16(t[2], t[1]), _mm256_sub_epi16(t[1], t[3])};
                        for (int j = 0; j < 4; j++)
                            _mm256_storeu_si256((__m256i*)(v + (i * 4 + j) * xstep + c), e[j]);
                    }
                }
            }
        for (int ry = 0; ry < rows; ry++)  // per row group and transformed position: tiles x channels
            for (int xi = 0; xi < 16; xi++)
                for (int cb = 0; cb < blocks; cb += NCO) {
                    __m256i acc[T][NCO];
                    for (auto& a : acc)
                        for (auto& b : a) b = _mm256_setzero_si256();
                    for (int px = 0; px < l.wino_pieces / rows; px++) {
                        const int piece = ry * (l.wino_pieces / rows) + px;
                        const int16_t* w = &l.wino_u[(((size_t)piece * 16 + xi) * blocks + cb) * pairs * 16];
                        const int16_t* v = &V[((size_t)(ry * 16 + xi) * npos + px) * in.channels];
                        const std::ptrdiff_t step = in.channels;  // next position
                        for (int pr = 0; pr < pairs; pr++) {
                            __m256i wv[NCO];
                            for (int j = 0; j < NCO; j++)
                                wv[j] = _mm256_loadu_si256((const __m256i*)(w + ((size_t)j * pairs + pr) * 16));
                            for (int t = 0; t < T; t++) {
                                int32_t two;
                                std::memcpy(&two, v + t * step + pr * 2, 4);
                                const __m256i xv = _mm256_set1_epi32(two);
                                for (int j = 0; j < NCO; j++)
                                    acc[t][j] = _mm256_add_epi32(acc[t][j], _mm256_madd_epi16(xv, wv[j]));
                            }
                        }
                    }
                    for (int t = 0; t < T; t++)
                        for (int j = 0; j < NCO; j++)
                            _mm256_storeu_si256((__m256i*)&M[((((size_t)ry * T + t) * 16 + xi) * blocks + cb + j) * 8],
                                                acc[t][j]);
                }
        for (int t = 0; t < T; t++)  // the output transform, requantization, clamp
            for (int cb = 0; cb < blocks; cb++) {
                const __m256i bias = _mm256_loadu_si256((const __m256i*)&l.bias[cb * 8]);
                __m256i acc[2][2] = {{bias, bias}, {bias, bias}};
                for (int ry = 0; ry < rows; ry++) {
                    __m256i m[16], q[2][4];
                    for (int xi = 0; xi < 16; xi++)
                        m[xi] = _mm256_loadu_si256((const __m256i*)&M[((((size_t)ry * T + t) * 16 + xi) * blocks + cb) * 8]);
                    for (int j = 0; j < 4; j++) {
                        q[0][j] = _mm256_add_epi32(_mm256_add_epi32(m[j], m[4 + j]), m[8 + j]);
                        q[1][j] = _mm256_sub_epi32(_mm256_sub_epi32(m[4 + j], m[8 + j]), m[12 + j]);
                    }
                    for (int dy = 0; dy < 2; dy++) {  // Y = 4 S exactly; S = Y >> 2
                        __m256i y0 = _mm256_add_epi32(_mm256_add_epi32(q[dy][0], q[dy][1]), q[dy][2]);
                        __m256i y1 = _mm256_sub_epi32(_mm256_sub_epi32(q[dy][1], q[dy][2]), q[dy][3]);
                        acc[dy][0] = _mm256_add_epi32(acc[dy][0], _mm256_srai_epi32(y0, 2));
                        acc[dy][1] = _mm256_add_epi32(acc[dy][1], _mm256_srai_epi32(y1, 2));
                    }
                }
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        _mm_storeu_si128((__m128i*)(out->at(y + dy, xs + 2 * t + dx) + l.dst_offset + cb * 8),
                                         rq.to_int16(acc[dy][dx]));
            }
    }
    for (int dy = 0; dy < 2; dy++)  // the columns no whole chunk covers: direct
        conv_row_avx2<1, 8>(l, in, y + dy, 2 * t0, width, out, out_bits, nullptr, nullptr);
}

void conv_row(IntKernel k, const IntLayer& l, const Buffer& in, int y, int width, Buffer* out, int out_bits,
              const uint8_t* samples, uint8_t* result) {
    if (k == IntKernel::Scalar) return conv_row_scalar(l, in, y, 0, width, out, out_bits, samples, result);
    if (l.cout == 1 && l.cin % 16 == 0)
        return conv_row_avx2_single(l, in, y, 0, width, out, out_bits, samples, result);
    if (l.cin == 1 && out && l.cout % 8 == 0) return conv_row_avx2_taps<1, 8>(l, in, y, 0, width, out, out_bits);
    // 8 pixels x 8 output channels a step: 8 accumulators, one weight register, one broadcast
    // (measured fastest on this project's AMD Zen 3 machine: wider blockings spill)
    conv_row_avx2<1, 8>(l, in, y, 0, width, out, out_bits, samples, result);
}

// Output rows [r0, r1) of a layer into `out`: Winograd row pairs where the kernel and
// layer allow, the rest row by row.
void conv_rows(IntKernel k, const IntLayer& l, const Buffer& in, int r0, int r1, int width, Buffer* out,
               int out_bits) {
    int row = r0;
    if (k == IntKernel::Avx2 && !l.wino_u.empty())
        for (; row + 1 < r1; row += 2)  // 6 tiles x 16 output channels a step: 12 accumulators
            conv_rows_wino<6, 2>(l, in, row, width, out, out_bits);  // (measured against 8x8, 4x16, 5x16)
    for (; row < r1; row++) conv_row(k, l, in, row, width, out, out_bits, nullptr, nullptr);
}

// Output rows [s0, s1) of the picture, in bands of kBand output rows: per band, each
// tensor's new rows (those the band's outputs need), layer after layer. Every row of every
// tensor is computed once per stripe, as a whole-stripe pass would: the same bits.
constexpr int kBand = 8;

void run_stripe(const IntModel& m, const uint8_t* y, std::ptrdiff_t stride, int width, int height, int s0, int s1,
                IntKernel kernel, uint8_t* out, std::vector<Buffer>& buf) {
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
                    conv_row(kernel, l, buf[l.src], row, width, nullptr, 0, y + row * stride, out + (size_t)row * width);
                continue;
            }
            if (!opened[l.dst]) end[l.dst] = open(l.dst);
            conv_rows(kernel, l, buf[l.src], std::max(done[l.dst], 0), std::min(end[l.dst], height), width,
                      &buf[l.dst], m.tensors[l.dst].bits);
        }
        done = end;
    }
}

}  // namespace

std::vector<uint8_t> run_int_model(const IntModel& model, const uint8_t* y, std::ptrdiff_t stride, int width,
                                   int height, const IntRunSettings& s) {
    if (s.kernel != IntKernel::Scalar && !__builtin_cpu_supports("avx2"))
        throw std::invalid_argument("the AVX2 kernel needs a CPU with AVX2");
    if (s.stripe < 0 || s.threads < 1) throw std::invalid_argument("threads must be positive, stripe non-negative");
    std::vector<uint8_t> out((size_t)width * height);
    const int stripe = s.stripe ? s.stripe : std::max(1, (height + s.threads - 1) / s.threads);
    const int stripes = (height + stripe - 1) / stripe;
    std::atomic<int> next{0};  // stripes go to whichever thread is free: a slowed core gets fewer
    auto work = [&] {
        std::vector<Buffer> workspace;  // one per thread, reused stripe after stripe
        for (int i; (i = next++) < stripes;)
            run_stripe(model, y, stride, width, height, i * stripe, std::min((i + 1) * stripe, height), s.kernel,
                       out.data(), workspace);
    };
    const int threads = std::min(s.threads, stripes);
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; t++) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    return out;
}

}  // namespace hmcnn
