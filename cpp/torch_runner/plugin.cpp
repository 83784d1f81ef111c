// The libtorch CNN filter as a plain plug-in (libhmcnn_torch_filter.so): any C/C++ codec
// (HM, a user's own) dlopens it and calls
//
//   const hmcnn_filter* hmcnn_filter_open("models=DIR;device=cpu|cuda|cuda:N;...");
//   void hmcnn_filter_close(const hmcnn_filter*);
//
// Options, ';'-separated key=value: models (a model directory or file, required), device
// (default cpu), tile (256), context (enough for the architecture's receptive radius),
// log2_block (6), rdo (1), min_gain (see block_policy.h), search (1: the encoder tries the nearest-QP
// model of each kind; block_switched_filter.h), block_sizes (2: log2_block and its half;
// block_policy.h), half (0: fp16 on CUDA). No Python anywhere. Integer models (.hmq, `hmcnn quantize`) run exactly, to the integer
// runner's bits, on any device (exact_int_models.h); they take models, device, stripe, log2_block,
// rdo, min_gain, search, block_sizes.
#include <algorithm>
#include <cstdio>
#include <string>

#include "inloop_filter.h"
#include "common/model_zoo.h"
#include "common/plugin_options.h"
#include "torch_runner/exact_int_models.h"
#include "torch_runner/torch_filter.h"

extern "C" {

__attribute__((visibility("default"))) const hmcnn_filter* hmcnn_filter_open(const char* options) {
    hmcnn::open_error().clear();
    try {
        hmcnn::PluginOptions o(options, {"models", "device", "tile", "context", "log2_block", "rdo", "half", "min_gain",
                                         "search", "block_sizes", "stripe"});
        if (!o.has("models")) throw std::invalid_argument("options need models=DIR");
        hmcnn::ModelZoo zoo = hmcnn::read_model_zoo(o.text("models", ""));
        bool integer = std::all_of(zoo.paths.begin(), zoo.paths.end(), [](const std::string& p) {
            return p.size() > 4 && p.compare(p.size() - 4, 4, ".hmq") == 0;
        });
        if (integer) {
            for (const char* k : {"tile", "context", "half"})
                if (o.has(k)) throw std::invalid_argument(std::string("option ") + k + " does not apply to integer models");
            hmcnn::ExactIntOptions e;
            e.qps = zoo.qps;
            e.paths = zoo.paths;
            e.inter = zoo.inter;
            e.device = o.text("device", "cpu");
            e.stripe = o.integer("stripe", e.stripe);
            e.blocks = hmcnn::block_switch_options(o);
            return hmcnn::make_exact_int_filter(e).release()->table();
        }
        if (o.has("stripe")) throw std::invalid_argument("option stripe applies to integer models only");
        hmcnn::TorchFilterOptions t;
        t.qps = zoo.qps;
        t.paths = zoo.paths;
        t.inter = zoo.inter;
        t.kind = zoo.kind;
        t.device = o.text("device", "cpu");
        t.tile = o.integer("tile", 256);
        int least = std::max(16, (zoo.receptive_radius + 7) / 8 * 8);  // as cnn_filter.loader.default_context
        t.context = o.integer("context", least);
        if (t.context < zoo.receptive_radius)
            throw std::invalid_argument("context " + std::to_string(t.context) + " is below the model's receptive radius " +
                                        std::to_string(zoo.receptive_radius));
        t.blocks = hmcnn::block_switch_options(o);
        t.half = o.integer("half", 0) != 0;
        return hmcnn::make_torch_filter(t).release()->table();
    } catch (const std::exception& e) {
        hmcnn::open_error() = e.what();  // open returns NULL: say why (hmcnn_filter_open_error)
        std::fprintf(stderr, "hmcnn_filter_open: %s\n", e.what());  // and where HM's users look
        return nullptr;
    }
}

__attribute__((visibility("default"))) const char* hmcnn_filter_open_error(void) {
    return hmcnn::open_error().c_str();
}

__attribute__((visibility("default"))) void hmcnn_filter_close(const hmcnn_filter* filter) {
    if (filter) delete static_cast<hmcnn::BlockSwitchedFilter*>(filter->self);
}

}  // extern "C"
