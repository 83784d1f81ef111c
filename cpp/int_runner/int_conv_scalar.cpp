// The integer runner's scalar reference kernel: the arithmetic every other kernel must
// reproduce bit for bit.
#include "int_runner/int_kernels.h"

namespace hmcnn {
namespace intk {

void conv_row_scalar(const IntLayer& l, const Buffer& in, int y, int x0, int x1, Buffer* out, int out_bits,
                     const void* samples, void* result) {
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
                put_residual(l, samples, result, x, v);
        }
}

}  // namespace intk
}  // namespace hmcnn
