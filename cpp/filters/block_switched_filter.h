// The one block-switched CNN filter behind the C ABI. Whichever runner computes the
// filtered picture (libtorch: torch_runner/torch_filter.h; the integer network:
// int_runner/int_filter.h), the codec-facing side is this, written once:
//   encoder: pick the model for the slice QP (and slice type) -> filter -> measure every
//            block against the source -> decide by D + lambda * R (block_policy.h; a P or
//            B picture of a set with inter models tries its intra model too and keeps the
//            cheaper) -> write the block map as side information -> copy the blocks (and
//            chroma planes) that are on;
//   decoder: read the map -> check the model (and its content hash) -> filter -> copy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "filters/block_policy.h"
#include "inloop_filter.h"

namespace hmcnn {

// A picture's planes after a model (packed, width-strided; u/v empty for luma models):
// y, u, v for 8-bit pictures, y16, u16, v16 for 9..16-bit ones.
struct FilteredPlanes {
    std::vector<uint8_t> y, u, v;
    std::vector<uint16_t> y16, u16, v16;
};

// How blocks are switched, the same for every runner.
struct BlockSwitchOptions {
    int log2_block = 6;                 // on/off block size (3..8)
    bool rdo = true;                    // false: every block (and chroma plane) on
    double min_gain = kDefaultMinGain;  // least relative gain that switches a picture on
    int search = 1;  // encoder: models tried per picture, the nearest in QP of each kind (1..8)
    // encoder: block sizes tried per picture, log2_block and the halvings below it (1..log2_block - 2);
    // the cheapest map by D + lambda * R is sent (the side information names its size)
    int block_sizes = kDefaultBlockSizes;
};

// A runner's models as the zoo lists them (common/model_zoo.h): per model its trained QP
// and whether it was trained on inter-coded pictures (`inter`, empty: none was). A P or B
// picture gets the nearest-QP inter model if there is any, every other picture the
// nearest-QP other model (ties: the lower QP). Python twin: cnn_filter.zoo.select_index
// (a test checks both agree for every QP and slice type).
int select_model_index(const std::vector<int>& qps, const std::vector<int>& inter, int qp, int slice_type);

// The models the encoder tries on a picture, best guess first: the `search` models of the
// picture's kind nearest in QP (select_model_index's order: distance, then the lower QP),
// and for a P or B picture of a set with inter models the `search` nearest intra models too.
// The encoder keeps the cheapest by D + lambda * R; the decoder runs the one it is told.
std::vector<int> candidate_models(const std::vector<int>& qps, const std::vector<int>& inter, int qp, int slice_type,
                                  int search);

// What a runner provides: its models, and a picture through one of them. The model list
// (trained QPs, inter flags) and the choice among them are the same for every runner.
class PictureModels {
public:
    // Throws std::invalid_argument unless the lists fit: one file per QP, at most 256
    // models, at least one that serves I pictures, `inter` empty or one flag per model,
    // each group's QPs ascending.
    PictureModels(const std::vector<int>& qps, size_t files, const std::vector<int>& inter);
    virtual ~PictureModels() = default;
    virtual const char* name() const = 0;  // for messages: "CNN filter", "integer CNN filter"
    int count() const { return (int)qps_.size(); }
    const std::vector<int>& qps() const { return qps_; }
    bool is_inter(int index) const { return index < (int)inter_.size() && inter_[index] != 0; }
    // The model for a picture of slice QP `qp` and HEVC `slice_type` (select_model_index).
    int select_model(int qp, int slice_type) const { return select_model_index(qps_, inter_, qp, slice_type); }
    std::vector<int> candidates(int qp, int slice_type, int search) const {
        return candidate_models(qps_, inter_, qp, slice_type, search);
    }
    virtual bool yuv() const = 0;  // filters the chroma planes too
    virtual void check_picture(const hmcnn_picture* pic) const = 0;  // throws std::runtime_error
    virtual FilteredPlanes filter_picture(int index, const hmcnn_picture* pic) const = 0;
    // The model file's content hash (sent on I pictures, so that a decoder can check it
    // holds the encoder's model); false for runners whose models have none.
    virtual bool content_hash(int index, int* hash) const {
        (void)index;
        (void)hash;
        return false;
    }

private:
    std::vector<int> qps_, inter_;
};

class BlockSwitchedFilter {
public:
    // Throws std::invalid_argument on bad options.
    BlockSwitchedFilter(std::unique_ptr<PictureModels> models, const BlockSwitchOptions& options);
    const hmcnn_filter* table() const { return &table_; }
    const PictureModels& models() const { return *models_; }
    const BlockSwitchOptions& options() const { return opt_; }

    int encode_picture(const hmcnn_picture* pic, uint8_t* side_info, size_t capacity, size_t* size);
    int decode_picture(const hmcnn_picture* pic, const uint8_t* side_info, size_t size);
    const char* last_error();

private:
    std::unique_ptr<PictureModels> models_;
    BlockSwitchOptions opt_;
    hmcnn_filter table_;
};

}  // namespace hmcnn
