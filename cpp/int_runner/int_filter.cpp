#include "int_runner/int_filter.h"

#include <cstdlib>
#include <stdexcept>

namespace hmcnn {

IntModels::IntModels(const IntFilterOptions& o) : PictureModels(o.qps, o.paths.size(), o.inter), opt_(o) {
    if (o.run.threads < 1 || o.run.stripe < 0)
        throw std::invalid_argument("threads must be positive, stripe non-negative (0: auto)");
    for (const std::string& p : o.paths) models_.push_back(IntModel::load(p));
}


void IntModels::check_picture(const hmcnn_picture* pic) const {
    if (pic->bit_depth < 8 || pic->bit_depth > 12)
        throw std::runtime_error("integer CNN filter: pictures of 8 to 12 bits only");
    if (pic->bit_depth > 8) {
        try {
            at_depth(pic->bit_depth);  // refused before anything is filtered, never wrapped
        } catch (const std::invalid_argument& e) {
            throw std::runtime_error(std::string("integer CNN filter: ") + e.what());
        }
    }
}

const std::vector<IntModel>& IntModels::at_depth(int bit_depth) const {
    std::lock_guard<std::mutex> hold(deeper_lock_);
    auto found = deeper_.find(bit_depth);
    if (found != deeper_.end()) return found->second;
    std::vector<IntModel> made;
    for (const IntModel& m : models_) made.push_back(m.at_depth(bit_depth));
    return deeper_.emplace(bit_depth, std::move(made)).first->second;
}

std::vector<uint8_t> IntModels::filter_plane(int index, const uint8_t* y, std::ptrdiff_t stride, int width, int height,
                                             const IntRunSettings& settings) const {
    return run_int_model(models_.at(index), y, stride, width, height, settings);
}

std::vector<uint16_t> IntModels::filter_plane(int index, const uint16_t* y, int bit_depth, std::ptrdiff_t stride,
                                              int width, int height, const IntRunSettings& settings) const {
    return run_int_model(at_depth(bit_depth).at(index), y, stride, width, height, settings);
}

FilteredPlanes IntModels::filter_picture(int index, const hmcnn_picture* pic) const {
    FilteredPlanes out;  // luma models: chroma untouched
    if (pic->bit_depth > 8)
        out.y16 = filter_plane(index, (const uint16_t*)pic->plane[0], pic->bit_depth, pic->stride[0], pic->width,
                               pic->height, opt_.run);
    else
        out.y = filter_plane(index, (const uint8_t*)pic->plane[0], pic->stride[0], pic->width, pic->height, opt_.run);
    return out;
}

bool IntModels::content_hash(int index, int* hash) const {
    *hash = models_.at(index).hash;
    return true;
}

std::unique_ptr<BlockSwitchedFilter> make_int_filter(const IntFilterOptions& options) {
    return std::make_unique<BlockSwitchedFilter>(std::make_unique<IntModels>(options), options.blocks);
}

}  // namespace hmcnn
