// The model zoo on disk, read from C++: the twin of cnn_filter/zoo.py (same layouts, same
// nearest-QP rule in TorchFilter::select_model). A directory with manifest.json
//   {"arch": ..., "kind": ..., "models": {"22": "qp22.pt", ...}}            per-QP models
//   {"arch": ..., "kind": ..., "model": "model.pt", "qps": [17, ...]}       one QP-input model
// or, without a manifest, qpNN<ext> files (.pt TorchScript, .hmq integer models); or one file.
#pragma once
#include <string>
#include <vector>

namespace hmcnn {

struct ModelZoo {
    std::vector<int> qps;             // ascending; a QP-input model: the QPs it was trained on
    std::vector<std::string> paths;   // one per QP, or one for a QP-input model
    std::string arch, kind = "loop";
    int receptive_radius = 0;         // from the manifest (required there) or a file's sidecar (0 if absent)
};

// Reads a model directory or file; throws std::invalid_argument with the reason.
ModelZoo read_model_zoo(const std::string& path, const std::string& ext = ".pt");

}  // namespace hmcnn
