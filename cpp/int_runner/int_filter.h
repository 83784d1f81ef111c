// The integer CNN loop filter as a native filter (the C ABI): one integer model per
// trained QP (the nearest runs; its index and, on I pictures, the model file's content
// hash travel in the side information), the shared D + lambda * R block policy, the
// integer network on stripes and threads. No libtorch, no Python, the same bits on every
// machine.
#pragma once
#include <string>
#include <vector>

#include "filters/block_policy.h"
#include "inloop_filter.h"
#include "int_runner/int_model.h"
#include "int_runner/int_network.h"

namespace hmcnn {

struct IntFilterOptions {
    std::vector<int> qps;            // ascending
    std::vector<std::string> paths;  // .hmq file of each QP
    IntRunSettings run;              // kernel, threads, stripe height
    int log2_block = 6;
    bool rdo = true;
    double min_gain = kDefaultMinGain;  // least relative gain that switches a picture on
};

class IntFilter {
public:
    explicit IntFilter(const IntFilterOptions& options);  // throws std::invalid_argument
    const hmcnn_filter* table() const { return &table_; }

    // Nearest trained QP (ties: the lower); Python twin: cnn_filter.zoo.nearest_index.
    int select_model(int qp) const;
    const std::vector<int>& qps() const { return opt_.qps; }
    const IntModel& model(int index) const { return models_.at(index); }
    std::vector<uint8_t> filter_plane(int index, const uint8_t* y, std::ptrdiff_t stride, int width, int height,
                                      const IntRunSettings& settings) const;

    int encode_picture(const hmcnn_picture* pic, uint8_t* side_info, size_t capacity, size_t* size);
    int decode_picture(const hmcnn_picture* pic, const uint8_t* side_info, size_t size);
    const char* last_error();

private:
    IntFilterOptions opt_;
    std::vector<IntModel> models_;
    hmcnn_filter table_;
};

}  // namespace hmcnn
