#include "int_runner/int_filter.h"

#include <cstdlib>
#include <stdexcept>

namespace hmcnn {

IntModels::IntModels(const IntFilterOptions& o) : opt_(o) {
    if (o.qps.empty() || o.qps.size() != o.paths.size()) throw std::invalid_argument("need one model file per QP");
    if (o.run.threads < 1 || o.run.stripe < 0)
        throw std::invalid_argument("threads must be positive, stripe non-negative (0: auto)");
    for (const std::string& p : o.paths) models_.push_back(IntModel::load(p));
}

int IntModels::select_model(int qp) const { return nearest_qp_index(opt_.qps, qp); }

void IntModels::check_picture(const hmcnn_picture* pic) const {
    if (pic->bit_depth != 8) throw std::runtime_error("integer CNN filter: 8-bit pictures only");
}

std::vector<uint8_t> IntModels::filter_plane(int index, const uint8_t* y, std::ptrdiff_t stride, int width, int height,
                                             const IntRunSettings& settings) const {
    return run_int_model(models_.at(index), y, stride, width, height, settings);
}

FilteredPlanes IntModels::filter_picture(int index, const hmcnn_picture* pic) const {
    FilteredPlanes out;  // luma models: chroma untouched
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
