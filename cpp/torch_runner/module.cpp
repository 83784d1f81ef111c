// cnn_filter._runner: the libtorch CNN loop filter as a Python object that
// hm_bridge.encode/decode accept as loop_filter (through __hmcnn_filter__).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>

#include "common/i420_picture.h"
#include "common/py_block_options.h"
#include "torch_runner/exact_int_models.h"
#include "torch_runner/torch_filter.h"

namespace py = pybind11;
using namespace hmcnn;

namespace {

using Plane = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

py::array_t<uint8_t> to_array(const std::vector<uint8_t>& v, int h, int w) {
    py::array_t<uint8_t> a({h, w});
    std::memcpy(a.mutable_data(), v.data(), v.size());
    return a;
}

class Runner {
public:
    explicit Runner(const TorchFilterOptions& o) {
        py::gil_scoped_release release;
        filter_ = make_torch_filter(o);
        models_ = static_cast<const TorchModels*>(&filter_->models());
    }
    py::capsule capsule() const { return py::capsule((void*)filter_->table(), HMCNN_FILTER_CAPSULE_NAME); }
    int select_model(int qp, int slice_type) const { return models_->select_model(qp, slice_type); }
    std::vector<int> qps() const { return models_->qps(); }
    std::string device() const { return models_->device(); }

    void check_index(int index) const {
        if (index < 0 || index >= models_->count()) throw py::index_error("no such model");
    }

    // Luma models: (uint8 output, float output x255) of model `index` on a luma plane.
    py::tuple filter_plane(int index, Plane y) const {
        if (y.ndim() != 2) throw py::value_error("expected a 2-D uint8 luma plane");
        check_index(index);
        int h = (int)y.shape(0), w = (int)y.shape(1);
        std::vector<float> raw;
        std::vector<uint8_t> out;
        {
            py::gil_scoped_release release;
            out = models_->filter_plane(index, y.data(), w, w, h, &raw);
        }
        py::array_t<float> f({h, w});
        std::memcpy(f.mutable_data(), raw.data(), raw.size() * sizeof(float));
        return py::make_tuple(to_array(out, h, w), f);
    }

    // Any model: the picture's (y, u, v) after model `index` at slice QP `qp`, as in the loop.
    py::tuple filter_picture(int index, Plane y, Plane u, Plane v, int qp) const {
        check_index(index);
        int h = (int)y.shape(0), w = (int)y.shape(1);
        if (y.ndim() != 2 || u.ndim() != 2 || v.ndim() != 2 || w % 2 || h % 2 || u.shape(0) != h / 2 ||
            u.shape(1) != w / 2 || v.shape(0) != h / 2 || v.shape(1) != w / 2)
            throw py::value_error("expected 4:2:0 uint8 planes of even size");
        hmcnn_picture pic = i420_picture(w, h, (void*)y.data(), (void*)u.data(), (void*)v.data());
        pic.slice_qp = qp;
        FilteredPlanes out;
        {
            py::gil_scoped_release release;
            out = models_->filter_picture(index, &pic);
        }
        if (out.u.empty()) return py::make_tuple(to_array(out.y, h, w), u, v);
        return py::make_tuple(to_array(out.y, h, w), to_array(out.u, h / 2, w / 2), to_array(out.v, h / 2, w / 2));
    }

private:
    std::unique_ptr<BlockSwitchedFilter> filter_;
    const TorchModels* models_ = nullptr;
};

// An integer model on libtorch (any device), to the integer runner's bits.
class ExactIntRunner {
public:
    explicit ExactIntRunner(const ExactIntOptions& o) {
        py::gil_scoped_release release;
        filter_ = make_exact_int_filter(o);
        models_ = static_cast<const ExactIntModels*>(&filter_->models());
    }
    py::capsule capsule() const { return py::capsule((void*)filter_->table(), HMCNN_FILTER_CAPSULE_NAME); }
    int select_model(int qp, int slice_type) const { return models_->select_model(qp, slice_type); }
    std::string device() const { return models_->device(); }
    py::array_t<uint8_t> filter_plane(int index, Plane y) const {
        if (y.ndim() != 2) throw py::value_error("expected a 2-D uint8 luma plane");
        if (index < 0 || index >= models_->count()) throw py::index_error("no such model");
        int h = (int)y.shape(0), w = (int)y.shape(1);
        std::vector<uint8_t> out;
        {
            py::gil_scoped_release release;
            out = models_->filter_plane(index, y.data(), w, w, h);
        }
        return to_array(out, h, w);
    }

private:
    std::unique_ptr<BlockSwitchedFilter> filter_;
    const ExactIntModels* models_ = nullptr;
};

}  // namespace

