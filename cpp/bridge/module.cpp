// hm_bridge._core: the pybind11 surface over the patched codecs. Kept small: Python
// (hm_bridge/) owns the user-facing API; this module moves bytes and pictures across a
// typed boundary (EncoderSettings in; coded and decoded pictures out, one at a time).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <optional>

#include "bridge/checked_filter.h"
#include "bridge/de265_decoder.h"
#include "bridge/python_filter.h"
#include "bridge/x265_encoder.h"
#include "inloop_side_info.h"
#include "common/i420_picture.h"
#include "filters/block_policy.h"
#include "filters/block_switched_filter.h"
#include "filters/noop_filter.h"
#include "filters/smoothing_filter.h"
#include "libde265/de265.h"
#include "x265.h"

namespace py = pybind11;
using namespace hmcnn;

namespace {

// Any object with __hmcnn_filter__() returning a PyCapsule named HMCNN_FILTER_CAPSULE_NAME
// that holds a `const hmcnn_filter*` is a native filter (this is how filters built in
// other extensions, e.g. the libtorch runner, cross over); any other callable is a
// Python filter.
struct BoundFilter {
    const hmcnn_filter* table = nullptr;
    std::unique_ptr<PythonFilter> python;
    std::unique_ptr<CheckedFilter> native;
    py::object keepalive;

