// The integer runner's ceiling on this machine (for the throughput benchmark).
#pragma once

namespace hmcnn {

// The machine's ceiling for this runner's arithmetic: billions of int16 multiply-
// accumulates per second when `threads` threads do nothing but the AVX2 inner step
// (vpmaddwd + vpaddd into 4..8 independent accumulators), the best of several tries within
// about `seconds`. 0 without AVX2.
double int16_mac_peak(int threads, double seconds);

}  // namespace hmcnn
