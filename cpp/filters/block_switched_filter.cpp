#include "filters/block_switched_filter.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "filters/block_map.h"
#include "filters/filter_table.h"

namespace hmcnn {
namespace {

thread_local std::string g_last_error;

std::string hex(int v) {
    char b[8];
    std::snprintf(b, sizeof(b), "%04x", v);
    return b;
}

// SSE of a packed plane against a strided one.
template <class Sample>
uint64_t plane_sse(const std::vector<Sample>& a, int width, const void* b, ptrdiff_t stride, int w, int h) {
    return block_sse(a.data(), width, (const Sample*)b, stride, 0, 0, w, h);
}

// Both chroma planes, unfiltered and filtered, against the source (chroma is switched whole).
template <class Sample>
ChromaCosts chroma_costs(const hmcnn_picture* pic, const std::vector<Sample>& fu, const std::vector<Sample>& fv) {
    const int cw = pic->width / 2, ch = pic->height / 2;
    ChromaCosts c;
    for (int p = 0; p < 2; p++) {
        std::vector<Sample> unfiltered((size_t)cw * ch);
        for (int r = 0; r < ch; r++)
            std::memcpy(&unfiltered[(size_t)r * cw], (const Sample*)pic->plane[1 + p] + r * pic->stride[1 + p],
                        cw * sizeof(Sample));
        c.unfiltered[p] = plane_sse(unfiltered, cw, pic->orig[1 + p], pic->orig_stride[1 + p], cw, ch);
        c.filtered[p] = plane_sse(p ? fv : fu, cw, pic->orig[1 + p], pic->orig_stride[1 + p], cw, ch);
    }
    return c;
}

template <class Sample>
BlockCosts luma_costs(const BlockMap& map, const hmcnn_picture* pic, const std::vector<Sample>& fy) {
    return measure_blocks(map, (const Sample*)pic->plane[0], pic->stride[0], fy.data(), pic->width,
                          (const Sample*)pic->orig[0], pic->orig_stride[0], pic->width, pic->height);
}

void apply(const hmcnn_picture* pic, const FilteredPlanes& f, const BlockMap& map) {
    if (pic->bit_depth > 8)
        apply_block_map(pic, f.y16, f.u16, f.v16, map);
    else
        apply_block_map(pic, f.y, f.u, f.v, map);
}

// The models of one kind (inter or not), nearest in QP first (ties: the lower QP).
std::vector<int> nearest_models(const std::vector<int>& qps, const std::vector<int>& inter, int qp, bool want_inter) {
    std::vector<int> out;
    for (size_t i = 0; i < qps.size(); i++)
        if ((i < inter.size() && inter[i] != 0) == want_inter) out.push_back((int)i);
    std::stable_sort(out.begin(), out.end(), [&](int a, int b) {
        int da = std::abs(qps[a] - qp), db = std::abs(qps[b] - qp);
        return da != db ? da < db : qps[a] < qps[b];
    });
    return out;
}

bool has_inter(const std::vector<int>& inter) {
    return std::any_of(inter.begin(), inter.end(), [](int f) { return f != 0; });
}

}  // namespace

int select_model_index(const std::vector<int>& qps, const std::vector<int>& inter, int qp, int slice_type) {
    std::vector<int> kind = nearest_models(qps, inter, qp, slice_type != HMCNN_SLICE_I && has_inter(inter));
    return kind.empty() ? 0 : kind[0];
}

std::vector<int> candidate_models(const std::vector<int>& qps, const std::vector<int>& inter, int qp, int slice_type,
                                  int search) {
    const bool inter_picture = slice_type != HMCNN_SLICE_I && has_inter(inter);
    std::vector<int> out = nearest_models(qps, inter, qp, inter_picture);
    out.resize(std::min(out.size(), (size_t)search));
    if (inter_picture) {  // the intra models too: on some P/B pictures they gain more
        std::vector<int> intra = nearest_models(qps, inter, qp, false);
        out.insert(out.end(), intra.begin(), intra.begin() + std::min(intra.size(), (size_t)search));
    }
    return out;
}

PictureModels::PictureModels(const std::vector<int>& qps, size_t files, const std::vector<int>& inter)
    : qps_(qps), inter_(inter) {
    if (qps.empty() || qps.size() != files) throw std::invalid_argument("need one model file per QP, and at least one");
    if (qps.size() > 256) throw std::invalid_argument("at most 256 models");
    if (!inter.empty() && inter.size() != qps.size())
        throw std::invalid_argument("inter: one flag per model, or none");
    for (int group = 0; group < 2; group++) {
        int last = -1, n = 0;
        for (size_t i = 0; i < qps.size(); i++) {
            if ((i < inter.size() && inter[i] != 0) != (group == 1)) continue;
            if (qps[i] <= last) throw std::invalid_argument("model QPs must be ascending (intra and inter models each)");
            last = qps[i];
            n++;
        }
        if (group == 0 && n == 0) throw std::invalid_argument("no model serves the I pictures (all are inter models)");
    }
}

namespace {

// The content hash an I picture carries: its model's, folded with every inter model's (a
// decoder starting there needs those for the P and B pictures that follow); false where
// the runner's models have none. A set without inter models sends its model's hash as is.
bool picture_hash(const PictureModels& m, int model, int* hash) {
    if (!m.content_hash(model, hash)) return false;
    for (int i = 0; i < m.count(); i++) {
        int h = 0;
        if (m.is_inter(i) && m.content_hash(i, &h)) *hash = (((*hash << 5) | (*hash >> 11)) & 0xffff) ^ h;
    }
    return true;
}

}  // namespace

BlockSwitchedFilter::BlockSwitchedFilter(std::unique_ptr<PictureModels> models, const BlockSwitchOptions& options)
    : models_(std::move(models)), opt_(options), table_(make_filter_table(this)) {
    if (!models_ || models_->count() < 1) throw std::invalid_argument("no models to filter with");
    if (opt_.log2_block < 3 || opt_.log2_block > 8) throw std::invalid_argument("log2_block must be in 3..8");
    if (!(opt_.min_gain >= 0)) throw std::invalid_argument("min_gain must be >= 0");
    if (opt_.search < 1 || opt_.search > 8) throw std::invalid_argument("search must be in 1..8");
    if (opt_.block_sizes < 1 || opt_.log2_block - opt_.block_sizes + 1 < 3)
        throw std::invalid_argument("block_sizes must be in 1..log2_block - 2 (the smallest block is 8x8)");
}

const char* BlockSwitchedFilter::last_error() { return g_last_error.c_str(); }

int BlockSwitchedFilter::encode_picture(const hmcnn_picture* pic, uint8_t* side_info, size_t capacity, size_t* size) {
    *size = 0;
    try {
        const PictureModels& m = *models_;
        m.check_picture(pic);
        const bool deep = pic->bit_depth > 8;
        const double lambda = hm_lambda_at_depth(pic->slice_qp, pic->slice_type, pic->bit_depth);
        struct Choice {
            FilteredPlanes f;
            BlockMap map;
            double cost = 0;
        };
        auto try_model = [&](int model) {  // filter, measure, decide: the picture's cost with `model`
            Choice c{m.filter_picture(model, pic), {}};
            for (int k = 0; k < opt_.block_sizes; k++) {  // each block size tried, the cheapest kept
                BlockMap map = make_block_map(pic->width, pic->height, opt_.log2_block - k, model);
                BlockCosts costs = deep ? luma_costs(map, pic, c.f.y16) : luma_costs(map, pic, c.f.y);
                double cost = decide_blocks(costs, lambda, opt_.rdo, &map, opt_.min_gain);
                if (k == 0 || cost < c.cost) c.map = std::move(map), c.cost = cost;
            }
            return c;
        };
        // The candidates (candidate_models; without rdo only the first) are tried and the
        // cheapest kept (the model's index travels in the side information, so the decoder
        // runs only the chosen one): with inter models a P or B picture never costs more, in
        // its own D + lambda * R, than the intra models alone would make it.
        const std::vector<int> tried = m.candidates(pic->slice_qp, pic->slice_type, opt_.rdo ? opt_.search : 1);
        Choice best = try_model(tried[0]);
        for (size_t i = 1; i < tried.size(); i++) {
            Choice other = try_model(tried[i]);
            if (other.cost < best.cost) best = std::move(other);
        }
        FilteredPlanes& f = best.f;
        BlockMap& map = best.map;
        const int model = map.info.model_id;
        if (m.yuv())
            decide_chroma(deep ? chroma_costs(pic, f.u16, f.v16) : chroma_costs(pic, f.u, f.v), lambda, opt_.rdo, &map);
        if (!map.info.frame_on && !map.info.cb_on && !map.info.cr_on) return 0;  // nothing filtered, nothing sent
        int hash = 0;
        if (pic->slice_type == HMCNN_SLICE_I && picture_hash(m, model, &hash)) {
            map.info.has_hash = 1;  // a decoder starting here learns which model it needs
            map.info.model_hash = hash;
        }
        *size = write_block_map(map, side_info, capacity);
        if (!*size) throw std::runtime_error(std::string(m.name()) + ": side information does not fit");
        apply(pic, f, map);
        return 0;
    } catch (const std::exception& e) {
        g_last_error = e.what();
        return -1;
    }
}

int BlockSwitchedFilter::decode_picture(const hmcnn_picture* pic, const uint8_t* side_info, size_t size) {
    try {
        const PictureModels& m = *models_;
        BlockMap map;
        const int expected = m.select_model(pic->slice_qp, pic->slice_type);  // what a post-filter runs
        if (!decoder_block_map(pic, side_info, size, opt_.log2_block, expected, m.yuv(), &map, m.name()))
            return 0;  // nothing was filtered
        m.check_picture(pic);
        check_model_id(map, (size_t)m.count(), m.name());
        if ((map.info.cb_on || map.info.cr_on) && !m.yuv())
            throw std::runtime_error(std::string(m.name()) +
                                     ": the stream filters chroma, the loaded models are luma only");
        int hash = 0;
        if (map.info.has_hash && picture_hash(m, map.info.model_id, &hash) && hash != map.info.model_hash)
            throw std::runtime_error(std::string(m.name()) + ": the stream was coded with the model of content hash " +
                                     hex(map.info.model_hash) + ", this decoder holds " + hex(hash) + " for model " +
                                     std::to_string(map.info.model_id) + " (and its inter models)" +
                                     ": decode with the encoder's models");
        FilteredPlanes f = m.filter_picture(map.info.model_id, pic);
        apply(pic, f, map);
        return 0;
    } catch (const std::exception& e) {
        g_last_error = e.what();
        return -1;
    }
}

}  // namespace hmcnn
