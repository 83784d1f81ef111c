// cnn_filter._runner: the libtorch CNN loop filter as a Python object that
// hm_bridge.encode/decode accept as loop_filter (through __hmcnn_filter__).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>

#include "torch_runner/torch_filter.h"

namespace py = pybind11;
using namespace hmcnn;

namespace {

class Runner {
public:
    Runner(std::vector<int> qps, std::vector<std::string> paths, std::string device, bool half, int tile,
           int context, int log2_block, bool rdo) {
        TorchFilterOptions o;
        o.qps = std::move(qps); o.paths = std::move(paths); o.device = std::move(device); o.half = half;
        o.tile = tile; o.context = context; o.log2_block = log2_block; o.rdo = rdo;
        py::gil_scoped_release release;
        filter_ = std::make_unique<TorchFilter>(o);
    }
    py::capsule capsule() const { return py::capsule((void*)filter_->table(), HMCNN_FILTER_CAPSULE_NAME); }
    int select_model(int qp) const { return filter_->select_model(qp); }
    std::vector<int> qps() const { return filter_->qps(); }
    std::string device() const { return filter_->device(); }

    py::tuple filter_plane(int index, py::array_t<uint8_t, py::array::c_style | py::array::forcecast> y) const {
        if (y.ndim() != 2) throw py::value_error("expected a 2-D uint8 luma plane");
        if (index < 0 || index >= (int)filter_->qps().size()) throw py::index_error("no such model");
        int h = (int)y.shape(0), w = (int)y.shape(1);
        std::vector<float> raw;
        std::vector<uint8_t> out;
        {
            py::gil_scoped_release release;
            out = filter_->filter_plane(index, y.data(), w, w, h, &raw);
        }
        py::array_t<uint8_t> q({h, w});
        py::array_t<float> f({h, w});
        std::memcpy(q.mutable_data(), out.data(), out.size());
        std::memcpy(f.mutable_data(), raw.data(), raw.size() * sizeof(float));
        return py::make_tuple(q, f);
    }

private:
    std::unique_ptr<TorchFilter> filter_;
};

}  // namespace

PYBIND11_MODULE(_runner, m) {
    m.doc() = "libtorch CNN in-loop filter implementing the hm-cnn-loop filter ABI";
    py::class_<Runner>(m, "TorchRunner")
        .def(py::init<std::vector<int>, std::vector<std::string>, std::string, bool, int, int, int, bool>(),
             py::arg("qps"), py::arg("paths"), py::arg("device") = "cpu", py::arg("half") = false,
             py::arg("tile") = 256, py::arg("context") = 16, py::arg("log2_block") = 6, py::arg("rdo") = true)
        .def("__hmcnn_filter__", &Runner::capsule)
        .def("select_model", &Runner::select_model, "index of the model used for a slice QP")
        .def("filter_plane", &Runner::filter_plane, py::arg("index"), py::arg("y"),
             "run model `index` on a luma plane as the loop does: (uint8 output, float output x255)")
        .def_property_readonly("qps", &Runner::qps)
        .def_property_readonly("device", &Runner::device);
}
