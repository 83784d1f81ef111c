// The integer CNN loop filter's runner: one integer model per trained QP (and inter
// models for P and B pictures: PictureModels::select_model; on I pictures the model
// files' content hash travels in the side information),
// the integer network on stripes and threads. No libtorch, no Python, the same bits on
// every machine. The C ABI side is the one BlockSwitchedFilter
// (filters/block_switched_filter.h); make_int_filter builds it.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "filters/block_switched_filter.h"
#include "inloop_filter.h"
#include "int_runner/int_model.h"
#include "int_runner/int_network.h"

namespace hmcnn {

struct IntFilterOptions {
    std::vector<int> qps;            // ascending
    std::vector<std::string> paths;  // .hmq file of each QP
    std::vector<int> inter;          // per model: 1 = serves P and B pictures (select_model_index); may be empty
    IntRunSettings run;              // kernel, threads, stripe height
    BlockSwitchOptions blocks;       // the block switching (log2_block, rdo, min_gain)
};

class IntModels : public PictureModels {
public:
    explicit IntModels(const IntFilterOptions& options);  // throws std::invalid_argument

    const char* name() const override { return "integer CNN filter"; }
    bool yuv() const override { return false; }
    void check_picture(const hmcnn_picture* pic) const override;
    FilteredPlanes filter_picture(int index, const hmcnn_picture* pic) const override;
    bool content_hash(int index, int* hash) const override;

    const IntRunSettings& run_settings() const { return opt_.run; }
    const IntModel& model(int index) const { return models_.at(index); }
    std::vector<uint8_t> filter_plane(int index, const uint8_t* y, std::ptrdiff_t stride, int width, int height,
                                      const IntRunSettings& settings) const;
    // The same on a 9..12-bit plane (the models prepared for that depth on first use:
    // IntModel::at_depth; std::invalid_argument, naming the layer, where one could overflow).
    std::vector<uint16_t> filter_plane(int index, const uint16_t* y, int bit_depth, std::ptrdiff_t stride, int width,
                                       int height, const IntRunSettings& settings) const;

private:
    const std::vector<IntModel>& at_depth(int bit_depth) const;

    IntFilterOptions opt_;
    std::vector<IntModel> models_;
    mutable std::mutex deeper_lock_;
    mutable std::map<int, std::vector<IntModel>> deeper_;  // per bit depth above 8 (nodes never move)
};

// The integer runner behind the C ABI.
std::unique_ptr<BlockSwitchedFilter> make_int_filter(const IntFilterOptions& options);

}  // namespace hmcnn
