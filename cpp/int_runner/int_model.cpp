#include "int_runner/int_model.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>

namespace hmcnn {

uint16_t content_hash(const uint8_t* data, size_t size) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 0x100000001B3ull;
    h ^= h >> 32;
    h ^= h >> 16;
    return (uint16_t)(h & 0xFFFF);
}

namespace {

struct Reader {
    const std::vector<uint8_t>& d;
    size_t at = 0;
    std::string path;
    void need(size_t n) {
        if (at + n > d.size()) throw std::invalid_argument(path + " is truncated (not a complete .hmq model)");
    }
    template <class T>
    T get() {
        need(sizeof(T));
        T v;
        std::memcpy(&v, &d[at], sizeof(T));  // little-endian files on little-endian hosts
        at += sizeof(T);
        return v;
    }
};

void transpose_single(IntLayer& l) {
    if (l.cout != 1) return;
    const int taps = l.k * l.k;
    l.transposed.resize((size_t)taps * l.cin);
    for (int ci = 0; ci < l.cin; ci++)
        for (int t = 0; t < taps; t++) l.transposed[(size_t)t * l.cin + ci] = l.weight[(size_t)ci * taps + t];
}

void pack_taps(IntLayer& l) {
    if (l.cin != 1) return;
    const int taps = l.k * l.k, pairs = (taps + 1) / 2;
    l.packed_taps.assign((size_t)l.blocks() * pairs * 16, 0);
    for (int co = 0; co < l.cout; co++)
        for (int t = 0; t < taps; t++)
            l.packed_taps[(((size_t)(co / 8) * pairs + t / 2) * 8 + co % 8) * 2 + t % 2] = l.weight[(size_t)co * taps + t];
}

void pack_avx2(IntLayer& l, int padded_cin) {
    const int taps = l.k * l.k, pairs = padded_cin / 2;
    l.packed.assign((size_t)l.blocks() * taps * pairs * 16, 0);
    for (int co = 0; co < l.cout; co++)
        for (int ci = 0; ci < l.cin; ci++)
            for (int t = 0; t < taps; t++) {
                size_t at = ((((size_t)(co / 8) * taps + t) * pairs + ci / 2) * 8 + co % 8) * 2 + ci % 2;
                l.packed[at] = l.weight[((size_t)co * l.cin + ci) * taps + t];
            }
}

// Winograd F(2x2, 3x3) for one layer, in integers: U = G2 g G2^T per 3x3 piece, with
// G2 = 2G = [[2,0,0],[1,1,1],[1,-1,1],[0,0,2]]; a tile's sums then come out 4x the direct
// ones. A 5x5's pieces form two row groups (kernel rows 0-2 and 3-4), each summed and
// divided by 4 on its own. Qualifies only when every step is exact: input values in
// [0, a_max] (the source tensor is the samples or written by ReLU layers only), the
// transformed inputs (at most 4 a_max) and weights fit int16, and every output channel's
// sum S over each group satisfies |S| < 2^29 (non-negative inputs: |S| <= a_max times the
// larger of the positive and the negative weights' sums), so 4S fits int32 and the
// wrapping int32 adds in between cannot change it.
void prepare_winograd(IntLayer& l, const IntModel& m) {
    // the kernel's shape: 16-channel input chunks, pairs of 8-channel output blocks
    if ((l.k != 3 && l.k != 5) || l.dst < 0 || l.cout % 16 || m.tensors[l.src].padded % 16) return;
    for (const IntLayer& p : m.layers)
        if (p.dst == l.src && !p.relu) return;  // the source may hold negative values
    const int64_t a_max = l.src == 0 ? (1 << m.input_bits) - 1 : (1 << m.tensors[l.src].bits) - 1;
    if (4 * a_max > 32767) return;
    const int taps = l.k * l.k, groups = l.k == 3 ? 1 : 2;
    for (int co = 0; co < l.cout; co++)
        for (int g = 0; g < groups; g++) {
            int64_t pos = 0, neg = 0;
            for (int ci = 0; ci < l.cin; ci++)
                for (int t = 0; t < taps; t++) {
                    int ky = t / l.k;
                    if (groups == 2 && (ky >= 3) != (g == 1)) continue;
                    int w = l.weight[((size_t)co * l.cin + ci) * taps + t];
                    (w > 0 ? pos : neg) += std::abs(w);
                }
            if (std::max(pos, neg) * a_max >= (int64_t)1 << 29) return;
        }
    static const int G2[4][3] = {{2, 0, 0}, {1, 1, 1}, {1, -1, 1}, {0, 0, 2}};
    const int pieces = l.k == 3 ? 1 : 4, pairs = m.tensors[l.src].padded / 2, blocks = l.blocks();
    std::vector<int16_t> u((size_t)pieces * 16 * blocks * pairs * 16, 0);
    for (int piece = 0; piece < pieces; piece++)
        for (int co = 0; co < l.cout; co++)
            for (int ci = 0; ci < l.cin; ci++) {
                int g[3][3];  // the piece's 3x3 kernel; a 5x5's second row/column piece starts at 2
                for (int i = 0; i < 3; i++)
                    for (int j = 0; j < 3; j++) {
                        int ky = i + 2 * (piece / 2), kx = j + 2 * (piece % 2);
                        bool shared = (piece / 2 && i == 0) || (piece % 2 && j == 0);  // counted by piece 0
                        g[i][j] = shared ? 0 : l.weight[((size_t)co * l.cin + ci) * taps + ky * l.k + kx];
                    }
                for (int a = 0; a < 4; a++)
                    for (int b = 0; b < 4; b++) {
                        int64_t v = 0;
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++) v += (int64_t)G2[a][i] * g[i][j] * G2[b][j];
                        if (v > 32767 || v < -32767) return;
                        size_t at = (((((size_t)piece * 16 + a * 4 + b) * blocks + co / 8) * pairs + ci / 2) * 8 + co % 8) * 2 +
                                    ci % 2;
                        u[at] = (int16_t)v;
                    }
            }
    l.wino_u = std::move(u);
    l.wino_pieces = pieces;
}

}  // namespace