PYBIND11_MODULE(_runner, m) {
    m.doc() = "libtorch CNN in-loop filter implementing the hm-cnn-loop filter ABI";
    py::class_<TorchFilterOptions> options(m, "TorchFilterOptions");
    options.def(py::init<>())
        .def_readwrite("qps", &TorchFilterOptions::qps)
        .def_readwrite("paths", &TorchFilterOptions::paths)
        .def_readwrite("inter", &TorchFilterOptions::inter)
        .def_readwrite("kind", &TorchFilterOptions::kind)
        .def_readwrite("device", &TorchFilterOptions::device)
        .def_readwrite("half", &TorchFilterOptions::half)
        .def_readwrite("tile", &TorchFilterOptions::tile)
        .def_readwrite("context", &TorchFilterOptions::context);
    bind_block_options(options);
    py::class_<Runner>(m, "TorchRunner")
        .def(py::init<const TorchFilterOptions&>(), py::arg("options"))
        .def("__hmcnn_filter__", &Runner::capsule)
        .def("select_model", &Runner::select_model, py::arg("qp"), py::arg("slice_type") = (int)HMCNN_SLICE_I,
             "index of the model for a picture of slice QP `qp` and HEVC slice_type (0 B, 1 P, 2 I)")
        .def("filter_plane", &Runner::filter_plane, py::arg("index"), py::arg("y"),
             "luma models: run model `index` on a luma plane as the loop does: (uint8 output, float output x255)")
        .def("filter_picture", &Runner::filter_picture, py::arg("index"), py::arg("y"), py::arg("u"), py::arg("v"),
             py::arg("qp"), "run model `index` on a 4:2:0 picture as the loop does: (y, u, v) uint8")
        .def_property_readonly("qps", &Runner::qps)
        .def_property_readonly("device", &Runner::device);

    m.def("select_model_index", &select_model_index, py::arg("qps"), py::arg("inter"), py::arg("qp"),
          py::arg("slice_type"), "the runners' model choice (block_switched_filter.h; twin of zoo.select_index)");
    m.def("candidate_models", &candidate_models, py::arg("qps"), py::arg("inter"), py::arg("qp"), py::arg("slice_type"),
          py::arg("search"), "the models the encoder tries on a picture, best guess first (block_switched_filter.h)");
    m.def("exact_sum_bound", [](const std::string& path) {
        IntModel model = IntModel::load(path);
        std::vector<std::pair<std::string, double>> out;
        for (size_t i = 0; i < model.layers.size(); i++)
            out.emplace_back(model.layers[i].name, exact_sum_bound(model.layers[i], layer_input_max(model, (int)i)));
        return out;
    }, py::arg("path"), "per layer of an integer model: the largest float64 partial sum (< 2^53 or ValueError)");
    m.def("exact_sum_bound_of", [](py::array_t<int16_t, py::array::c_style | py::array::forcecast> w,
                                   std::vector<int32_t> bias, int shift, double input_max) {
        if (w.ndim() != 4 || (size_t)w.shape(0) != bias.size()) throw py::value_error("weights (cout, cin, k, k), one bias each");
        IntLayer l;
        l.name = "given";
        l.cout = (int)w.shape(0), l.cin = (int)w.shape(1), l.k = (int)w.shape(2), l.shift = shift;
        l.weight.assign(w.data(), w.data() + w.size());
        l.bias = bias;
        return exact_sum_bound(l, input_max);
    }, py::arg("weight"), py::arg("bias"), py::arg("shift"), py::arg("input_max"),
       "the same bound for one layer given as arrays (ValueError naming it if a sum could reach 2^53)");
    py::class_<ExactIntOptions> exact(m, "ExactIntOptions", "an integer model on libtorch (exact_int_models.h)");
    exact.def(py::init<>())
        .def_readwrite("qps", &ExactIntOptions::qps)
        .def_readwrite("paths", &ExactIntOptions::paths)
        .def_readwrite("inter", &ExactIntOptions::inter)
        .def_readwrite("device", &ExactIntOptions::device)
        .def_readwrite("stripe", &ExactIntOptions::stripe);
    bind_block_options(exact);
    py::class_<ExactIntRunner>(m, "ExactIntRunner")
        .def(py::init<const ExactIntOptions&>(), py::arg("options"))
        .def("__hmcnn_filter__", &ExactIntRunner::capsule)
        .def("select_model", &ExactIntRunner::select_model, py::arg("qp"), py::arg("slice_type") = (int)HMCNN_SLICE_I,
             "index of the model for a picture of slice QP `qp` and HEVC slice_type (0 B, 1 P, 2 I)")
        .def("filter_plane", &ExactIntRunner::filter_plane, py::arg("index"), py::arg("y"),
             "model `index` on a uint8 luma plane, exactly as the integer runner")
        .def_property_readonly("device", &ExactIntRunner::device);
}
