// hm-cnn-loop: see hmcnn_hm_glue.h. Written against HM's TComPic / TComSlice / bitstream API
// (HM-16.20 .. HM-18.0).
#include "hmcnn_hm_glue.h"

#include <cstdio>
#include <cstdlib>
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

// The RBSP of the last side-information NAL unit, for the next picture to be filtered (HM
// decodes one picture at a time: a picture's suffix NAL units arrive before it is filtered).
std::vector<uint8_t> pendingSideInfo;

}  // namespace

bool hmcnnReadSideInfo(int nalUnitType, TComInputBitstream& rbsp) {
  if (nalUnitType != HMCNN_SIDE_INFO_NAL_TYPE) return false;
  const std::vector<uint8_t>& fifo = rbsp.getFifo();  // the NAL header is already read
  pendingSideInfo.assign(fifo.begin() + rbsp.getByteLocation(), fifo.end());
  return true;
}

void hmcnnDecodePicture(TComPic* pic) {
  std::vector<uint8_t> rbsp;
  rbsp.swap(pendingSideInfo);  // this picture's, whether or not a filter runs
  hmcnn_hm::Plugin* filter = plugin();
  if (!filter) return;
  std::size_t size = 0;
  if (!rbsp.empty() && hmcnn_side_info_in_rbsp(&rbsp[0], rbsp.size(), &size) != 0)
    stop("a corrupt side-information NAL unit (no rbsp_trailing_bits)");
  hmcnn_hm::PelPlane<Pel> rec[3];
  planesOf(pic->getPicYuvRec(), rec);
  std::string error;
  if (hmcnn_hm::filter_decoder_side(filter->table(), rec, factsOf(pic, false), size ? &rbsp[0] : NULL, size, &error) != 0)
    stop(error);
  pic->getPicYuvRec()->setBorderExtension(false);  // HM re-pads references lazily
}

bool hmcnnEncodePicture(TComPic* pic, TComOutputBitstream& out) {
  hmcnn_hm::Plugin* filter = plugin();
  if (!filter) return false;
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
  if (side.empty()) return false;
  for (std::size_t i = 0; i < side.size(); i++) out.write(side[i], 8);
  out.write(0x80, 8);  // rbsp_trailing_bits: the stop bit, then alignment zeros
  return true;
}