IntModel IntModel::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::invalid_argument("cannot read integer model " + path);
    std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Reader r{data, 0, path};
    r.need(4);
    if (std::memcmp(&data[0], "HMCQ", 4)) throw std::invalid_argument(path + " is not an hm-cnn-loop integer model");
    r.at = 4;
    if (r.get<uint16_t>() != 1) throw std::invalid_argument(path + ": unsupported .hmq version");
    int nt = r.get<uint16_t>(), nl = r.get<uint16_t>();
    IntModel m;
    for (int i = 0; i < nt; i++) {
        IntTensor t;
        t.channels = r.get<uint16_t>();
        t.frac = r.get<int8_t>();
        t.bits = r.get<uint8_t>();
        t.padded = (t.channels + 1) / 2 * 2;
        if (t.channels < 1 || t.bits < 1 || t.bits > 15) throw std::invalid_argument(path + ": bad tensor");
        m.tensors.push_back(t);
    }
    std::map<int, int> radius_from;  // per source tensor: its consumers' widest kernel radius
    for (int i = 0; i < nl; i++) {
        IntLayer l;
        l.src = r.get<int16_t>();
        l.dst = r.get<int16_t>();
        l.dst_offset = r.get<uint16_t>();
        l.cin = r.get<uint16_t>();
        l.cout = r.get<uint16_t>();
        l.k = r.get<uint16_t>();
        l.relu = r.get<uint8_t>() != 0;
        l.shift = r.get<int8_t>();
        r.get<uint8_t>();
        int n = r.get<uint8_t>();
        r.need(n);
        l.name.assign((const char*)&data[r.at], n);
        r.at += n;
        size_t nw = (size_t)l.cout * l.cin * l.k * l.k;
        r.need(nw * 2 + (size_t)l.cout * 4);
        l.weight.resize(nw);
        std::memcpy(l.weight.data(), &data[r.at], nw * 2);
        r.at += nw * 2;
        l.bias.resize(l.cout);
        std::memcpy(l.bias.data(), &data[r.at], (size_t)l.cout * 4);
        r.at += (size_t)l.cout * 4;
        if (l.src < 0 || l.src >= nt || l.dst >= nt || l.cin != m.tensors[l.src].channels || l.k % 2 == 0 || l.k > 9 ||
            l.shift < 0 || l.shift > 30 || (l.dst >= 0 && l.dst_offset + l.cout > m.tensors[l.dst].channels) ||
            (l.dst < 0 && l.cout != 1))
            throw std::invalid_argument(path + ": layer " + l.name + " does not fit the graph");
        pack_avx2(l, m.tensors[l.src].padded);
        transpose_single(l);
        pack_taps(l);
        radius_from[l.src] = std::max(radius_from[l.src], l.k / 2);
        m.layers.push_back(std::move(l));
    }
    if (r.at != data.size()) throw std::invalid_argument(path + " has trailing bytes");
    if (m.layers.empty() || m.layers.back().dst != -1) throw std::invalid_argument(path + ": no output layer");
    for (IntLayer& l : m.layers) prepare_winograd(l, m);
    for (auto& kv : radius_from) m.radius += kv.second;
    m.hash = content_hash(data.data(), data.size());
    return m;
}

IntModel IntModel::at_depth(int bit_depth) const {
    if (bit_depth == input_bits) return *this;
    if (input_bits != 8 || bit_depth < 8 || bit_depth > 12)
        throw std::invalid_argument("integer models run on pictures of 8 to 12 bits, not " + std::to_string(bit_depth));
    const int d = bit_depth - 8;
    const int64_t a_max = (1 << bit_depth) - 1, limit = (int64_t)1 << 31;
    IntModel m = *this;
    m.input_bits = bit_depth;
    for (IntLayer& l : m.layers) {
        if (l.src == 0) {  // reads the samples: 2^d times larger
            l.shift += d;
            if (l.shift > 30) throw std::invalid_argument("layer " + l.name + ": no shift for " + std::to_string(bit_depth) +
                                                          "-bit samples");
            const int taps = l.k * l.k;
            for (int co = 0; co < l.cout; co++) {
                int64_t bias = (int64_t)l.bias[co] << d, pos = 0, neg = 0;
                for (int i = 0; i < l.cin * taps; i++) {
                    int w = l.weight[(size_t)co * l.cin * taps + i];
                    (w > 0 ? pos : neg) += std::abs(w);
                }
                const int64_t half = l.shift ? (int64_t)1 << (l.shift - 1) : 0;
                if (bias + a_max * pos + half >= limit || bias - a_max * neg < -limit)
                    throw std::invalid_argument("layer " + l.name + " could overflow int32 on " + std::to_string(bit_depth) +
                                                "-bit samples: this integer model cannot run at that depth");
                l.bias[co] = (int32_t)bias;
            }
        }
        if (l.dst < 0) {  // the residual, in units of the depth
            if (l.shift < d)
                throw std::invalid_argument("layer " + l.name + ": its shift cannot give the residual at " +
                                            std::to_string(bit_depth) + " bits");
            l.shift -= d;
            l.sample_bits = bit_depth;
        }
        l.wino_u.clear();
        l.wino_pieces = 0;
    }
    for (IntLayer& l : m.layers) prepare_winograd(l, m);  // qualifies (or not) for the wider input
    return m;
}

}  // namespace hmcnn
