// The libtorch CNN filter as a plain plug-in (libhmcnn_torch_filter.so): any C/C++ codec
// (HM, a user's own) dlopens it and calls
//
//   const hmcnn_filter* hmcnn_filter_open("models=DIR;device=cpu|cuda|cuda:N;...");
//   void hmcnn_filter_close(const hmcnn_filter*);
//
// Options, ';'-separated key=value: models (a model directory or file, required), device
// (default cpu), tile (256), context (enough for the architecture's receptive radius),
// log2_block (6), rdo (1), half (0: fp16 on CUDA). No Python anywhere.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>

#include "inloop_filter.h"
#include "common/model_zoo.h"
#include "torch_runner/torch_filter.h"

namespace {

thread_local std::string g_open_error;

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

int to_int(const std::map<std::string, std::string>& o, const char* key, int fallback) {
    auto it = o.find(key);
    if (it == o.end()) return fallback;
    try {
        size_t used = 0;
        int v = std::stoi(it->second, &used);
        if (used == it->second.size()) return v;
    } catch (const std::logic_error&) {
    }
    throw std::invalid_argument(std::string("option ") + key + "=" + it->second + " is not an integer");
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) const hmcnn_filter* hmcnn_filter_open(const char* options) {
    try {
        auto o = parse_options(options);
        static const char* known[] = {"models", "device", "tile", "context", "log2_block", "rdo", "half"};
        for (const auto& kv : o) {
            bool ok = false;
            for (const char* k : known) ok |= kv.first == k;
            if (!ok) throw std::invalid_argument("unknown option '" + kv.first + "'");
        }
        if (!o.count("models")) throw std::invalid_argument("options need models=DIR");
        hmcnn::ModelZoo zoo = hmcnn::read_model_zoo(o["models"]);
        hmcnn::TorchFilterOptions t;
        t.qps = zoo.qps;
        t.paths = zoo.paths;
        t.kind = zoo.kind;
        t.device = o.count("device") ? o["device"] : "cpu";
        t.tile = to_int(o, "tile", 256);
        int least = std::max(16, (zoo.receptive_radius + 7) / 8 * 8);  // as cnn_filter.loader.default_context
        t.context = to_int(o, "context", least);
        if (t.context < zoo.receptive_radius)
            throw std::invalid_argument("context " + std::to_string(t.context) + " is below the model's receptive radius " +
                                        std::to_string(zoo.receptive_radius));
        t.log2_block = to_int(o, "log2_block", 6);
        t.rdo = to_int(o, "rdo", 1) != 0;
        t.half = to_int(o, "half", 0) != 0;
        return (new hmcnn::TorchFilter(t))->table();
    } catch (const std::exception& e) {
        g_open_error = e.what();
        std::fprintf(stderr, "hmcnn_filter_open: %s\n", e.what());  // open returns NULL: say why
        return nullptr;
    }
}

__attribute__((visibility("default"))) void hmcnn_filter_close(const hmcnn_filter* filter) {
    if (filter) delete static_cast<hmcnn::TorchFilter*>(filter->self);
}

}  // extern "C"