    explicit BoundFilter(const py::object& f) {
        if (f.is_none()) return;
        if (py::hasattr(f, "__hmcnn_filter__")) {
            bind_native(f);
        } else if (PyCallable_Check(f.ptr())) {
            python = std::make_unique<PythonFilter>(f);
            table = python->table();
        } else {
            throw py::type_error("loop_filter must be None, a callable, or a native filter object");
        }
    }
    void bind_native(const py::object& f) {
        py::object cap = f.attr("__hmcnn_filter__")();
        if (!PyCapsule_IsValid(cap.ptr(), HMCNN_FILTER_CAPSULE_NAME))
            throw py::type_error(std::string("__hmcnn_filter__() must return a PyCapsule named '") +
                                 HMCNN_FILTER_CAPSULE_NAME + "'");
        auto* raw = static_cast<const hmcnn_filter*>(PyCapsule_GetPointer(cap.ptr(), HMCNN_FILTER_CAPSULE_NAME));
        if (!raw || raw->abi_version != HMCNN_FILTER_ABI_VERSION)
            throw py::value_error("native loop filter speaks filter ABI version " +
                                  std::to_string(raw ? raw->abi_version : 0) + ", this build speaks " +
                                  std::to_string(HMCNN_FILTER_ABI_VERSION));
        if (!raw->encode_picture || !raw->decode_picture)
            throw py::value_error("native loop filter lacks encode_picture or decode_picture");
        native = std::make_unique<CheckedFilter>(raw);
        table = native->table();
        keepalive = f;
    }
    // After a coding run: a filter failure is raised with the filter's own explanation
    // (a Python filter's exception, a native filter's last_error), never hidden.
    void rethrow_filter_error() {
        if (python) python->rethrow_if_failed();
        if (native && native->failed()) throw std::runtime_error(native->failure());
    }
};

// Runs a coding step with the GIL released; a filter's failure wins over the codec's
// generic error.
template <class Fn>
auto run_released(BoundFilter& filter, Fn fn) {
    decltype(fn()) out;
    try {
        py::gil_scoped_release release;
        out = fn();
    } catch (const std::runtime_error&) {
        filter.rethrow_filter_error();
        throw;
    }
    filter.rethrow_filter_error();
    return out;
}

template <class Fn>
auto run_with_filter(const py::object& loop_filter, Fn fn) {
    BoundFilter filter(loop_filter);
    return run_released(filter, [&] { return fn(filter.table); });
}

// A vector's bytes handed to numpy without a copy.
py::array_t<uint8_t> to_array(std::vector<uint8_t>&& v) {
    auto* owned = new std::vector<uint8_t>(std::move(v));
    py::capsule free_it(owned, [](void* p) { delete static_cast<std::vector<uint8_t>*>(p); });
    return py::array_t<uint8_t>({(py::ssize_t)owned->size()}, {(py::ssize_t)1}, owned->data(), free_it);
}

const uint8_t* frame_bytes(py::buffer frame, size_t need, const char* what) {
    py::buffer_info in = frame.request();
    if (in.itemsize != 1 || (size_t)in.size != need || (in.ndim > 0 && !PyBuffer_IsContiguous(in.view(), 'C')))
        throw py::value_error(std::string(what) + " must be " + std::to_string(need) + " contiguous bytes of I420");
    return (const uint8_t*)in.ptr;
}

// One coded picture for Python: its access unit, facts and reconstruction.
struct PyCodedPicture {
    int poc;
    std::string slice_type;
    double qp;
    py::bytes data;
    py::array_t<uint8_t> recon;
};

std::optional<PyCodedPicture> to_python(std::optional<CodedPicture>&& pic) {
    if (!pic) return std::nullopt;
    return PyCodedPicture{pic->poc, std::string(1, pic->slice_type), pic->qp, py::bytes(pic->bytes),
                          to_array(std::move(pic->recon))};
}

// x265 as a session: frames pushed one by one, coded pictures returned as x265 finishes
// them. The loop filter is bound for the session's life.
class PyEncoder {
public:
    PyEncoder(const EncoderSettings& settings, int count, py::object loop_filter)
        : filter_(loop_filter),
          frame_size_((size_t)settings.width * settings.height * 3 / 2 * (settings.bit_depth > 8 ? 2 : 1)) {
        session_ = std::make_unique<X265Session>(settings, count, filter_.table);
    }
    py::bytes headers() const { return py::bytes(session_->headers()); }
    std::optional<PyCodedPicture> push(py::buffer frame) {
        const uint8_t* data = frame_bytes(frame, frame_size_, "a frame");
        return to_python(run_released(filter_, [&] { return session_->push(data); }));
    }
    std::optional<PyCodedPicture> flush() {
        return to_python(run_released(filter_, [&] { return session_->flush(); }));
    }

private:
    BoundFilter filter_;
    size_t frame_size_;
    std::unique_ptr<X265Session> session_;
};

// libde265 as a session: the stream pushed, pictures pulled in output order.
class PyDecoder {
public:
    PyDecoder(py::object loop_filter, int threads) : filter_(loop_filter) {
        session_ = std::make_unique<De265Session>(filter_.table, threads);
    }
    void push(py::bytes data) {
        std::string owned = data;
        run_released(filter_, [&] {
            session_->push((const uint8_t*)owned.data(), owned.size());
            return 0;
        });
    }
    void end() { session_->end(); }
    py::object pull() {
        std::optional<DecodedPicture> pic = run_released(filter_, [&] { return session_->pull(); });
        if (!pic) return py::none();
        return py::make_tuple(pic->width, pic->height, to_array(std::move(pic->i420)), pic->bit_depth);
    }
    int hash_mismatches() const { return session_->hash_mismatches(); }
    std::vector<std::string> warnings() const { return session_->warnings(); }

private:
    BoundFilter filter_;
    std::unique_ptr<De265Session> session_;
};

py::capsule filter_capsule(const hmcnn_filter* table) {
    return py::capsule((void*)table, HMCNN_FILTER_CAPSULE_NAME);
}

class PySmoothingFilter {
public:
    PySmoothingFilter(int model_id, bool rdo, int log2_block, double lambda_scale) {
        if (model_id < 0 || model_id > 255) throw py::value_error("model_id must be in 0..255");
        if (log2_block < 3 || log2_block > 8) throw py::value_error("log2_block must be in 3..8");
        if (!(lambda_scale >= 0)) throw py::value_error("lambda_scale must be >= 0");
        filter_ = std::make_unique<SmoothingFilter>(SmoothingFilterOptions{model_id, rdo, log2_block, lambda_scale});
    }
    py::capsule capsule() const { return filter_capsule(filter_->table()); }
    std::string repr() const {
        const SmoothingFilterOptions& o = filter_->options();
        return "SmoothingFilter(model_id=" + std::to_string(o.model_id) + ", rdo=" + (o.rdo ? "True" : "False") +
               ", log2_block=" + std::to_string(o.log2_block) + ", lambda_scale=" + py::repr(py::float_(o.lambda_scale)).cast<std::string>() + ")";
    }

private:
    std::unique_ptr<SmoothingFilter> filter_;
};

struct PyNoopFilter {
    NoopFilter filter;
    py::capsule capsule() const { return filter_capsule(filter.table()); }
};

// The filter as a post-filter: decode_picture on each decoded picture, outside any loop,
// without side information (placement HMCNN_PLACEMENT_POST). frames: I420, count of them.
py::array_t<uint8_t> post_filter(py::object loop_filter, py::buffer frames, int count, int width, int height,
                                 const std::vector<int>& qps, const std::vector<int>& slice_types) {
    py::buffer_info in = frames.request();
    const size_t luma = (size_t)width * height, frame_size = luma * 3 / 2;
    if (in.itemsize != 1 || (size_t)in.size != frame_size * count || (int)qps.size() != count ||
        (int)slice_types.size() != count)
        throw py::value_error("post_filter: frames must be count I420 pictures, with a QP and slice type each");
    py::array_t<uint8_t> out((py::ssize_t)(frame_size * count));
    uint8_t* data = out.mutable_data();
    std::memcpy(data, in.ptr, frame_size * count);
    run_with_filter(loop_filter, [&](const hmcnn_filter* f) {
        for (int i = 0; i < count; i++) {
            uint8_t* frame = data + frame_size * i;
            hmcnn_picture pic = i420_picture(width, height, frame, frame + luma, frame + luma + luma / 4);
            pic.poc = i;
            pic.slice_qp = qps[i];
            pic.slice_type = slice_types[i];
            pic.ctu_size = 64;
            pic.placement = HMCNN_PLACEMENT_POST;
            if (f->decode_picture(f->self, &pic, nullptr, 0) != 0)
                throw std::runtime_error("post-filter failed on picture " + std::to_string(i));
        }
        return 0;
    });
    return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "hm-cnn-loop codec bridge: patched x265 + libde265 with an in-loop filter hook";
    m.attr("FILTER_ABI_VERSION") = HMCNN_FILTER_ABI_VERSION;
    m.attr("FILTER_CAPSULE_NAME") = HMCNN_FILTER_CAPSULE_NAME;
    m.attr("FILTER_OPEN_SYMBOL") = HMCNN_FILTER_OPEN_SYMBOL;
    m.attr("FILTER_CLOSE_SYMBOL") = HMCNN_FILTER_CLOSE_SYMBOL;
    m.attr("FILTER_OPEN_ERROR_SYMBOL") = HMCNN_FILTER_OPEN_ERROR_SYMBOL;
    m.attr("MAX_SIDE_INFO") = HMCNN_MAX_SIDE_INFO;
    m.attr("BLOCK_POLICY") = block_policy_id();  // our native filters' on/off rule (block_policy.h)
    m.attr("DEFAULT_MIN_GAIN") = kDefaultMinGain;  // the CNN filters' picture threshold (block_policy.h)
    m.attr("DEFAULT_LOG2_BLOCK") = BlockSwitchOptions().log2_block;  // their on/off block size
    m.attr("X265_VERSION") = x265_version_str;
    m.attr("X265_BUILD") = x265_build_info_str;
    m.attr("LIBDE265_VERSION") = de265_get_version();
#ifdef HMCNN_X265_ASSEMBLY
    m.attr("X265_ASSEMBLY") = true;  // built with nasm: x265's assembly primitives
#else
    m.attr("X265_ASSEMBLY") = false;
#endif
    m.attr("SIDE_INFO_NAL_TYPE") = HMCNN_SIDE_INFO_NAL_TYPE;  // the NAL unit carrying side information
    m.attr("SIDE_INFO_LAYOUT") = HMCNN_SIDE_INFO_LAYOUT;      // our filters' layout of it

    py::class_<PictureView>(m, "Picture", "One picture handed to a Python loop filter (valid during the call)")
        .def_readonly("y", &PictureView::y, "writable luma view (height x width, uint8)")
        .def_readonly("u", &PictureView::u)
        .def_readonly("v", &PictureView::v)
        .def_readonly("orig", &PictureView::orig, "encoder: (y, u, v) of the source picture; decoder: None")
        .def_readonly("side_info", &PictureView::side_info, "decoder: the bytes the encoder-side call returned")
        .def_readonly("width", &PictureView::width)
        .def_readonly("height", &PictureView::height)
        .def_readonly("poc", &PictureView::poc)
        .def_readonly("qp", &PictureView::qp, "slice QP")
        .def_readonly("slice_type", &PictureView::slice_type, "HEVC slice_type: 0 B, 1 P, 2 I")
        .def_readonly("temporal_id", &PictureView::temporal_id)
        .def_readonly("ctu_size", &PictureView::ctu_size)
        .def_readonly("is_encoder", &PictureView::is_encoder)
        .def_readonly("placement", &PictureView::placement, "'loop' (in a codec's loop) or 'post' (on decoded output)");

    py::class_<PySmoothingFilter>(m, "SmoothingFilter",
                                  "Native demo/test loop filter: 3x3 binomial luma smoothing, per-block on/off "
                                  "by D + lambda * R")
        .def(py::init<int, bool, int, double>(), py::arg("model_id") = 0, py::arg("rdo") = true,
             py::arg("log2_block") = 6, py::arg("lambda_scale") = 1.0)
        .def("__hmcnn_filter__", &PySmoothingFilter::capsule)
        .def("__repr__", &PySmoothingFilter::repr);

    py::class_<PyNoopFilter>(m, "NoopFilter", "Native loop filter that changes nothing (measures the hook's cost)")
        .def(py::init<>())
        .def("__hmcnn_filter__", &PyNoopFilter::capsule)
        .def("__repr__", [](const PyNoopFilter&) { return std::string("NoopFilter()"); });

    py::class_<EncoderSettings>(m, "EncoderSettings", "What x265 is asked to do (see bridge/x265_encoder.h)")
        .def(py::init<>())
        .def_readwrite("width", &EncoderSettings::width)
        .def_readwrite("height", &EncoderSettings::height)
        .def_readwrite("fps_num", &EncoderSettings::fps_num)
        .def_readwrite("fps_den", &EncoderSettings::fps_den)
        .def_readwrite("preset", &EncoderSettings::preset)
        .def_readwrite("tune", &EncoderSettings::tune)
        .def_readwrite("options", &EncoderSettings::options, "x265 (name, value) pairs; value '' for a flag")
        .def_readwrite("forced_qp", &EncoderSettings::forced_qp, "slice QP forced on each input frame (empty: none)")
        .def_readwrite("frame_threads", &EncoderSettings::frame_threads)
        .def_readwrite("pool_threads", &EncoderSettings::pool_threads)
        .def_readwrite("bit_depth", &EncoderSettings::bit_depth,
                       "8 or 10 (frames then hold two little-endian bytes per sample)")
        .def_readwrite("first_poc", &EncoderSettings::first_poc,
                       "a segment's first picture's index in the whole sequence (0: a whole sequence)");

    py::class_<PyCodedPicture>(m, "CodedPicture", "One coded picture as x265 returned it (decoding order)")
        .def_readonly("poc", &PyCodedPicture::poc, "display index")
        .def_readonly("slice_type", &PyCodedPicture::slice_type, "I, P, B (referenced) or b")
        .def_readonly("qp", &PyCodedPicture::qp, "the picture's average QP as x265 reports it")
        .def_readonly("data", &PyCodedPicture::data, "the access unit's NAL units (Annex B)")
        .def_readonly("recon", &PyCodedPicture::recon, "its reconstruction, I420 bytes");

    py::class_<PyEncoder>(m, "X265Encoder", "The patched x265, one frame at a time")
        .def(py::init<const EncoderSettings&, int, py::object>(), py::arg("settings"), py::arg("count"),
             py::arg("loop_filter"))
        .def_property_readonly("headers", &PyEncoder::headers)
        .def("push", &PyEncoder::push, py::arg("frame"), "codes one I420 frame; a CodedPicture or None")
        .def("flush", &PyEncoder::flush, "after the last frame: the next remaining CodedPicture, or None");

    py::class_<PyDecoder>(m, "De265Decoder", "The patched libde265, pictures pulled one at a time")
        .def(py::init<py::object, int>(), py::arg("loop_filter"), py::arg("threads"))
        .def("push", &PyDecoder::push, py::arg("data"))
        .def("end", &PyDecoder::end)
        .def("pull", &PyDecoder::pull, "(width, height, I420 bytes, bit depth) of the next output picture (9..16 bits: "
             "two bytes per sample, little-endian), or None")
        .def_property_readonly("hash_mismatches", &PyDecoder::hash_mismatches)
        .def_property_readonly("warnings", &PyDecoder::warnings);

    m.def("post_filter", &post_filter, py::arg("loop_filter"), py::arg("frames"), py::arg("count"), py::arg("width"),
          py::arg("height"), py::arg("qps"), py::arg("slice_types"));
    m.attr("PLACEMENT_LOOP") = (int)HMCNN_PLACEMENT_LOOP;
    m.attr("PLACEMENT_POST") = (int)HMCNN_PLACEMENT_POST;
}
