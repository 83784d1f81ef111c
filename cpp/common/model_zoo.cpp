#include "common/model_zoo.h"

#include <sys/stat.h>
#include <dirent.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace hmcnn {
namespace {

bool is_dir(const std::string& p) {
    struct stat s;
    return stat(p.c_str(), &s) == 0 && S_ISDIR(s.st_mode);
}

bool is_file(const std::string& p) {
    struct stat s;
    return stat(p.c_str(), &s) == 0 && S_ISREG(s.st_mode);
}

// A JSON value, as much of JSON as a manifest uses: objects, arrays, strings, numbers.
struct Json {
    enum Kind { Null, Number, String, Array, Object } kind = Null;
    double number = 0;
    std::string text;
    std::vector<Json> items;
    std::map<std::string, Json> fields;
};

class Parser {
public:
    explicit Parser(const std::string& s) : s_(s) {}
    Json parse() {
        Json v = value();
        space();
        if (i_ != s_.size()) fail("trailing characters");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& why) {
        throw std::invalid_argument("manifest is not valid JSON (" + why + " at byte " + std::to_string(i_) + ")");
    }
    void space() {
        while (i_ < s_.size() && std::isspace((unsigned char)s_[i_])) i_++;
    }
    char peek() {
        space();
        if (i_ >= s_.size()) fail("unexpected end");
        return s_[i_];
    }
    void expect(char c) {
        if (peek() != c) fail(std::string("expected '") + c + "'");
        i_++;
    }
    std::string string() {
        expect('"');
        std::string out;
        while (i_ < s_.size() && s_[i_] != '"') {
            if (s_[i_] == '\\' && i_ + 1 < s_.size()) i_++;  // manifests hold plain names: keep the escaped char
            out += s_[i_++];
        }
        if (i_ >= s_.size()) fail("unterminated string");
        i_++;
        return out;
    }
    Json value() {
        Json v;
        char c = peek();
        if (c == '{') {
            v.kind = Json::Object;
            i_++;
            if (peek() == '}') { i_++; return v; }
            for (;;) {
                std::string key = string();
                expect(':');
                v.fields[key] = value();
                if (peek() == ',') { i_++; continue; }
                expect('}');
                return v;
            }
        }
        if (c == '[') {
            v.kind = Json::Array;
            i_++;
            if (peek() == ']') { i_++; return v; }
            for (;;) {
                v.items.push_back(value());
                if (peek() == ',') { i_++; continue; }
                expect(']');
                return v;
            }
        }
        if (c == '"') {
            v.kind = Json::String;
            v.text = string();
            return v;
        }
        size_t start = i_;
        while (i_ < s_.size() && (std::isalnum((unsigned char)s_[i_]) || s_[i_] == '-' || s_[i_] == '+' || s_[i_] == '.'))
            i_++;
        std::string word = s_.substr(start, i_ - start);
        if (word == "null" || word == "true" || word == "false") return v;  // not used by the zoo
        try {
            size_t used = 0;
            v.number = std::stod(word, &used);
            if (used != word.size()) fail("bad number");
        } catch (const std::logic_error&) {
            fail("bad value '" + word + "'");
        }
        v.kind = Json::Number;
        return v;
    }

