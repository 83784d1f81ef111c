// Runs an integer model (int_model.h) on a picture: horizontal stripes, each computed with
// the context rows it needs (zero padding only at the picture's edges, as the float
// network has), spread over threads; within a stripe, bands of rows, layer after layer. Integer arithmetic and one owner per output row make
// the result the same bits for any stripe height, thread count and kernel (scalar, AVX2).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "int_runner/int_model.h"

namespace hmcnn {

// Scalar: the reference. Avx2: vpmaddwd, with exact-integer Winograd F(2x2, 3x3) on the
// layers that qualify (IntLayer::wino_u). Avx2Direct: vpmaddwd, every layer direct (for
// benchmarks and tests). All three give the same bits.
enum class IntKernel { Scalar, Avx2, Avx2Direct };

// The kernel to use here: AVX2 when the CPU has it, else the scalar reference.
IntKernel best_int_kernel();
const char* int_kernel_name(IntKernel k);
// "auto", "scalar", "avx2", "avx2-direct"; throws std::invalid_argument (also for an
// AVX2 kernel on a CPU without AVX2).
IntKernel int_kernel_named(const std::string& name);

struct IntRunSettings {
    IntKernel kernel = IntKernel::Scalar;
    int threads = 1;
    int stripe = 0;  // output rows per stripe; 0: one stripe per thread (the least recomputed context)
};

// The model on an 8-bit luma plane; returns the filtered plane (width*height bytes).
std::vector<uint8_t> run_int_model(const IntModel& model, const uint8_t* y, std::ptrdiff_t stride, int width,
                                   int height, const IntRunSettings& settings);
// The same on a 9..12-bit plane, with the model prepared for that depth (IntModel::at_depth).
std::vector<uint16_t> run_int_model(const IntModel& model, const uint16_t* y, std::ptrdiff_t stride, int width,
                                    int height, const IntRunSettings& settings);

}  // namespace hmcnn
