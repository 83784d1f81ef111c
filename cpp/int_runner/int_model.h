// An integer loop-filter model (.hmq, written by cnn_filter/quantize.py, format in
// docs/integer-models.md) and the arithmetic that runs it: int16 weights and
// activations, int32 accumulation, rounding right shifts, ReLU clamps. No float.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hmcnn {

struct IntTensor {
    int channels;  // as stored
    int padded;    // channels rounded up to even (weights pair input channels)
    int frac;      // fractional bits (documentation only: scales are folded into shifts)
    int bits;      // values clamp to [0, 2^bits - 1] after ReLU
};

struct IntLayer {
    std::string name;
    int src, dst, dst_offset;  // dst -1: the residual output, added to the input samples
    int cin, cout, k;
    bool relu;
    int shift;
    int sample_bits = 8;  // the residual output layer: the depth of the samples it is added to
    std::vector<int16_t> weight;  // (cout, cin, k, k), as in the file
    std::vector<int32_t> bias;
    // AVX2 packing: per block of 8 output channels, per tap, per input-channel pair, the
    // 8 x 2 weights of one vpmaddwd: [block][tap][pair][co 0..7][ci 0..1]
    std::vector<int16_t> packed;
    // one output channel: the weights as [tap][ci] (a dot product per pixel)
    std::vector<int16_t> transposed;
    // one input channel: [block][tap pair][co 0..7][tap 0..1] (the reduction runs over taps)
    std::vector<int16_t> packed_taps;
    // Winograd F(2x2, 3x3) in exact integers (the AVX2 kernel's fast path, int_network.cpp):
    // a 3x3 kernel is one piece, a 5x5 four overlapping 3x3 pieces (rows/columns 0-2 and
    // 2-4, the shared row/column counted once; pieces 0-1 and 2-3 are summed as two
    // groups). wino_u holds each piece's transformed
    // weights U = G2 g G2^T (4x the textbook G g G^T, so integer): [piece][xi 0..15]
    // [block][pair][co 0..7][ci 0..1]. Empty when the layer does not qualify (see
    // prepare_winograd); the kernel then runs direct. Same sums, so the same bits.
    std::vector<int16_t> wino_u;
    int wino_pieces = 0;
    int blocks() const { return (cout + 7) / 8; }
};

struct IntModel {
    std::vector<IntTensor> tensors;  // tensor 0: the input samples
    std::vector<IntLayer> layers;
    uint16_t hash = 0;               // content hash of the file (side information names it)
    int radius = 0;                  // samples of context per side
    int input_bits = 8;              // the picture samples' depth it runs on (tensor 0's values)

    static IntModel load(const std::string& path);  // throws std::invalid_argument with the reason
    // The same network for pictures of `bit_depth` (9..12): the layers that read the
    // samples take them 2^(depth - 8) times larger (their biases scaled up alike, their
    // shifts larger by depth - 8: the same activations as 8-bit samples shifted up give),
    // the residual comes out in units of the depth (shift smaller by depth - 8). Throws
    // std::invalid_argument when an accumulator could then leave int32 (the export's
    // overflow proof, redone for the wider input) or a shift cannot be adjusted.
    IntModel at_depth(int bit_depth) const;
};

// FNV-1a 64 of the bytes, folded to 16 bits (Python twin: cnn_filter.quantize.content_hash).
uint16_t content_hash(const uint8_t* data, size_t size);

}  // namespace hmcnn
