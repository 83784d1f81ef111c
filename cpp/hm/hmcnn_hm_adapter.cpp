// hm-cnn-loop: see hmcnn_hm_adapter.h.
#include "hmcnn_hm_adapter.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace hmcnn_hm {

Plugin::Plugin(const std::string& spec) : spec_(spec), library_(NULL), table_(NULL), close_(NULL) {
    std::string path = spec, options;
    std::size_t colon = spec.find(".so:");
    bool has_options = colon != std::string::npos;
    if (has_options) {
        path = spec.substr(0, colon + 3);
        options = spec.substr(colon + 4);
    }
    library_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library_) throw std::runtime_error("cannot load filter library " + path + ": " + dlerror());
    hmcnn_filter_open_fn open = reinterpret_cast<hmcnn_filter_open_fn>(dlsym(library_, HMCNN_FILTER_OPEN_SYMBOL));
    close_ = reinterpret_cast<hmcnn_filter_close_fn>(dlsym(library_, HMCNN_FILTER_CLOSE_SYMBOL));
    if (!open) throw std::runtime_error(path + " does not export " HMCNN_FILTER_OPEN_SYMBOL "()");
    table_ = open(has_options ? options.c_str() : NULL);
    if (!table_) {
        hmcnn_filter_open_error_fn why =
            reinterpret_cast<hmcnn_filter_open_error_fn>(dlsym(library_, HMCNN_FILTER_OPEN_ERROR_SYMBOL));
        std::string reason = why && why() ? why() : "";
        throw std::runtime_error(path + ": " HMCNN_FILTER_OPEN_SYMBOL "() refused the options '" + options + "'" +
                                 (reason.empty() ? "" : ": " + reason));
    }
    if (table_->abi_version != HMCNN_FILTER_ABI_VERSION)
        throw std::runtime_error(path + " speaks another filter ABI version");
}

Plugin::~Plugin() {
    if (table_ && close_) close_(table_);
    // the library stays loaded: a filter's threads may outlive the table by a little
}

Plugin* Plugin::from_environment() {
    static Plugin* plugin = NULL;
    static bool tried = false;
    if (!tried) {
        tried = true;
        const char* spec = std::getenv("HMCNN_FILTER");
        if (spec && *spec) plugin = new Plugin(spec);  // a bad spec throws: the codec stops with the reason
    }
    return plugin;
}

