// The model zoo on disk, read from C++: the twin of cnn_filter/zoo.py (same layouts, same
// model choice, select_model_index in filters/block_switched_filter.h). A directory with manifest.json
//   {"arch": ..., "kind": ..., "models": {"22": "qp22.pt", ...}}            per-QP models
//   {"arch": ..., "kind": ..., "model": "model.pt", "qps": [17, ...]}       one QP-input model
// either may add {"inter_models": {"37": "inter_qp37.pt", ...}}: models for the P and B pictures
// (select_model_index); or, without a manifest, qpNN<ext> files (.pt TorchScript, .hmq
// integer models); or one file.
#pragma once
#include <string>
#include <vector>

namespace hmcnn {

struct ModelZoo {
    std::vector<int> qps;             // ascending per group; a QP-input model: the first QP it was trained on
    std::vector<std::string> paths;   // one per QP, or one for a QP-input model; then the inter models'
    std::vector<int> inter;           // per model: 1 = an inter model (serves P and B pictures)
    std::string arch, kind = "loop";
    int receptive_radius = 0;         // from the manifest (required there) or a file's sidecar (0 if absent)
};

// Reads a model directory or file; throws std::invalid_argument with the reason.
ModelZoo read_model_zoo(const std::string& path, const std::string& ext = ".pt");

}  // namespace hmcnn
