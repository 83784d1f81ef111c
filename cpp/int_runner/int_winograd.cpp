// The integer runner's exact Winograd F(2x2, 3x3) kernel with AVX2, on the layers whose
// every step int_model.cpp's prepare_winograd proved exact.
#include "int_runner/int_kernels.h"

namespace hmcnn {
namespace intk {
namespace {

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
        conv_row_avx2_8x8(l, in, y + dy, 2 * t0, width, out, out_bits, nullptr, nullptr);
}

}  // namespace

void conv_row_pair_winograd(const IntLayer& l, const Buffer& in, int y, int width, Buffer* out, int out_bits) {
    // 6 tiles x 16 output channels a step: 12 accumulators (measured against 8x8, 4x16, 5x16)
    conv_rows_wino<6, 2>(l, in, y, width, out, out_bits);
}

}  // namespace intk
}  // namespace hmcnn
