#include "bridge/python_filter.h"

#include <pybind11/numpy.h>

#include <cstring>

#include "filters/filter_table.h"

namespace hmcnn {

PythonFilter::PythonFilter(py::object callable)
    : callable_(std::move(callable)), table_(make_filter_table(this)) {}

void PythonFilter::rethrow_if_failed() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (error_) throw py::error_already_set(*error_);
}

int PythonFilter::encode_picture(const hmcnn_picture* pic, uint8_t* side_info, size_t capacity, size_t* size) {
    return call(pic, nullptr, 0, side_info, capacity, size);
}

int PythonFilter::decode_picture(const hmcnn_picture* pic, const uint8_t* side_info, size_t size) {
    return call(pic, side_info, size, nullptr, 0, nullptr);
}

namespace {

py::array plane_view(void* data, ptrdiff_t stride, int width, int height, bool writable) {
    // the capsule does not own the memory: the codec does, for the duration of the call
    py::array a(py::dtype::of<uint8_t>(), {height, width}, {(ptrdiff_t)stride, (ptrdiff_t)1},
                data, py::capsule(data, [](void*) {}));
    if (!writable) a.attr("setflags")(py::arg("write") = false);
    return a;
}

}  // namespace

int PythonFilter::call(const hmcnn_picture* pic, const uint8_t* side_in, size_t side_in_size,
                       uint8_t* side_out, size_t capacity, size_t* side_out_size) {
    if (side_out_size) *side_out_size = 0;
    py::gil_scoped_acquire gil;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (error_) return -1;  // an earlier picture failed: the coding is being aborted
    }
    try {
        if (pic->bit_depth != 8 || pic->chroma_format != 1)
            throw std::runtime_error("Python loop filters get 8-bit 4:2:0 pictures only");
        PictureView view;
        view.width = pic->width;
        view.height = pic->height;
        view.poc = pic->poc;
        view.qp = pic->slice_qp;
        view.slice_type = pic->slice_type;
        view.temporal_id = pic->temporal_id;
        view.ctu_size = pic->ctu_size;
        view.is_encoder = pic->is_encoder != 0;
        view.placement = hmcnn_placement_of(pic) == HMCNN_PLACEMENT_POST ? "post" : "loop";
        int cw = pic->width / 2, ch = pic->height / 2;
        py::array y = plane_view(pic->plane[0], pic->stride[0], pic->width, pic->height, true);
        py::array u = plane_view(pic->plane[1], pic->stride[1], cw, ch, true);
        py::array v = plane_view(pic->plane[2], pic->stride[2], cw, ch, true);
        view.y = y; view.u = u; view.v = v;
        if (pic->orig[0]) {
            view.orig = py::make_tuple(
                plane_view((void*)pic->orig[0], pic->orig_stride[0], pic->width, pic->height, false),
                plane_view((void*)pic->orig[1], pic->orig_stride[1], cw, ch, false),
                plane_view((void*)pic->orig[2], pic->orig_stride[2], cw, ch, false));
        } else {
            view.orig = py::none();
        }
        view.side_info = py::bytes((const char*)side_in, side_in_size);

        py::object result = callable_(py::cast(std::move(view)));
        // the views die with the call: stop writes through any reference the filter kept
        for (py::array* a : {&y, &u, &v}) a->attr("setflags")(py::arg("write") = false);

        if (side_out && !result.is_none()) {
            py::buffer_info info = py::buffer(result).request();
            size_t n = (size_t)info.size * (size_t)info.itemsize;
            if (n > capacity)
                throw py::value_error("side information of " + std::to_string(n) + " bytes exceeds " +
                                      std::to_string(capacity));
            std::memcpy(side_out, info.ptr, n);
            *side_out_size = n;
        }  // a decoder-side return value is ignored, so one callable can serve both sides
        return 0;
    } catch (py::error_already_set& e) {
        std::lock_guard<std::mutex> lock(mutex_);
        message_ = e.what();
        error_ = std::make_unique<py::error_already_set>(std::move(e));
    } catch (py::builtin_exception& e) {  // value_error, type_error, ... raised above
        e.set_error();
        std::lock_guard<std::mutex> lock(mutex_);
        message_ = e.what();
        error_ = std::make_unique<py::error_already_set>();
    } catch (const std::exception& e) {
        py::set_error(PyExc_RuntimeError, e.what());
        std::lock_guard<std::mutex> lock(mutex_);
        message_ = e.what();
        error_ = std::make_unique<py::error_already_set>();
    }
    return -1;
}

}  // namespace hmcnn
