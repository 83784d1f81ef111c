// The machine's int16 multiply-accumulate ceiling (the AVX2 inner step alone): a probe
// for the throughput benchmark (experiments/bench/integer_throughput.py), built into the
// Python module only, not into the runner or its plug-in.
#include "int_runner/int_mac_peak.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "int_runner/int_network.h"

namespace hmcnn {
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

}  // namespace hmcnn
