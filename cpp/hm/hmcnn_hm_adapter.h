// hm-cnn-loop: the adapter between HM-style pictures and the filter ABI (inloop_filter.h).
//
// HM-agnostic: it knows planes of HM's `Pel` (int16_t by default, int32_t with
// HIGH_BITDEPTH), separate luma and chroma bit depths, and side-information bytes; the HM
// glue (hmcnn_hm_glue.cpp, inserted by `hmcnn hm integrate`) hands it a TComPic's planes.
// C++11, warning-free under HM's -Wall -Werror. Compiled and unit-tested by the project.
//
// Samples cross the ABI as uint8_t when both bit depths are 8, else as uint16_t at the
// larger depth: a plane of lower depth is scaled up by a shift on the way in and rounded
// back (clip((x + half) >> shift)) on the way out, identically on both sides of the codec.
#ifndef HMCNN_HM_ADAPTER_H
#define HMCNN_HM_ADAPTER_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "inloop_filter.h"

namespace hmcnn_hm {

// One plane of Pel samples.
template <class Pel>
struct PelPlane {
    Pel* data;
    std::ptrdiff_t stride;  // in samples
    int width, height;
};

// What the filter learns about a picture besides its samples.
struct PictureFacts {
    int poc;             // relative to the last IDR
    int slice_qp;        // of the picture's first slice
    int slice_type;      // HEVC slice_type of the first slice: 0 B, 1 P, 2 I
    int temporal_id;
    int ctu_size;
    int chroma_format;   // 0 4:0:0, 1 4:2:0, 2 4:2:2, 3 4:4:4
    int luma_bit_depth, chroma_bit_depth;
};

// A filter plug-in opened from "LIB.so[:OPTIONS]" (what HMCNN_FILTER holds).
class Plugin {
public:
    // Throws std::runtime_error with the reason (missing library, no hmcnn_filter_open,
    // options refused, another ABI version).
    explicit Plugin(const std::string& spec);
    ~Plugin();
    const hmcnn_filter* table() const { return table_; }
    const std::string& spec() const { return spec_; }

    // The plug-in HMCNN_FILTER names, opened once per process; NULL when it is unset or
    // empty (the codec then behaves exactly as without the integration).
    static Plugin* from_environment();

private:
    Plugin(const Plugin&);
    Plugin& operator=(const Plugin&);
    std::string spec_;
    void* library_;
    const hmcnn_filter* table_;
    hmcnn_filter_close_fn close_;
};

// Encoder side: filters rec in place (org: the true source), fills side_info. Returns 0,
// or non-zero with *error set (the filter's own message).
template <class Pel>
int filter_encoder_side(const hmcnn_filter* filter, const PelPlane<Pel> rec[3], const PelPlane<const Pel> org[3],
                        const PictureFacts& facts, std::vector<uint8_t>* side_info, std::string* error);

// Decoder side: filters rec in place as the side information says.
template <class Pel>
int filter_decoder_side(const hmcnn_filter* filter, const PelPlane<Pel> rec[3], const PictureFacts& facts,
                        const uint8_t* side_info, std::size_t side_info_size, std::string* error);

}  // namespace hmcnn_hm

#endif
