#include "bridge/de265_decoder.h"

#include <cstring>
#include <stdexcept>

#include "libde265/de265.h"

namespace hmcnn {
namespace {

DecodedPicture copy_picture(const de265_image* img) {
    if (de265_get_chroma_format(img) != de265_chroma_420)
        throw std::runtime_error("only 4:2:0 streams are supported");
    int depth = de265_get_bits_per_pixel(img, 0);
    if (de265_get_bits_per_pixel(img, 1) != depth)
        throw std::runtime_error("luma and chroma of different bit depths are not supported");
    if (depth < 8 || depth > 16) throw std::runtime_error("unsupported bit depth");
    DecodedPicture out;
    int w = de265_get_image_width(img, 0), h = de265_get_image_height(img, 0);
    if (w <= 0 || h <= 0 || w % 2 || h % 2) throw std::runtime_error("decoded picture has an unsupported size");
    out.width = w;
    out.height = h;
    out.bit_depth = depth;
    size_t bytes = depth > 8 ? 2 : 1;  // libde265 holds 9..16-bit samples in uint16 (native order: x86 LE)
    out.i420.resize((size_t)w * h * 3 / 2 * bytes);
    uint8_t* dst = out.i420.data();
    for (int c = 0; c < 3; c++) {
        int stride = 0;  // in bytes
        const uint8_t* src = de265_get_image_plane(img, c, &stride);
        size_t row = (size_t)(c ? w / 2 : w) * bytes;
        int ch = c ? h / 2 : h;
        for (int y = 0; y < ch; y++, dst += row) std::memcpy(dst, src + (size_t)y * stride, row);
    }
    return out;
}

}  // namespace

De265Session::De265Session(const hmcnn_filter* filter, int threads) {
    ctx_ = de265_new_decoder();
    if (!ctx_) throw std::runtime_error("cannot create a libde265 decoder");
    de265_set_parameter_bool(ctx_, DE265_DECODER_PARAM_BOOL_SEI_CHECK_HASH, 1);
    de265_set_parameter_bool(ctx_, DE265_DECODER_PARAM_SUPPRESS_FAULTY_PICTURES, 0);
    de265_set_inloop_filter(ctx_, filter);
    if (threads > 0) {
        de265_error err = de265_start_worker_threads(ctx_, threads);
        if (!de265_isOK(err)) {
            de265_free_decoder(ctx_);
            throw std::runtime_error(de265_get_error_text(err));
        }
    }
}

De265Session::~De265Session() {
    if (ctx_) de265_free_decoder(ctx_);
}

void De265Session::push(const uint8_t* data, size_t size) {
    if (ended_) throw std::logic_error("data pushed after the end of the stream");
    de265_error err = de265_push_data(ctx_, data, (int)size, 0, nullptr);
    if (!de265_isOK(err)) throw std::runtime_error(de265_get_error_text(err));
    budget_ += 4 * size;
    drained_ = false;
}

void De265Session::end() {
    if (!ended_) de265_flush_data(ctx_);
    ended_ = true;
    drained_ = false;
}

std::optional<DecodedPicture> De265Session::pull() {
    for (;;) {
        if (const de265_image* img = de265_get_next_picture(ctx_)) {
            DecodedPicture pic = copy_picture(img);
            if (width_ == 0) {
                width_ = pic.width;
                height_ = pic.height;
            } else if (pic.width != width_ || pic.height != height_) {
                throw std::runtime_error("picture size changes within the stream");
            }
            return pic;
        }
        if (drained_) return std::nullopt;
        // Every de265_decode call consumes a NAL or finishes a picture; the budget bounds
        // the loop anyway, so that no input can spin forever.
        if (budget_-- == 0) throw std::runtime_error("decoder made no progress (corrupt stream)");
        int more = 0;
        de265_error err = de265_decode(ctx_, &more);
        if (err == DE265_ERROR_CHECKSUM_MISMATCH) {
            hash_mismatches_++;
            more = 1;  // the picture is decoded; only its hash differs: go on
        } else if (err == DE265_ERROR_WAITING_FOR_INPUT_DATA) {
            more = 0;  // everything pushed so far is decoded
        } else if (!de265_isOK(err)) {
            throw std::runtime_error(std::string("libde265: ") + de265_get_error_text(err));
        }
        for (de265_error w; (w = de265_get_warning(ctx_)) != DE265_OK;) warnings_.push_back(de265_get_error_text(w));
        if (!more) drained_ = true;
    }
}

}  // namespace hmcnn
