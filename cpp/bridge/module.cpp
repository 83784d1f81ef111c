// hm_bridge._core: the pybind11 surface over the patched codecs. Kept small: Python
// (hm_bridge/) owns the user-facing API; this module moves bytes and pictures.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>

#include "bridge/checked_filter.h"
#include "bridge/de265_decoder.h"
#include "bridge/python_filter.h"
#include "bridge/x265_encoder.h"
#include "filters/noop_filter.h"
#include "filters/smoothing_filter.h"

namespace py = pybind11;
using namespace hmcnn;

namespace {

constexpr const char* kCapsuleName = "hmcnn_filter";

// Any object with __hmcnn_filter__() returning a PyCapsule named "hmcnn_filter" that
// holds a `const hmcnn_filter*` is a native filter (this is how filters built in other
// extensions, e.g. the libtorch runner, cross over); any other callable is a Python filter.
struct BoundFilter {
    const hmcnn_filter* table = nullptr;
    std::unique_ptr<PythonFilter> python;
    std::unique_ptr<CheckedFilter> native;
    py::object keepalive;

    explicit BoundFilter(const py::object& f) {
        if (f.is_none()) return;
        if (py::hasattr(f, "__hmcnn_filter__")) {
            py::object cap = f.attr("__hmcnn_filter__")();
            if (!PyCapsule_IsValid(cap.ptr(), kCapsuleName))
                throw py::type_error("__hmcnn_filter__() must return a PyCapsule named 'hmcnn_filter'");
            auto* raw = static_cast<const hmcnn_filter*>(PyCapsule_GetPointer(cap.ptr(), kCapsuleName));
            if (!raw || raw->abi_version != HMCNN_FILTER_ABI_VERSION)
                throw py::value_error("native loop filter speaks filter ABI version " +
                                      std::to_string(raw ? raw->abi_version : 0) + ", this build speaks " +
                                      std::to_string(HMCNN_FILTER_ABI_VERSION));
            if (!raw->encode_picture || !raw->decode_picture)
                throw py::value_error("native loop filter lacks encode_picture or decode_picture");
            native = std::make_unique<CheckedFilter>(raw);
            table = native->table();
            keepalive = f;
        } else if (PyCallable_Check(f.ptr())) {
            python = std::make_unique<PythonFilter>(f);
            table = python->table();
        } else {
            throw py::type_error("loop_filter must be None, a callable, or a native filter object");
        }
    }
    // After a coding run: a filter failure is raised with the filter's own explanation
    // (a Python filter's exception, a native filter's last_error), never hidden.
    void rethrow_filter_error() {
        if (python) python->rethrow_if_failed();
        if (native && native->failed()) throw std::runtime_error(native->failure());
    }
};

class SmoothingFilter {
public:
    SmoothingFilter(int model_id, bool rdo, int log2_block) {
        if (model_id < 0 || model_id > 255) throw py::value_error("model_id must be in 0..255");
        if (log2_block < 3 || log2_block > 8) throw py::value_error("log2_block must be in 3..8");
        filter_ = create_smoothing_filter({model_id, rdo, log2_block});
        opt_ = {model_id, rdo, log2_block};
    }
    ~SmoothingFilter() { destroy_smoothing_filter(filter_); }
    SmoothingFilter(const SmoothingFilter&) = delete;
    SmoothingFilter& operator=(const SmoothingFilter&) = delete;
    py::capsule capsule() const { return py::capsule((void*)filter_, kCapsuleName); }
    std::string repr() const {
        return "SmoothingFilter(model_id=" + std::to_string(opt_.model_id) + ", rdo=" + (opt_.rdo ? "True" : "False") +
               ", log2_block=" + std::to_string(opt_.log2_block) + ")";
    }

private:
    hmcnn_filter* filter_ = nullptr;
    SmoothingFilterOptions opt_;
};

struct NoopFilter {
    py::capsule capsule() const { return py::capsule((void*)noop_filter(), kCapsuleName); }
};

py::array_t<uint8_t> to_array(const std::vector<uint8_t>& v) {
    py::array_t<uint8_t> a((py::ssize_t)v.size());
    if (!v.empty()) std::memcpy(a.mutable_data(), v.data(), v.size());
    return a;
}

py::dict encode(py::buffer frames, int count, int width, int height, int fps_num, int fps_den,
                const std::string& preset, const std::string& tune,
                const std::vector<std::pair<std::string, std::string>>& options, const std::vector<int>& frame_qp,
                int frame_threads, int pool_threads, py::object loop_filter) {
    py::buffer_info in = frames.request();
    size_t need = (size_t)count * width * height * 3 / 2;
    if (in.itemsize != 1 || (size_t)in.size != need || (in.ndim > 0 && !PyBuffer_IsContiguous(in.view(), 'C')))
        throw py::value_error("frames must be " + std::to_string(need) + " contiguous bytes of I420");
    EncoderSettings s;
    s.width = width; s.height = height; s.fps_num = fps_num; s.fps_den = fps_den;
    s.preset = preset; s.tune = tune; s.options = options; s.frame_qp = frame_qp;
    s.frame_threads = frame_threads; s.pool_threads = pool_threads;

    BoundFilter filter(loop_filter);
    EncodeOutput out;
    try {
        py::gil_scoped_release release;
        out = encode_i420(s, (const uint8_t*)in.ptr, count, filter.table);
    } catch (const std::runtime_error&) {
        filter.rethrow_filter_error();
        throw;
    }
    filter.rethrow_filter_error();

    py::list units;
    for (const AccessUnit& au : out.units)
        units.append(py::make_tuple(au.poc, std::string(1, au.slice_type), au.qp, py::bytes(au.bytes)));
    py::dict d;
    d["headers"] = py::bytes(out.headers);
    d["units"] = units;
    d["recon"] = to_array(out.recon);
    d["version"] = out.version;
    return d;
}

py::dict decode(py::bytes bitstream, py::object loop_filter, int threads) {
    std::string data = bitstream;  // own a copy: the GIL is released below
    BoundFilter filter(loop_filter);
    DecodeOutput out;
    try {
        py::gil_scoped_release release;
        out = decode_annexb((const uint8_t*)data.data(), data.size(), filter.table, threads);
    } catch (const std::runtime_error&) {
        filter.rethrow_filter_error();
        throw;
    }
    filter.rethrow_filter_error();
    py::dict d;
    d["width"] = out.width;
    d["height"] = out.height;
    d["frames"] = out.frames;
    d["pictures"] = to_array(out.pictures);
    d["hash_mismatches"] = out.hash_mismatches;
    d["warnings"] = out.warnings;
    return d;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "hm-cnn-loop codec bridge: patched x265 + libde265 with an in-loop filter hook";
    m.attr("FILTER_ABI_VERSION") = HMCNN_FILTER_ABI_VERSION;
    m.attr("MAX_SIDE_INFO") = HMCNN_MAX_SIDE_INFO;
    static const uint8_t uuid[16] = HMCNN_SIDE_INFO_UUID;
    m.attr("SIDE_INFO_UUID") = py::bytes((const char*)uuid, 16);

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
        .def_readonly("is_encoder", &PictureView::is_encoder);

    py::class_<SmoothingFilter>(m, "SmoothingFilter",
                                "Native demo/test loop filter: 3x3 binomial luma smoothing, per-block on/off by SSE")
        .def(py::init<int, bool, int>(), py::arg("model_id") = 0, py::arg("rdo") = true, py::arg("log2_block") = 6)
        .def("__hmcnn_filter__", &SmoothingFilter::capsule)
        .def("__repr__", &SmoothingFilter::repr);

    py::class_<NoopFilter>(m, "NoopFilter", "Native loop filter that changes nothing (measures the hook's cost)")
        .def(py::init<>())
        .def("__hmcnn_filter__", &NoopFilter::capsule)
        .def("__repr__", [](const NoopFilter&) { return std::string("NoopFilter()"); });

    m.def("encode", &encode, py::arg("frames"), py::arg("count"), py::arg("width"), py::arg("height"),
          py::arg("fps_num"), py::arg("fps_den"), py::arg("preset"), py::arg("tune"), py::arg("options"),
          py::arg("frame_qp"), py::arg("frame_threads"), py::arg("pool_threads"), py::arg("loop_filter"));
    m.def("decode", &decode, py::arg("bitstream"), py::arg("loop_filter"), py::arg("threads"));
}
