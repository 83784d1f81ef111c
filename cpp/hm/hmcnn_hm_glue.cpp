// hm-cnn-loop: see hmcnn_hm_glue.h. Written against HM's TComPic / TComSlice / SEI API
// (HM-16.21 .. HM-18.0).
#include "hmcnn_hm_glue.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "TComPic.h"
#include "TComSlice.h"
#include "hmcnn_hm_adapter.h"

namespace {

void stop(const std::string& why) {
  std::fprintf(stderr, "\nhm-cnn-loop: %s\n", why.c_str());
  std::exit(EXIT_FAILURE);
}

hmcnn_hm::Plugin* plugin() {
  try {
    return hmcnn_hm::Plugin::from_environment();
  } catch (const std::exception& e) {
    stop(std::string("HMCNN_FILTER: ") + e.what());
  }
  return NULL;
}

hmcnn_hm::PictureFacts factsOf(TComPic* pic, bool encoder) {
  TComSlice* slice = pic->getSlice(0);  // the picture's first slice (the local pcSlice is the last)
  const TComSPS* sps = slice->getSPS();
  hmcnn_hm::PictureFacts f;
  f.poc = encoder ? slice->getPOC() - slice->getLastIDR() : slice->getPOC();  // the encoder's POC does not restart
  f.slice_qp = slice->getSliceQp();
  f.slice_type = (int)slice->getSliceType();  // B_SLICE 0, P_SLICE 1, I_SLICE 2, as HEVC
  f.temporal_id = (int)slice->getTLayer();
  f.ctu_size = (int)sps->getMaxCUWidth();
  f.chroma_format = (int)pic->getChromaFormat();
  f.luma_bit_depth = sps->getBitDepth(CHANNEL_TYPE_LUMA);
  f.chroma_bit_depth = sps->getBitDepth(CHANNEL_TYPE_CHROMA);
  return f;
}

template <class P>
void planesOf(TComPicYuv* yuv, hmcnn_hm::PelPlane<P> out[3]) {
  for (UInt c = 0; c < 3; c++) {
    const ComponentID id = ComponentID(c < yuv->getNumberValidComponents() ? c : 0);
    hmcnn_hm::PelPlane<P> p = {yuv->getAddr(id), yuv->getStride(id), yuv->getWidth(id), yuv->getHeight(id)};
    out[c] = p;
  }
}

}  // namespace

void hmcnnDecodePicture(TComPic* pic) {
  hmcnn_hm::Plugin* filter = plugin();
  if (!filter) return;
  const uint8_t* data = NULL;
  std::size_t size = 0;
  SEIMessages found = getSeisByType(pic->getSEIs(), SEI::USER_DATA_UNREGISTERED);
  for (SEIMessages::iterator it = found.begin(); it != found.end(); ++it) {
    SEIUserDataUnregistered* sei = static_cast<SEIUserDataUnregistered*>(*it);
    if (std::memcmp(sei->m_uuid_iso_iec_11578, hmcnn_hm::kSideInfoUuid, 16) == 0) {
      data = sei->m_userData.empty() ? NULL : &sei->m_userData[0];
      size = sei->m_userData.size();
      break;
    }
  }
  hmcnn_hm::PelPlane<Pel> rec[3];
  planesOf(pic->getPicYuvRec(), rec);
  std::string error;
  if (hmcnn_hm::filter_decoder_side(filter->table(), rec, factsOf(pic, false), data, size, &error) != 0) stop(error);
  pic->getPicYuvRec()->setBorderExtension(false);  // HM re-pads references lazily
}

void hmcnnEncodePicture(TComPic* pic, SEIMessages& trailingSei) {
  hmcnn_hm::Plugin* filter = plugin();
  if (!filter) return;
  hmcnn_hm::PelPlane<Pel> rec[3];
  hmcnn_hm::PelPlane<const Pel> org[3];
  planesOf(pic->getPicYuvRec(), rec);
  hmcnn_hm::PelPlane<Pel> trueOrg[3];
  planesOf(pic->getPicYuvTrueOrg(), trueOrg);  // the source before any temporal pre-filter
  for (int c = 0; c < 3; c++) {
    hmcnn_hm::PelPlane<const Pel> p = {trueOrg[c].data, trueOrg[c].stride, trueOrg[c].width, trueOrg[c].height};
    org[c] = p;
  }
  std::vector<uint8_t> side;
  std::string error;
  if (hmcnn_hm::filter_encoder_side(filter->table(), rec, org, factsOf(pic, true), &side, &error) != 0) stop(error);
  pic->getPicYuvRec()->setBorderExtension(false);
  if (!side.empty()) {
    SEIUserDataUnregistered* sei = new SEIUserDataUnregistered();
    std::memcpy(sei->m_uuid_iso_iec_11578, hmcnn_hm::kSideInfoUuid, 16);
    sei->m_userData = side;
    trailingSei.push_back(sei);
  }
}
