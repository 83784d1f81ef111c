// The one block on/off policy of our native filters (smoothing, libtorch CNN, ...): the
// encoder keeps, per block of the side-information map, the filtered or the unfiltered
// samples, and chooses between "frame off" (nothing sent), "every block on" and "a block
// map" by D + lambda * R, with D the luma SSE against the source and R the bits of the
// side-information NAL unit as it would be written (inloop_side_info.h). The decoder only
// follows the map.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "filters/block_map.h"
#include "inloop_filter.h"

namespace hmcnn {

// Bytes the side-information NAL unit costs on top of its payload (inloop_filter.h).
constexpr int kNalOverheadBytes = HMCNN_SIDE_INFO_NAL_OVERHEAD;

// The CNN filters' default min_gain (see decide_blocks): a picture is filtered only when
// its best block choice beats "all off" by 1 % of its distortion. Chosen by the quick and
// builtin sweeps of docs/results.md (0 loses on smooth content in LDP: bikes +2.1 %;
// 0.03 gives up bikes' RA gain); 0 = the plain D + lambda * R choice.
constexpr double kDefaultMinGain = 0.01;

// The CNN filters' default block_sizes (BlockSwitchOptions): the encoder tries the map's
// block size and its half (64x64 and 32x32 by default) and sends the cheaper. Chosen by
// the builtin and quick sweeps of docs/results.md ("Side-information layout 2"): builtin
// RA -2.35 -> -2.54 %, LDP -2.32 -> -2.59 %, no sequence above 0.00 %.
constexpr int kDefaultBlockSizes = 2;


// HM's lambda for an 8-bit SSE cost at a picture's slice QP, as HM >= 16.14 computes it
// (LambdaFromQpEnable, TEncSlice::calculateLambda): 0.57 * 2^((QP - 12) / 3) for every
// slice type, x 0.95 for inter slices (Hadamard motion estimation). The picture's layer
// enters through its QP (the cascade's per-layer offsets).
inline double hm_lambda(int qp, int slice_type = 2) {
    return 0.57 * std::pow(2.0, (qp - 12) / 3.0) * (slice_type == 2 ? 1.0 : 0.95);
}

// HM's RDO compares distortion scaled to 8 bits with the 8-bit lambda (distortion >>
// 2 * (bit depth - 8), DISTORTION_PRECISION_ADJUSTMENT): the same, for our SSEs, as the
// lambda times 4^(bit depth - 8).
inline double hm_lambda_at_depth(int qp, int slice_type, int bit_depth) {
    return hm_lambda(qp, slice_type) * (double)(1ull << (2 * (bit_depth - 8)));
}

// Names the policy of this file (sweeps key their jobs on it: a changed rule reruns them).
inline std::string block_policy_id() {
    char min_gain[32];
    std::snprintf(min_gain, sizeof min_gain, "%g", kDefaultMinGain);
    return std::string("hm-lambda-x0.95-inter;min_gain=") + min_gain + ";block_sizes=" +
           std::to_string(kDefaultBlockSizes);
}

// Sum of squared differences of two planes over [x0, x1) x [y0, y1).
template <class A, class B>
uint64_t block_sse(const A* a, ptrdiff_t sa, const B* b, ptrdiff_t sb, int x0, int y0, int x1, int y1) {
    uint64_t sse = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            int64_t d = (int64_t)a[y * sa + x] - (int64_t)b[y * sb + x];
            sse += (uint64_t)(d * d);
        }
    return sse;
}

struct BlockCosts {
    std::vector<uint64_t> unfiltered, filtered;  // per block: SSE against the source
};

// Per-block SSE of the unfiltered and the filtered plane against the source.
template <class Sample>
BlockCosts measure_blocks(const BlockMap& map, const Sample* rec, ptrdiff_t rec_stride, const Sample* filtered,
                          ptrdiff_t filtered_stride, const Sample* orig, ptrdiff_t orig_stride, int width,
                          int height) {
    BlockCosts c;
    int s = map.block_size();
    for (int by = 0; by < map.info.blocks_y; by++)
        for (int bx = 0; bx < map.info.blocks_x; bx++) {
            int x0 = bx * s, y0 = by * s, x1 = std::min(x0 + s, width), y1 = std::min(y0 + s, height);
            c.unfiltered.push_back(block_sse(rec, rec_stride, orig, orig_stride, x0, y0, x1, y1));
            c.filtered.push_back(block_sse(filtered, filtered_stride, orig, orig_stride, x0, y0, x1, y1));
        }
    return c;
}

// Fills map.on / map.info.frame_on by D + lambda * R and returns the chosen cost
// (rdo == false: every block on, and 0). 
// min_gain > 0: the picture stays unfiltered unless the best choice lowers the cost by
// at least that fraction of its unfiltered SSE. Small gains are not worth the change:
// in inter coding any change to a reference perturbs the encoder's later decisions, and
// by more than a marginal gain (docs/results.md, "Decisions in RA and LD: min_gain").
inline double decide_blocks(const BlockCosts& costs, double lambda, bool rdo, BlockMap* map, double min_gain = 0.0) {
    size_t n = map->on.size();
    map->info.frame_on = 1;
    std::fill(map->on.begin(), map->on.end(), 1);
    if (!rdo) return 0.0;
    uint64_t d_off = 0, d_all = 0, d_map = 0;
    for (size_t i = 0; i < n; i++) {
        d_off += costs.unfiltered[i];
        d_all += costs.filtered[i];
        d_map += std::min(costs.unfiltered[i], costs.filtered[i]);
    }
    const double per_byte = lambda * 8;
    double j_off = (double)d_off;
    double j_all = (double)d_all + per_byte * (double)(kNalOverheadBytes + block_map_bytes(*map));
    for (size_t i = 0; i < n; i++) map->on[i] = costs.filtered[i] < costs.unfiltered[i];
    double j_map = (double)d_map + per_byte * (double)(kNalOverheadBytes + block_map_bytes(*map));
    if (j_off - min_gain * (double)d_off <= std::min(j_all, j_map)) {
        map->info.frame_on = 0;  // nothing is sent
        return j_off;
    }
    if (j_map < j_all) return j_map;
    std::fill(map->on.begin(), map->on.end(), 1);
    return j_all;
}

struct ChromaCosts {
    uint64_t unfiltered[2] = {0, 0}, filtered[2] = {0, 0};  // Cb, Cr: whole-plane SSE against the source
};

// Sets map.info.cb_on / cr_on for filters of all three planes (call after decide_blocks):
// a plane is on when filtering lowers its SSE. The flags cost nothing when the side
// information is sent for luma anyway; otherwise their gain must pay for it.
inline void decide_chroma(const ChromaCosts& c, double lambda, bool rdo, BlockMap* map) {
    int* on[2] = {&map->info.cb_on, &map->info.cr_on};
    double gain = 0;
    for (int p = 0; p < 2; p++) {
        *on[p] = !rdo || c.filtered[p] < c.unfiltered[p];
        if (*on[p]) gain += (double)c.unfiltered[p] - (double)c.filtered[p];
    }
    if (rdo && !map->info.frame_on && gain <= lambda * 8 * (double)(kNalOverheadBytes + block_map_bytes(*map)))
        *on[0] = *on[1] = 0;
}

}  // namespace hmcnn
