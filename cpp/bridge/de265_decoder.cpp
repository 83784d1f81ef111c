#include "bridge/de265_decoder.h"

#include <cstring>
#include <memory>
#include <stdexcept>

#include "libde265/de265.h"

namespace hmcnn {
namespace {

struct ContextDeleter { void operator()(de265_decoder_context* c) const { de265_free_decoder(c); } };

void take_picture(DecodeOutput& out, const de265_image* img) {
    if (de265_get_chroma_format(img) != de265_chroma_420)
        throw std::runtime_error("only 4:2:0 streams are supported");
    if (de265_get_bits_per_pixel(img, 0) != 8 || de265_get_bits_per_pixel(img, 1) != 8)
        throw std::runtime_error("only 8-bit streams are supported");
    int w = de265_get_image_width(img, 0), h = de265_get_image_height(img, 0);
    if (w <= 0 || h <= 0 || w % 2 || h % 2)
        throw std::runtime_error("decoded picture has an unsupported size");
    if (out.frames == 0) {
        out.width = w;
        out.height = h;
    } else if (w != out.width || h != out.height) {
        throw std::runtime_error("picture size changes within the stream");
    }
    size_t frame_size = (size_t)w * h * 3 / 2;
    out.pictures.resize(frame_size * (out.frames + 1));
    uint8_t* dst = &out.pictures[frame_size * out.frames];
    for (int c = 0; c < 3; c++) {
        int stride = 0;
        const uint8_t* src = de265_get_image_plane(img, c, &stride);
        int cw = c ? w / 2 : w, ch = c ? h / 2 : h;
        for (int y = 0; y < ch; y++, dst += cw) std::memcpy(dst, src + (size_t)y * stride, cw);
    }
    out.frames++;
}

}  // namespace

DecodeOutput decode_annexb(const uint8_t* data, size_t size, const hmcnn_filter* filter, int threads) {
    std::unique_ptr<de265_decoder_context, ContextDeleter> ctx(de265_new_decoder());
    if (!ctx) throw std::runtime_error("cannot create a libde265 decoder");
    de265_set_parameter_bool(ctx.get(), DE265_DECODER_PARAM_BOOL_SEI_CHECK_HASH, 1);
    de265_set_parameter_bool(ctx.get(), DE265_DECODER_PARAM_SUPPRESS_FAULTY_PICTURES, 0);
    de265_set_inloop_filter(ctx.get(), filter);
    if (threads > 0) {
        de265_error err = de265_start_worker_threads(ctx.get(), threads);
        if (!de265_isOK(err)) throw std::runtime_error(de265_get_error_text(err));
    }

    DecodeOutput out;
    de265_error err = de265_push_data(ctx.get(), data, (int)size, 0, nullptr);
    if (!de265_isOK(err)) throw std::runtime_error(de265_get_error_text(err));
    de265_flush_data(ctx.get());

    // Every de265_decode call consumes a NAL or finishes a picture; bound the loop anyway
    // so that no input can spin forever.
    size_t budget = 64 + 4 * size;
    int more = 1;
    while (more) {
        if (budget-- == 0) throw std::runtime_error("decoder made no progress (corrupt stream)");
        more = 0;
        err = de265_decode(ctx.get(), &more);
        if (err == DE265_ERROR_CHECKSUM_MISMATCH) {
            out.hash_mismatches++;
            more = 1;  // the picture is decoded; only its hash differs: go on
        } else if (err == DE265_ERROR_WAITING_FOR_INPUT_DATA) {
            break;  // all data is pushed and flushed: nothing left
        } else if (!de265_isOK(err)) {
            throw std::runtime_error(std::string("libde265: ") + de265_get_error_text(err));
        }
        for (de265_error w; (w = de265_get_warning(ctx.get())) != DE265_OK;)
            out.warnings.push_back(de265_get_error_text(w));
        while (const de265_image* img = de265_get_next_picture(ctx.get())) take_picture(out, img);
    }
    while (const de265_image* img = de265_get_next_picture(ctx.get())) take_picture(out, img);
    return out;
}

}  // namespace hmcnn
