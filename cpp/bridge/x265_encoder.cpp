#include "bridge/x265_encoder.h"

#include <cstring>
#include <memory>
#include <stdexcept>

#include "x265.h"

namespace hmcnn {
namespace {

struct ParamDeleter { void operator()(x265_param* p) const { x265_param_free(p); } };
struct EncoderDeleter { void operator()(x265_encoder* e) const { x265_encoder_close(e); } };

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

}  // namespace

EncodeOutput encode_i420(const EncoderSettings& s, const uint8_t* frames, int count,
                         const hmcnn_filter* filter) {
    if (s.width <= 0 || s.height <= 0 || s.width % 2 || s.height % 2)
        throw std::invalid_argument("frame size must be positive and even");
    if (count <= 0) throw std::invalid_argument("no frames to encode");
    if (!s.frame_qp.empty() && (int)s.frame_qp.size() != count)
        throw std::invalid_argument("frame_qp must have one entry per frame");

    std::unique_ptr<x265_param, ParamDeleter> param(x265_param_alloc());
    if (x265_param_default_preset(param.get(), s.preset.c_str(), s.tune.empty() ? nullptr : s.tune.c_str()) < 0)
        throw std::invalid_argument("unknown x265 preset/tune: " + s.preset + "/" + s.tune);
    x265_param* p = param.get();
    p->sourceWidth = s.width;
    p->sourceHeight = s.height;
    p->fpsNum = s.fps_num;
    p->fpsDenom = s.fps_den;
    p->internalCsp = X265_CSP_I420;
    p->logLevel = X265_LOG_ERROR;
    p->bEnablePsnr = 0;
    if (s.frame_threads > 0) p->frameNumThreads = s.frame_threads;
    std::string pools;
    if (s.pool_threads > 0) {
        pools = std::to_string(s.pool_threads);
        if (x265_param_parse(p, "pools", pools.c_str()) != 0) throw std::invalid_argument("bad pool size");
    }
    for (const auto& kv : s.options) {
        int r = x265_param_parse(p, kv.first.c_str(), kv.second.empty() ? nullptr : kv.second.c_str());
        if (r == X265_PARAM_BAD_NAME) throw std::invalid_argument("unknown x265 option --" + kv.first);
        if (r == X265_PARAM_BAD_VALUE)
            throw std::invalid_argument("bad value for x265 option --" + kv.first + ": " + kv.second);
    }
    p->inloopFilter = filter;

    std::unique_ptr<x265_encoder, EncoderDeleter> enc(x265_encoder_open(p));
    if (!enc) throw std::invalid_argument("x265 rejected the settings (x265_encoder_open failed)");

    EncodeOutput out;
    out.version = x265_version_str;
    const size_t luma = (size_t)s.width * s.height, chroma = luma / 4, frame_size = luma + 2 * chroma;
    out.recon.assign(frame_size * count, 0);
    std::vector<bool> got(count, false);

    x265_nal* nals = nullptr;
    uint32_t nal_count = 0;
    if (x265_encoder_headers(enc.get(), &nals, &nal_count) < 0)
        throw std::runtime_error("x265_encoder_headers failed");
    append_nals(out.headers, nals, nal_count);

    std::unique_ptr<x265_picture, void (*)(x265_picture*)> pic_out(x265_picture_alloc(), x265_picture_free);
    x265_picture pic_in;
    x265_picture_init(p, &pic_in);

    auto collect = [&](int produced) {
        if (produced <= 0) return;
        AccessUnit au;
        au.poc = (int)pic_out->pts;
        au.slice_type = slice_char(pic_out->sliceType);
        au.qp = pic_out->frameData.qp;
        append_nals(au.bytes, nals, nal_count);
        if (au.poc < 0 || au.poc >= count || got[au.poc])
            throw std::runtime_error("x265 returned an unexpected picture");
        got[au.poc] = true;
        uint8_t* dst = &out.recon[frame_size * au.poc];
        const int widths[3] = {s.width, s.width / 2, s.width / 2};
        const int heights[3] = {s.height, s.height / 2, s.height / 2};
        for (int c = 0; c < 3; c++) {
            const uint8_t* src = (const uint8_t*)pic_out->planes[c];
            for (int y = 0; y < heights[c]; y++, dst += widths[c])
                std::memcpy(dst, src + (size_t)y * pic_out->stride[c], widths[c]);
        }
        out.units.push_back(std::move(au));
    };

    for (int i = 0; i < count; i++) {
        const uint8_t* f = frames + frame_size * i;
        pic_in.planes[0] = (void*)f;
        pic_in.planes[1] = (void*)(f + luma);
        pic_in.planes[2] = (void*)(f + luma + chroma);
        pic_in.stride[0] = s.width;
        pic_in.stride[1] = pic_in.stride[2] = s.width / 2;
        pic_in.pts = i;
        pic_in.forceqp = s.frame_qp.empty() ? 0 : s.frame_qp[i] + 1;  // x265: forced QP + 1, 0 = none
        int r = x265_encoder_encode(enc.get(), &nals, &nal_count, &pic_in, pic_out.get());
        if (r < 0) throw std::runtime_error("x265 failed while encoding");
        collect(r);
    }
    for (;;) {
        int r = x265_encoder_encode(enc.get(), &nals, &nal_count, nullptr, pic_out.get());
        if (r < 0) throw std::runtime_error("x265 failed while flushing");
        if (r == 0) break;
        collect(r);
    }
    for (int i = 0; i < count; i++)
        if (!got[i]) throw std::runtime_error("x265 did not output every picture");
    return out;
}

}  // namespace hmcnn