    const std::string& s_;
    size_t i_ = 0;
};

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

int to_qp(const std::string& text, const std::string& where) {
    try {
        size_t used = 0;
        int qp = std::stoi(text, &used);
        if (used == text.size() && qp >= 0 && qp <= 51) return qp;
    } catch (const std::logic_error&) {
    }
    throw std::invalid_argument(where + ": '" + text + "' is not a QP in 0..51");
}

// {"QP": "file", ...} of a manifest, as (QP, dir/file) pairs in ascending QP.
std::vector<std::pair<int, std::string>> qp_files(const Json& object, const std::string& dir, const std::string& path) {
    std::vector<std::pair<int, std::string>> pairs;
    for (const auto& kv : object.fields) pairs.emplace_back(to_qp(kv.first, path), dir + "/" + kv.second.text);
    std::sort(pairs.begin(), pairs.end());
    return pairs;
}

void from_manifest(const std::string& dir, ModelZoo* zoo) {
    std::string path = dir + "/manifest.json";
    Json m = Parser(read_text(path)).parse();
    if (m.kind != Json::Object) throw std::invalid_argument(path + " is not a JSON object");
    auto text = [&](const char* key) { auto f = m.fields.find(key); return f != m.fields.end() ? f->second.text : ""; };
    zoo->arch = text("arch");
    if (!text("kind").empty()) zoo->kind = text("kind");
    // Written once, by the exporter (cnn_filter/zoo.py write_manifest); never guessed here:
    // a wrong tile context is a silently wrong picture in another host.
    auto radius = m.fields.find("receptive_radius");
    if (radius == m.fields.end() || radius->second.kind != Json::Number || radius->second.number < 0)
        throw std::invalid_argument(path + " does not say the model's receptive_radius: re-export the models "
                                           "(hmcnn train / quantize write it), or add it");
    zoo->receptive_radius = (int)radius->second.number;
    auto single = m.fields.find("model");
    if (single != m.fields.end() && single->second.kind == Json::String && !single->second.text.empty()) {
        zoo->paths.push_back(dir + "/" + single->second.text);
        for (const Json& q : m.fields["qps"].items) zoo->qps.push_back((int)q.number);
        if (zoo->qps.empty()) zoo->qps.push_back(32);
        std::sort(zoo->qps.begin(), zoo->qps.end());
        zoo->qps.resize(1);  // one model: the runner needs one (QP, file) pair
    } else {
        auto models = m.fields.find("models");
        if (models == m.fields.end() || models->second.kind != Json::Object)
            throw std::invalid_argument(path + " is malformed: expected {'models': {'QP': 'file.pt'}}");
        for (const auto& p : qp_files(models->second, dir, path)) {
            zoo->qps.push_back(p.first);
            zoo->paths.push_back(p.second);
        }
    }
    zoo->inter.assign(zoo->qps.size(), 0);
    auto inter = m.fields.find("inter_models");
    if (inter == m.fields.end()) return;
    if (inter->second.kind != Json::Object)
        throw std::invalid_argument(path + " is malformed: expected {'inter_models': {'QP': 'file.pt'}}");
    for (const auto& p : qp_files(inter->second, dir, path)) {
        zoo->qps.push_back(p.first);
        zoo->paths.push_back(p.second);
        zoo->inter.push_back(1);
    }
}

void from_qp_files(const std::string& dir, const std::string& ext, ModelZoo* zoo) {
    std::vector<std::pair<int, std::string>> pairs;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            std::string name = e->d_name;
            if (name.size() > 2 + ext.size() && name.compare(0, 2, "qp") == 0 &&
                name.compare(name.size() - ext.size(), ext.size(), ext) == 0) {
                std::string digits = name.substr(2, name.size() - 2 - ext.size());
                if (!digits.empty() && std::all_of(digits.begin(), digits.end(), ::isdigit))
                    pairs.emplace_back(std::stoi(digits), dir + "/" + name);
            }
        }
        closedir(d);
    }
    std::sort(pairs.begin(), pairs.end());
    for (const auto& p : pairs) {
        zoo->qps.push_back(p.first);
        zoo->paths.push_back(p.second);
    }
}

}  // namespace

ModelZoo read_model_zoo(const std::string& path, const std::string& ext) {
    ModelZoo zoo;
    if (is_dir(path)) {
        if (is_file(path + "/manifest.json"))
            from_manifest(path, &zoo);
        else
            from_qp_files(path, ext, &zoo);
        if (zoo.paths.empty())
            throw std::invalid_argument(path + " holds no models (manifest.json or qpNN" + ext + " files)");
    } else if (is_file(path)) {  // one file; its .json sidecar may name the QP and kind
        std::string sidecar = path.substr(0, path.rfind('.')) + ".json";
        int qp = 32;
        if (is_file(sidecar)) {
            Json meta = Parser(read_text(sidecar)).parse();
            if (meta.fields.count("qp") && meta.fields["qp"].kind == Json::Number) qp = (int)meta.fields["qp"].number;
            if (meta.fields.count("kind") && !meta.fields["kind"].text.empty()) zoo.kind = meta.fields["kind"].text;
            zoo.arch = meta.fields["arch"].text;
            if (meta.fields.count("receptive_radius") && meta.fields["receptive_radius"].kind == Json::Number)
                zoo.receptive_radius = (int)meta.fields["receptive_radius"].number;
        }
        zoo.qps.push_back(qp);
        zoo.paths.push_back(path);
    } else {
        throw std::invalid_argument("no model file or directory at " + path);
    }
    for (const std::string& f : zoo.paths)
        if (!is_file(f)) throw std::invalid_argument("model file " + f + " is missing");
    return zoo;
}

}  // namespace hmcnn
