// cnn_filter._int_runner: the integer CNN loop filter (no libtorch) as a Python object
// that hm_bridge.encode/decode accept as loop_filter (through __hmcnn_filter__).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>

#include "common/py_block_options.h"
#include "int_runner/int_filter.h"
#include "int_runner/int_mac_peak.h"

namespace py = pybind11;
using namespace hmcnn;

namespace {

class IntRunner {
public:
    explicit IntRunner(const IntFilterOptions& o) {
        filter_ = make_int_filter(o);
        models_ = static_cast<const IntModels*>(&filter_->models());
    }
    py::capsule capsule() const { return py::capsule((void*)filter_->table(), HMCNN_FILTER_CAPSULE_NAME); }
    int select_model(int qp, int slice_type) const { return models_->select_model(qp, slice_type); }
    std::vector<int> qps() const { return models_->qps(); }
    int model_hash(int index) const { return models_->model(index).hash; }
    int receptive_radius(int index) const { return models_->model(index).radius; }
    // the layers of model `index` that the avx2 kernel runs as exact Winograd
    std::vector<std::string> winograd_layers(int index) const {
        std::vector<std::string> names;
        for (const IntLayer& l : models_->model(index).layers)
            if (!l.wino_u.empty()) names.push_back(l.name);
        return names;
    }
    std::string kernel() const { return int_kernel_name(models_->run_settings().kernel); }

    // Model `index` on a uint8 luma plane; kernel/threads/stripe override the filter's own.
    py::array_t<uint8_t> filter_plane(int index, py::array_t<uint8_t, py::array::c_style | py::array::forcecast> y,
                                      const std::string& kernel, int threads, int stripe) const {
        return run_plane(index, y, kernel, threads, stripe, [&](const uint8_t* p, int w, int h, const IntRunSettings& s) {
            return models_->filter_plane(index, p, w, w, h, s);
        });
    }

    // Model `index` on a 9..12-bit uint16 luma plane (the model prepared for the depth).
    py::array_t<uint16_t> filter_plane_deep(int index, py::array_t<uint16_t, py::array::c_style | py::array::forcecast> y,
                                            int bit_depth, const std::string& kernel, int threads, int stripe) const {
        return run_plane(index, y, kernel, threads, stripe, [&](const uint16_t* p, int w, int h, const IntRunSettings& s) {
            return models_->filter_plane(index, p, bit_depth, w, w, h, s);
        });
    }

private:
    // The checks, the settings overridden, the GIL released around `run` (a plane of
    // samples, its width and height, the settings -> the filtered samples), the result.
    template <class Sample, class Run>
    py::array_t<Sample> run_plane(int index, const py::array_t<Sample, py::array::c_style | py::array::forcecast>& y,
                                  const std::string& kernel, int threads, int stripe, Run run) const {
        if (y.ndim() != 2) throw py::value_error("expected a 2-D luma plane");
        if (index < 0 || index >= (int)models_->qps().size()) throw py::index_error("no such model");
        IntRunSettings s = models_->run_settings();
        if (!kernel.empty()) s.kernel = int_kernel_named(kernel);
        if (threads > 0) s.threads = threads;
        if (stripe > 0) s.stripe = stripe;
        int h = (int)y.shape(0), w = (int)y.shape(1);
        std::vector<Sample> out;
        {
            py::gil_scoped_release release;
            out = run(y.data(), w, h, s);
        }
        py::array_t<Sample> a({h, w});
        std::memcpy(a.mutable_data(), out.data(), out.size() * sizeof(Sample));
        return a;
    }

    std::unique_ptr<BlockSwitchedFilter> filter_;
    const IntModels* models_ = nullptr;
};

}  // namespace

PYBIND11_MODULE(_int_runner, m) {
    m.doc() = "integer (fixed-point) CNN in-loop filter implementing the hm-cnn-loop filter ABI";
    m.def("best_kernel", [] { return std::string(int_kernel_name(best_int_kernel())); });
    m.def("int16_mac_peak", &int16_mac_peak, py::arg("threads") = 1, py::arg("seconds") = 1.0,
          "GMAC/s of the AVX2 inner step alone on `threads` threads: this runner's ceiling here");
    m.def("content_hash", [](py::bytes data) {
        std::string s = data;
        return (int)content_hash((const uint8_t*)s.data(), s.size());
    });
    py::class_<IntFilterOptions> options(m, "IntFilterOptions", "what the integer runner is asked to do (int_filter.h)");
    options.def(py::init<>())
        .def_readwrite("qps", &IntFilterOptions::qps)
        .def_readwrite("paths", &IntFilterOptions::paths)
        .def_readwrite("inter", &IntFilterOptions::inter)
        .def_property("kernel", [](const IntFilterOptions& o) { return std::string(int_kernel_name(o.run.kernel)); },
                      [](IntFilterOptions& o, const std::string& k) { o.run.kernel = int_kernel_named(k); })
        .def_property("threads", [](const IntFilterOptions& o) { return o.run.threads; },
                      [](IntFilterOptions& o, int v) { o.run.threads = v; })
        .def_property("stripe", [](const IntFilterOptions& o) { return o.run.stripe; },
                      [](IntFilterOptions& o, int v) { o.run.stripe = v; });
    bind_block_options(options);
    py::class_<IntRunner>(m, "IntRunner")
        .def(py::init<const IntFilterOptions&>(), py::arg("options"))
        .def("__hmcnn_filter__", &IntRunner::capsule)
        .def("select_model", &IntRunner::select_model, py::arg("qp"), py::arg("slice_type") = (int)HMCNN_SLICE_I,
             "index of the model for a picture of slice QP `qp` and HEVC slice_type (0 B, 1 P, 2 I)")
        .def("model_hash", &IntRunner::model_hash)
        .def("receptive_radius", &IntRunner::receptive_radius)
        .def("winograd_layers", &IntRunner::winograd_layers)
        .def("filter_plane", &IntRunner::filter_plane, py::arg("index"), py::arg("y"), py::arg("kernel") = "",
             py::arg("threads") = 0, py::arg("stripe") = 0)
        .def("filter_plane_deep", &IntRunner::filter_plane_deep, py::arg("index"), py::arg("y"), py::arg("bit_depth"),
             py::arg("kernel") = "", py::arg("threads") = 0, py::arg("stripe") = 0)
        .def_property_readonly("qps", &IntRunner::qps)
        .def_property_readonly("kernel", &IntRunner::kernel);
}
