"""The import graph runs one way (CLI -> experiments -> sr_mode -> cnn_filter -> hm_bridge),
the codec layer works without torch, and the Python/C++ twins agree."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

#: each package and the project packages it may import
ALLOWED = {
    "hm_bridge": {"hm_bridge"},
    "cnn_filter": {"cnn_filter", "hm_bridge"},
    "sr_mode": {"sr_mode", "cnn_filter", "hm_bridge"},
    "experiments": {"experiments", "sr_mode", "cnn_filter", "hm_bridge"},
    "hmcnn": {"hmcnn", "experiments", "sr_mode", "cnn_filter", "hm_bridge"},
}


def _imported_packages(path: Path) -> set[str]:
    """Project packages a module imports, by statement or by name in a string (the
    importlib.import_module("pkg.mod") kind of import counts too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value:
            head = node.value.split(".")[0]
            if head in ALLOWED and all(part.isidentifier() for part in node.value.split(".")):
                names.add(head)
    return names & set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_only_run_downward(package):
    for path in sorted((REPO / package).rglob("*.py")):
        wrong = _imported_packages(path) - ALLOWED[package]
        assert not wrong, f"{path.relative_to(REPO)} imports {sorted(wrong)}, a layer above {package}"


BLOCK_TORCH = """
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, NoTorch())
import hm_bridge as hb
from hm_bridge.clips import load_builtin
v = load_builtin("carphone", 3)
r = hb.encode(v, config="ldp", qp=37, preset="ultrafast", loop_filter=hb.SmoothingFilter(rdo=False))
assert r.md5_match and "torch" not in sys.modules
print("ok without torch")
"""


def test_the_codec_layer_needs_no_torch():
    r = subprocess.run([sys.executable, "-c", BLOCK_TORCH], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert "ok without torch" in r.stdout


def test_cpp_and_python_pick_the_same_model_for_every_qp(tmp_path):
    torch = pytest.importorskip("torch")
    from cnn_filter import create_model, load_filter
    from cnn_filter.export import export_torchscript
    from cnn_filter.zoo import nearest_index

    for qps in ([22, 27, 32, 37], [30], [20, 21, 40], [0, 51]):
        d = tmp_path / "_".join(map(str, qps))
        d.mkdir()
        for q in qps:
            export_torchscript(create_model("vrcnn"), d / f"qp{q}.pt")
        f = load_filter(d, device="cpu")
        assert [f.select_model(q) for q in range(52)] == [nearest_index(qps, q) for q in range(52)]
    del torch


def test_tile_context_below_the_receptive_radius_is_refused(tmp_path):
    pytest.importorskip("torch")
    import json

    from cnn_filter import create_model, load_filter
    from cnn_filter.export import export_torchscript

    export_torchscript(create_model("vrcnn"), tmp_path / "qp32.pt")
    (tmp_path / "manifest.json").write_text(json.dumps({"arch": "vrcnn", "kind": "loop", "receptive_radius": 6,
                                                                "models": {"32": "qp32.pt"}}))
    with pytest.raises(ValueError, match="receptive radius 6"):
        load_filter(tmp_path, device="cpu", context=4)
    assert load_filter(tmp_path, device="cpu", context=6).qps == [32]


def _module_graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (anywhere in its body)."""
    graph = {}
    for path in sorted((REPO / package).glob("*.py")):
        name = f"{package}.{path.stem}" if path.stem != "__init__" else package
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == package:  # from hm_bridge import x: x is a module of it
                    deps |= {f"{package}.{a.name}" for a in node.names}
                elif node.module.startswith(package + "."):
                    deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith(package + ".")}
        graph[name] = {d for d in deps if d != name}
    return graph


def test_the_codec_layer_has_no_import_cycle():
    graph = _module_graph("hm_bridge")
    modules = {m for m in graph if m != "hm_bridge"}  # the package re-exports; its modules form the graph
    assert {"hm_bridge.codec", "hm_bridge.x265", "hm_bridge.hm", "hm_bridge.results"} <= modules
    state: dict[str, int] = {}

    def visit(m, path):
        if state.get(m) == 1:
            raise AssertionError("import cycle: " + " -> ".join(path + [m]))
        if state.get(m) == 2:
            return
        state[m] = 1
        for d in sorted(graph.get(m, ()) & modules):
            visit(d, path + [m])
        state[m] = 2

    for m in sorted(modules):
        visit(m, [])
    # and the checker sees a cycle when there is one
    graph["hm_bridge.results"] = graph["hm_bridge.results"] | {"hm_bridge.codec"}
    state.clear()
    with pytest.raises(AssertionError, match="import cycle"):
        for m in sorted(modules):
            visit(m, [])
