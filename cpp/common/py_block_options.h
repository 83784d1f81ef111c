// The block switching's options (filters/block_switched_filter.h) as plain fields of a
// runner's options class in Python (log2_block, rdo, min_gain, search, block_sizes), for the pybind modules.
#pragma once
#include <pybind11/pybind11.h>

namespace hmcnn {

template <class Options>
void bind_block_options(pybind11::class_<Options>& c) {
    c.def_property("log2_block", [](const Options& o) { return o.blocks.log2_block; },
                   [](Options& o, int v) { o.blocks.log2_block = v; })
        .def_property("rdo", [](const Options& o) { return o.blocks.rdo; }, [](Options& o, bool v) { o.blocks.rdo = v; })
        .def_property("min_gain", [](const Options& o) { return o.blocks.min_gain; },
                      [](Options& o, double v) { o.blocks.min_gain = v; })
        .def_property("search", [](const Options& o) { return o.blocks.search; },
                      [](Options& o, int v) { o.blocks.search = v; })
        .def_property("block_sizes", [](const Options& o) { return o.blocks.block_sizes; },
                      [](Options& o, int v) { o.blocks.block_sizes = v; });
}

}  // namespace hmcnn
