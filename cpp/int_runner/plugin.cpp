// The integer CNN filter as a plain plug-in (libhmcnn_int_filter.so), without libtorch:
//
//   const hmcnn_filter* hmcnn_filter_open("models=DIR;kernel=auto|scalar|avx2;threads=N;stripe=R;rdo=1");
//
// DIR holds .hmq models (manifest.json, as `hmcnn quantize` writes it, or qpNN.hmq files).
#include <cstdio>
#include <map>
#include <sstream>
#include <string>

#include "common/model_zoo.h"
#include "int_runner/int_filter.h"

namespace {

std::map<std::string, std::string> parse_options(const char* text) {
    std::map<std::string, std::string> out;
    std::stringstream ss(text ? text : "");
    std::string item;
    while (std::getline(ss, item, ';')) {
        if (item.empty()) continue;
        size_t eq = item.find('=');
        if (eq == std::string::npos) throw std::invalid_argument("option '" + item + "' is not key=value");
        out[item.substr(0, eq)] = item.substr(eq + 1);
    }
    return out;
}

int to_int(std::map<std::string, std::string>& o, const char* key, int fallback) {
    if (!o.count(key)) return fallback;
    size_t used = 0;
    int v = std::stoi(o[key], &used);
    if (used != o[key].size()) throw std::invalid_argument(std::string("option ") + key + " is not an integer");
    return v;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) const hmcnn_filter* hmcnn_filter_open(const char* options) {
    try {
        auto o = parse_options(options);
        for (const auto& kv : o)
            if (kv.first != "models" && kv.first != "kernel" && kv.first != "threads" && kv.first != "stripe" &&
                kv.first != "rdo" && kv.first != "log2_block")
                throw std::invalid_argument("unknown option '" + kv.first + "'");
        if (!o.count("models")) throw std::invalid_argument("options need models=DIR");
        hmcnn::ModelZoo zoo = hmcnn::read_model_zoo(o["models"], ".hmq");
        hmcnn::IntFilterOptions f;
        f.qps = zoo.qps;
        f.paths = zoo.paths;
        std::string k = o.count("kernel") ? o["kernel"] : "auto";
        if (k != "auto" && k != "scalar" && k != "avx2") throw std::invalid_argument("kernel must be auto, scalar or avx2");
        f.run.kernel = k == "scalar" ? hmcnn::IntKernel::Scalar
                       : k == "avx2" ? hmcnn::IntKernel::Avx2
                                     : hmcnn::best_int_kernel();
        f.run.threads = to_int(o, "threads", 1);
        f.run.stripe = to_int(o, "stripe", 64);
        f.rdo = to_int(o, "rdo", 1) != 0;
        f.log2_block = to_int(o, "log2_block", 6);
        return (new hmcnn::IntFilter(f))->table();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hmcnn_filter_open: %s\n", e.what());
        return nullptr;
    }
}

__attribute__((visibility("default"))) void hmcnn_filter_close(const hmcnn_filter* filter) {
    if (filter) delete static_cast<hmcnn::IntFilter*>(filter->self);
}

}  // extern "C"
