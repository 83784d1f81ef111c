#include "bridge/x265_encoder.h"

#include <cstring>
#include <stdexcept>

#include "x265.h"

namespace hmcnn {
namespace {

void append_nals(std::string& out, const x265_nal* nals, uint32_t count) {
    for (uint32_t i = 0; i < count; i++)
        out.append((const char*)nals[i].payload, nals[i].sizeBytes);
}

char slice_char(int type) {
    switch (type) {
    case X265_TYPE_IDR: case X265_TYPE_I: return 'I';
    case X265_TYPE_P: return 'P';
    case X265_TYPE_BREF: return 'B';
    case X265_TYPE_B: return 'b';
    default: return '?';
    }
}

x265_param* make_param(const x265_api* api, const EncoderSettings& s) {
    x265_param* p = api->param_alloc();
    auto fail = [api, p](const std::string& why) {
        api->param_free(p);
        throw std::invalid_argument(why);
    };
    if (api->param_default_preset(p, s.preset.c_str(), s.tune.empty() ? nullptr : s.tune.c_str()) < 0)
        fail("unknown x265 preset/tune: " + s.preset + "/" + s.tune);
    p->sourceWidth = s.width;
    p->sourceHeight = s.height;
    p->fpsNum = s.fps_num;
    p->fpsDenom = s.fps_den;
    p->internalCsp = X265_CSP_I420;
    p->logLevel = X265_LOG_ERROR;
    p->bEnablePsnr = 0;
    if (s.frame_threads > 0) p->frameNumThreads = s.frame_threads;
    if (s.pool_threads > 0 && api->param_parse(p, "pools", std::to_string(s.pool_threads).c_str()) != 0)
        fail("bad pool size");
    for (const auto& kv : s.options) {
        int r = api->param_parse(p, kv.first.c_str(), kv.second.empty() ? nullptr : kv.second.c_str());
        if (r == X265_PARAM_BAD_NAME) fail("unknown x265 option --" + kv.first);
        if (r == X265_PARAM_BAD_VALUE) fail("bad value for x265 option --" + kv.first + ": " + kv.second);
    }
    return p;
}

}  // namespace

X265Session::X265Session(const EncoderSettings& s, int count, const hmcnn_filter* filter)
    : settings_(s), count_(count), returned_poc_(count > 0 ? count : 0, false) {
    if (s.width <= 0 || s.height <= 0 || s.width % 2 || s.height % 2)
        throw std::invalid_argument("frame size must be positive and even");
    if (count <= 0) throw std::invalid_argument("no frames to encode");
    if (!s.forced_qp.empty() && (int)s.forced_qp.size() != count)
        throw std::invalid_argument("forced_qp must have one entry per frame");
    if (s.first_poc < 0) throw std::invalid_argument("first_poc must not be negative");
    if (s.bit_depth != 8 && s.bit_depth != 10) throw std::invalid_argument("x265 codes 8 or 10 bits here");
    // the 8-bit x265 hands out the linked 10-bit one's entry points (x265's multilib build)
    api_ = x265_api_get(s.bit_depth);
    if (!api_) throw std::invalid_argument("this x265 was built without " + std::to_string(s.bit_depth) + "-bit support");
    sample_bytes_ = s.bit_depth > 8 ? 2 : 1;
    param_ = make_param(api_, s);
    param_->inloopFilter = filter;
    param_->hmcnnFirstPoc = s.first_poc;
    encoder_ = api_->encoder_open(param_);
    if (!encoder_) {
        api_->param_free(param_);
        param_ = nullptr;
        throw std::invalid_argument("x265 rejected the settings (x265_encoder_open failed)");
    }
    pic_out_ = api_->picture_alloc();
    x265_nal* nals = nullptr;
    uint32_t nal_count = 0;
    if (api_->encoder_headers(encoder_, &nals, &nal_count) < 0) {
        release();
        throw std::runtime_error("x265_encoder_headers failed");
    }
    append_nals(headers_, nals, nal_count);
}

X265Session::~X265Session() { release(); }

void X265Session::release() {
    if (pic_out_) api_->picture_free(pic_out_);
    if (encoder_) api_->encoder_close(encoder_);
    if (param_) api_->param_free(param_);
    pic_out_ = nullptr;
    encoder_ = nullptr;
    param_ = nullptr;
}

std::optional<CodedPicture> X265Session::push(const uint8_t* frame) {
    if (pushed_ >= count_) throw std::invalid_argument("more frames pushed than announced");
    const size_t luma = (size_t)settings_.width * settings_.height * sample_bytes_, chroma = luma / 4;
    x265_picture pic_in;
    api_->picture_init(param_, &pic_in);
    pic_in.bitDepth = settings_.bit_depth;
    pic_in.planes[0] = (void*)frame;
    pic_in.planes[1] = (void*)(frame + luma);
    pic_in.planes[2] = (void*)(frame + luma + chroma);
    pic_in.stride[0] = settings_.width * (int)sample_bytes_;  // in bytes
    pic_in.stride[1] = pic_in.stride[2] = settings_.width / 2 * (int)sample_bytes_;
    pic_in.pts = pushed_;
    // x265: forced QP + 1, 0 = none
    pic_in.forceqp = settings_.forced_qp.empty() ? 0 : settings_.forced_qp[pushed_] + 1;
    pushed_++;
    x265_nal* nals = nullptr;
    uint32_t nal_count = 0;
    int r = api_->encoder_encode(encoder_, &nals, &nal_count, &pic_in, pic_out_);
    if (r < 0) throw std::runtime_error("x265 failed while encoding");
    if (r == 0) return std::nullopt;
    std::optional<CodedPicture> out = take(r);
    append_nals(out->bytes, nals, nal_count);
    return out;
}

std::optional<CodedPicture> X265Session::flush() {
    if (pushed_ != count_) throw std::invalid_argument("flush before every announced frame was pushed");
    x265_nal* nals = nullptr;
    uint32_t nal_count = 0;
    int r = api_->encoder_encode(encoder_, &nals, &nal_count, nullptr, pic_out_);
    if (r < 0) throw std::runtime_error("x265 failed while flushing");
    if (r == 0) {
        if (returned_ != count_) throw std::runtime_error("x265 did not output every picture");
        return std::nullopt;
    }
    std::optional<CodedPicture> out = take(r);
    append_nals(out->bytes, nals, nal_count);
    return out;
}

std::optional<CodedPicture> X265Session::take(int) {
    CodedPicture pic;
    pic.poc = (int)pic_out_->pts;
    pic.slice_type = slice_char(pic_out_->sliceType);
    pic.qp = pic_out_->frameData.qp;
    if (pic.poc < 0 || pic.poc >= count_ || returned_poc_[pic.poc])
        throw std::runtime_error("x265 returned an unexpected picture");
    returned_poc_[pic.poc] = true;
    returned_++;
    const int w = settings_.width, h = settings_.height;
    pic.recon.resize((size_t)w * h * 3 / 2 * sample_bytes_);
    uint8_t* dst = pic.recon.data();
    const size_t rows[3] = {w * sample_bytes_, w / 2 * sample_bytes_, w / 2 * sample_bytes_};  // bytes
    const int heights[3] = {h, h / 2, h / 2};
    for (int c = 0; c < 3; c++) {
        const uint8_t* src = (const uint8_t*)pic_out_->planes[c];
        for (int y = 0; y < heights[c]; y++, dst += rows[c])
            std::memcpy(dst, src + (size_t)y * pic_out_->stride[c], rows[c]);  // x265's strides are in bytes
    }
    return pic;
}

}  // namespace hmcnn
