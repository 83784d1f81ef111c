// The option text of our plug-ins' hmcnn_filter_open: ';'-separated key=value pairs,
// checked against the keys a plug-in knows (shared by the libtorch and integer plug-ins).
#pragma once
#include <algorithm>
#include <initializer_list>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

#include "filters/block_switched_filter.h"

namespace hmcnn {

class PluginOptions {
public:
    PluginOptions(const char* text, std::initializer_list<const char*> known) {
        std::stringstream ss(text ? text : "");
        std::string item;
        while (std::getline(ss, item, ';')) {
            if (item.empty()) continue;
            size_t eq = item.find('=');
            if (eq == std::string::npos) throw std::invalid_argument("option '" + item + "' is not key=value");
            std::string key = item.substr(0, eq);
            bool ok = false;
            for (const char* k : known) ok |= key == k;
            if (!ok) {
                std::string takes;
                for (const char* k : known) takes += std::string(takes.empty() ? "" : ", ") + k;
                throw std::invalid_argument("unknown option '" + key + "' (this plug-in takes: " + takes + ")");
            }
            values_[key] = item.substr(eq + 1);
        }
    }
    bool has(const std::string& key) const { return values_.count(key) != 0; }
    std::string text(const std::string& key, const std::string& fallback) const {
        return has(key) ? values_.at(key) : fallback;
    }
    int integer(const std::string& key, int fallback) const {
        return parsed<int>(key, fallback, "an integer", [](const std::string& v, size_t* used) { return std::stoi(v, used); });
    }
    double number(const std::string& key, double fallback) const {
        return parsed<double>(key, fallback, "a number", [](const std::string& v, size_t* used) { return std::stod(v, used); });
    }

private:
    // The value of key read whole by parse (std::stoi / std::stod), or a clear error.
    template <class T, class Parse>
    T parsed(const std::string& key, T fallback, const char* what, Parse parse) const {
        if (!has(key)) return fallback;
        const std::string& v = values_.at(key);
        try {
            size_t used = 0;
            T x = parse(v, &used);
            if (used == v.size()) return x;
        } catch (const std::logic_error&) {
        }
        throw std::invalid_argument("option " + key + "=" + v + " is not " + what);
    }

    std::map<std::string, std::string> values_;
};

// The block switching's options, as every CNN plug-in reads them.
inline BlockSwitchOptions block_switch_options(const PluginOptions& o) {
    BlockSwitchOptions b;
    b.log2_block = o.integer("log2_block", b.log2_block);
    b.rdo = o.integer("rdo", 1) != 0;
    b.min_gain = o.number("min_gain", b.min_gain);
    b.search = o.integer("search", b.search);
    // the default, as far as the smallest (8x8) block allows
    b.block_sizes = o.integer("block_sizes", std::min(b.block_sizes, std::max(1, b.log2_block - 2)));
    return b;
}

// Why this thread's last hmcnn_filter_open failed (what hmcnn_filter_open_error returns).
inline std::string& open_error() {
    static thread_local std::string message;
    return message;
}

}  // namespace hmcnn
