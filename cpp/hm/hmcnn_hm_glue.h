// hm-cnn-loop: the two calls `hmcnn hm integrate` inserts into HM, and their glue to the
// HM-agnostic adapter (hmcnn_hm_adapter.h). Copied into source/Lib/TLibCommon/ of the
// user's HM checkout; compiled only there. The filter is the plug-in named by the
// HMCNN_FILTER environment variable ("LIB.so[:OPTIONS]"); unset, HM is unchanged.
#ifndef HMCNN_HM_GLUE_H
#define HMCNN_HM_GLUE_H

#include <stdint.h>

#include "TComBitStream.h"
#include "inloop_filter.h"  // HMCNN_SIDE_INFO_NAL_TYPE

class TComPic;

// Decoder: every NAL unit, before HM's own handling. A side-information NAL unit
// (HMCNN_SIDE_INFO_NAL_TYPE) is kept for the picture it follows and true returned (HM
// then skips it); any other NAL unit: false, nothing read.
bool hmcnnReadSideInfo(int nalUnitType, TComInputBitstream& rbsp);

// Decoder: after deblocking + SAO (and PCMLFDisableProcess), before the picture hash check;
// uses the side information kept since the previous picture.
void hmcnnDecodePicture(TComPic* pic);

// Encoder: after deblocking + SAO, before the picture hash SEI is made. Writes the filter's
// side information and rbsp_trailing_bits into out and returns true, or returns false when
// the filter sends nothing; the caller makes out a suffix NAL unit of the type
// HMCNN_SIDE_INFO_NAL_TYPE after the picture's slices.
bool hmcnnEncodePicture(TComPic* pic, TComOutputBitstream& out);

#endif
