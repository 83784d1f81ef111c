// The integer CNN filter as a plain plug-in (libhmcnn_int_filter.so), without libtorch:
//
//   const hmcnn_filter* hmcnn_filter_open("models=DIR;device=cpu;kernel=auto|scalar|avx2|avx2-direct;threads=N;stripe=R (0: auto);rdo=1;min_gain=G;search=N;block_sizes=N");
//
// DIR holds .hmq models (manifest.json, as `hmcnn quantize` writes it, or qpNN.hmq files).
#include <cstdio>
#include <string>

#include "common/model_zoo.h"
#include "common/plugin_options.h"
#include "int_runner/int_filter.h"


extern "C" {

__attribute__((visibility("default"))) const hmcnn_filter* hmcnn_filter_open(const char* options) {
    hmcnn::open_error().clear();
    try {
        hmcnn::PluginOptions o(options, {"models", "device", "kernel", "threads", "stripe", "rdo", "log2_block", "min_gain",
                                           "search", "block_sizes"});
        if (o.has("device") && o.text("device", "") != "cpu")
            throw std::invalid_argument("device=" + o.text("device", "") + ": the integer plug-in runs on the CPU only");
        if (!o.has("models")) throw std::invalid_argument("options need models=DIR");
        hmcnn::ModelZoo zoo = hmcnn::read_model_zoo(o.text("models", ""), ".hmq");
        hmcnn::IntFilterOptions f;
        f.qps = zoo.qps;
        f.paths = zoo.paths;
        f.inter = zoo.inter;
        f.run.kernel = hmcnn::int_kernel_named(o.text("kernel", "auto"));
        f.run.threads = o.integer("threads", 1);
        f.run.stripe = o.integer("stripe", 0);  // 0: one stripe per thread
        f.blocks = hmcnn::block_switch_options(o);
        return hmcnn::make_int_filter(f).release()->table();
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