namespace {

// The picture as the ABI sees it: packed staging planes at one bit depth.
template <class Sample>
struct Staging {
    std::vector<Sample> plane[3], orig[3];
};

int plane_count(int chroma_format) { return chroma_format == 0 ? 1 : 3; }

int depth_of(const PictureFacts& f, int c) { return c ? f.chroma_bit_depth : f.luma_bit_depth; }

template <class Sample, class Pel>
void stage(const PelPlane<Pel>& src, int shift, std::vector<Sample>* dst) {
    dst->resize((std::size_t)src.width * src.height);
    for (int y = 0; y < src.height; y++)
        for (int x = 0; x < src.width; x++)
            (*dst)[(std::size_t)y * src.width + x] = (Sample)(src.data[y * src.stride + x] << shift);
}

template <class Sample, class Pel>
void unstage(const std::vector<Sample>& src, int shift, int depth, const PelPlane<Pel>& dst) {
    const int max = (1 << depth) - 1, half = shift ? 1 << (shift - 1) : 0;
    for (int y = 0; y < dst.height; y++)
        for (int x = 0; x < dst.width; x++) {
            int v = ((int)src[(std::size_t)y * dst.width + x] + half) >> shift;
            dst.data[y * dst.stride + x] = (Pel)(v < 0 ? 0 : v > max ? max : v);
        }
}

template <class Sample, class Pel>
int run(const hmcnn_filter* filter, const PelPlane<Pel> rec[3], const PelPlane<const Pel>* org,
        const PictureFacts& facts, std::vector<uint8_t>* side_out, const uint8_t* side_in, std::size_t side_in_size,
        std::string* error) {
    const int planes = plane_count(facts.chroma_format);
    const int depth = facts.luma_bit_depth > facts.chroma_bit_depth ? facts.luma_bit_depth : facts.chroma_bit_depth;
    Staging<Sample> s;
    hmcnn_picture pic;
    std::memset(&pic, 0, sizeof(pic));
    pic.struct_size = sizeof(pic);
    pic.width = rec[0].width;
    pic.height = rec[0].height;
    pic.chroma_format = facts.chroma_format;
    pic.bit_depth = depth;
    for (int c = 0; c < planes; c++) {
        stage(rec[c], depth - depth_of(facts, c), &s.plane[c]);
        pic.plane[c] = &s.plane[c][0];
        pic.stride[c] = rec[c].width;
        if (org) {
            stage(org[c], depth - depth_of(facts, c), &s.orig[c]);
            pic.orig[c] = &s.orig[c][0];
            pic.orig_stride[c] = org[c].width;
        }
    }
    pic.poc = facts.poc;
    pic.slice_qp = facts.slice_qp;
    pic.slice_type = facts.slice_type;
    pic.temporal_id = facts.temporal_id;
    pic.ctu_size = facts.ctu_size;
    pic.is_encoder = org ? 1 : 0;
    pic.placement = HMCNN_PLACEMENT_LOOP;
    int rc;
    if (org) {
        side_out->assign(HMCNN_MAX_SIDE_INFO, 0);
        std::size_t size = 0;
        rc = filter->encode_picture(filter->self, &pic, &(*side_out)[0], side_out->size(), &size);
        side_out->resize(rc == 0 && size <= HMCNN_MAX_SIDE_INFO ? size : 0);
    } else {
        rc = filter->decode_picture(filter->self, &pic, side_in, side_in_size);
    }
    if (rc != 0) {
        const char* why = filter->last_error ? filter->last_error(filter->self) : NULL;
        *error = std::string(org ? "encoder" : "decoder") + "-side loop filter failed on POC " +
                 std::to_string(facts.poc) + ": " + (why && *why ? why : "(the filter gave no message)");
        return rc;
    }
    for (int c = 0; c < planes; c++) unstage(s.plane[c], depth - depth_of(facts, c), depth_of(facts, c), rec[c]);
    return 0;
}

template <class Pel>
int dispatch(const hmcnn_filter* filter, const PelPlane<Pel> rec[3], const PelPlane<const Pel>* org,
             const PictureFacts& facts, std::vector<uint8_t>* side_out, const uint8_t* side_in,
             std::size_t side_in_size, std::string* error) {
    if (facts.luma_bit_depth < 8 || facts.chroma_bit_depth < 8 || facts.luma_bit_depth > 16 ||
        facts.chroma_bit_depth > 16) {
        *error = "hm-cnn-loop adapter: bit depths must be 8..16";
        return -1;
    }
    if (facts.luma_bit_depth == 8 && facts.chroma_bit_depth == 8)
        return run<uint8_t>(filter, rec, org, facts, side_out, side_in, side_in_size, error);
    return run<uint16_t>(filter, rec, org, facts, side_out, side_in, side_in_size, error);
}

}  // namespace

template <class Pel>
int filter_encoder_side(const hmcnn_filter* filter, const PelPlane<Pel> rec[3], const PelPlane<const Pel> org[3],
                        const PictureFacts& facts, std::vector<uint8_t>* side_info, std::string* error) {
    return dispatch(filter, rec, org, facts, side_info, NULL, 0, error);
}

template <class Pel>
int filter_decoder_side(const hmcnn_filter* filter, const PelPlane<Pel> rec[3], const PictureFacts& facts,
                        const uint8_t* side_info, std::size_t side_info_size, std::string* error) {
    return dispatch<Pel>(filter, rec, NULL, facts, NULL, side_info, side_info_size, error);
}

template int filter_encoder_side<int16_t>(const hmcnn_filter*, const PelPlane<int16_t>[3],
                                          const PelPlane<const int16_t>[3], const PictureFacts&,
                                          std::vector<uint8_t>*, std::string*);
template int filter_encoder_side<int32_t>(const hmcnn_filter*, const PelPlane<int32_t>[3],
                                          const PelPlane<const int32_t>[3], const PictureFacts&,
                                          std::vector<uint8_t>*, std::string*);
template int filter_decoder_side<int16_t>(const hmcnn_filter*, const PelPlane<int16_t>[3], const PictureFacts&,
                                          const uint8_t*, std::size_t, std::string*);
template int filter_decoder_side<int32_t>(const hmcnn_filter*, const PelPlane<int32_t>[3], const PictureFacts&,
                                          const uint8_t*, std::size_t, std::string*);

}  // namespace hmcnn_hm
