// Runs an integer model (int_model.h) on a picture: horizontal stripes, each computed with
// the context rows it needs (zero padding only at the picture's edges, as the float
// network has), spread over threads. Integer arithmetic and one owner per output row make
// the result the same bits for any stripe height, thread count and kernel (scalar, AVX2).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "int_runner/int_model.h"

namespace hmcnn {

enum class IntKernel { Scalar, Avx2 };

// The kernel to use here: AVX2 when the CPU has it, else the scalar reference.
IntKernel best_int_kernel();
const char* int_kernel_name(IntKernel k);

struct IntRunSettings {
    IntKernel kernel = IntKernel::Scalar;
    int threads = 1;
    int stripe = 64;  // output rows per stripe
};

// The model on an 8-bit luma plane; returns the filtered plane (width*height bytes).
std::vector<uint8_t> run_int_model(const IntModel& model, const uint8_t* y, std::ptrdiff_t stride, int width,
                                   int height, const IntRunSettings& settings);

// The machine's ceiling for this runner's arithmetic: billions of int16 multiply-
// accumulates per second when `threads` threads do nothing but the AVX2 inner step
// (vpmaddwd + vpaddd into 4..8 independent accumulators), the best of several tries within
// about `seconds`. 0 without AVX2.
double int16_mac_peak(int threads, double seconds);

}  // namespace hmcnn
