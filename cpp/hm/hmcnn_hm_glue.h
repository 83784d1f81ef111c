// hm-cnn-loop: the two calls `hmcnn hm integrate` inserts into HM, and their glue to the
// HM-agnostic adapter (hmcnn_hm_adapter.h). Copied into source/Lib/TLibCommon/ of the
// user's HM checkout; compiled only there. The filter is the plug-in named by the
// HMCNN_FILTER environment variable ("LIB.so[:OPTIONS]"); unset, HM is unchanged.
#ifndef HMCNN_HM_GLUE_H
#define HMCNN_HM_GLUE_H

#include "SEI.h"

class TComPic;

// Decoder: after deblocking + SAO (and PCMLFDisableProcess), before the picture hash check.
void hmcnnDecodePicture(TComPic* pic);

// Encoder: after deblocking + SAO, before the picture hash SEI is made; the filter's side
// information becomes a user_data_unregistered SEI pushed onto trailingSei (written as a
// suffix SEI after the slices, before the hash SEI).
void hmcnnEncodePicture(TComPic* pic, SEIMessages& trailingSei);

#endif
