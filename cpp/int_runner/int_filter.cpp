#include "int_runner/int_filter.h"

#include <cstdio>
#include <stdexcept>

#include "filters/block_policy.h"
#include "filters/filter_table.h"

namespace hmcnn {
namespace {

thread_local std::string g_last_error;

std::string hex(int v) {
    char b[8];
    std::snprintf(b, sizeof(b), "%04x", v);
    return b;
}

}  // namespace

IntFilter::IntFilter(const IntFilterOptions& o) : opt_(o), table_(make_filter_table(this)) {
    if (o.qps.empty() || o.qps.size() != o.paths.size()) throw std::invalid_argument("need one model file per QP");
    if (o.log2_block < 3 || o.log2_block > 8) throw std::invalid_argument("log2_block must be in 3..8");
    for (const std::string& p : o.paths) models_.push_back(IntModel::load(p));
}

int IntFilter::select_model(int qp) const {
    int best = 0;
    for (int i = 1; i < (int)opt_.qps.size(); i++)
        if (std::abs(opt_.qps[i] - qp) < std::abs(opt_.qps[best] - qp)) best = i;
    return best;
}

std::vector<uint8_t> IntFilter::filter_plane(int index, const uint8_t* y, std::ptrdiff_t stride, int width, int height,
                                             const IntRunSettings& settings) const {
    return run_int_model(models_.at(index), y, stride, width, height, settings);
}

const char* IntFilter::last_error() { return g_last_error.c_str(); }

int IntFilter::encode_picture(const hmcnn_picture* pic, uint8_t* side_info, size_t capacity, size_t* size) {
    *size = 0;
    try {
        if (pic->bit_depth != 8) throw std::runtime_error("integer CNN filter: 8-bit pictures only");
        const int w = pic->width, h = pic->height, model = select_model(pic->slice_qp);
        const uint8_t* rec = (const uint8_t*)pic->plane[0];
        std::vector<uint8_t> filtered = filter_plane(model, rec, pic->stride[0], w, h, opt_.run);
        BlockMap map = make_block_map(w, h, opt_.log2_block, model);
        BlockCosts costs = measure_blocks(map, rec, pic->stride[0], filtered.data(), w, (const uint8_t*)pic->orig[0],
                                          pic->orig_stride[0], w, h);
        decide_blocks(costs, hm_lambda(pic->slice_qp, pic->slice_type), opt_.rdo, &map, opt_.min_gain);
        if (!map.info.frame_on) return 0;
        if (pic->slice_type == HMCNN_SLICE_I) {  // a decoder starting here learns which model it needs
            map.info.has_hash = 1;
            map.info.model_hash = models_[model].hash;
        }
        *size = write_block_map(map, side_info, capacity);
        if (!*size) throw std::runtime_error("integer CNN filter: side information does not fit");
        copy_on_blocks((uint8_t*)pic->plane[0], pic->stride[0], filtered, w, h, map);
        return 0;
    } catch (const std::exception& e) {
        g_last_error = e.what();
        return -1;
    }
}

int IntFilter::decode_picture(const hmcnn_picture* pic, const uint8_t* side_info, size_t size) {
    try {
        const int w = pic->width, h = pic->height;
        BlockMap map;  // luma only: the chroma flags stay off
        if (!decoder_block_map(pic, side_info, size, opt_.log2_block, select_model(pic->slice_qp), false, &map,
                               "integer CNN filter"))
            return 0;
        if (pic->bit_depth != 8) throw std::runtime_error("integer CNN filter: 8-bit pictures only");
        if (!map.info.frame_on) return 0;
        check_model_id(map, models_.size(), "integer CNN filter");
        if (map.info.has_hash && map.info.model_hash != models_[map.info.model_id].hash)
            throw std::runtime_error("integer CNN filter: the stream was coded with the model of content hash " +
                                     hex(map.info.model_hash) + ", this decoder holds " +
                                     hex(models_[map.info.model_id].hash) + " for model " +
                                     std::to_string(map.info.model_id) + ": decode with the encoder's models");
        uint8_t* rec = (uint8_t*)pic->plane[0];
        std::vector<uint8_t> filtered = filter_plane(map.info.model_id, rec, pic->stride[0], w, h, opt_.run);
        copy_on_blocks(rec, pic->stride[0], filtered, w, h, map);
        return 0;
    } catch (const std::exception& e) {
        g_last_error = e.what();
        return -1;
    }
}

}  // namespace hmcnn
