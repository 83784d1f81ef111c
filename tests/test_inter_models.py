"""Model sets that know the slice type: a manifest's "inter_models" serve the P and B
pictures, its other models the I pictures, in every runner (libtorch, integer, the exact
integer path, the plug-in), chosen alike by C++ and Python, the chosen model's index in the
side information, and a decoder without the inter models told so."""
import json
import shutil
import subprocess
import sys
from collections import Counter

import pytest

torch = pytest.importorskip("torch")

import hm_bridge as hb  # noqa: E402
from cnn_filter import load_filter, zoo  # noqa: E402
from cnn_filter.loader import load_exact_integer_filter, plugin_path  # noqa: E402
from conftest import REPO  # noqa: E402
from hm_bridge import side_info  # noqa: E402
from hm_bridge.bitstream import side_info_payloads  # noqa: E402
from hm_bridge.codec import SLICE_TYPE_CODES  # noqa: E402


def slice_aware_copy(source, out, ext: str, inter_from_qp: int = 22):
    """``source``'s models, plus its QP-``inter_from_qp`` model listed as the inter model of
    QP 37 (another model than the intra QP-37 one: the choice is visible in the ids)."""
    out.mkdir()
    meta = json.loads((source / "manifest.json").read_text())
    for f in meta["models"].values():
        shutil.copy2(source / f, out / f)
    shutil.copy2(source / f"qp{inter_from_qp}{ext}", out / f"inter_qp37{ext}")
    meta["inter_models"] = {"37": f"inter_qp37{ext}"}
    (out / "manifest.json").write_text(json.dumps(meta))
    return out


@pytest.fixture(scope="module")
def float_set(tmp_path_factory):
    return slice_aware_copy(REPO / "models" / "vrcnn", tmp_path_factory.mktemp("sets") / "vrcnn", ".pt")


@pytest.fixture(scope="module")
def int_set(tmp_path_factory):
    return slice_aware_copy(REPO / "models" / "vrcnn-int", tmp_path_factory.mktemp("sets") / "vrcnn-int", ".hmq")


def model_ids(r, video):
    return Counter(side_info.unpack(p, video.width, video.height).model_id for p in side_info_payloads(r.bitstream))


def expected_ids(f, r):
    return Counter(f.select_model(q, SLICE_TYPE_CODES[t]) for q, t in zip(r.slice_qps, r.frame_types))


def test_cpp_and_python_choose_the_same_model_for_every_qp_and_slice_type():
    from cnn_filter._runner import select_model_index

    for qps, inter in (([22, 27, 32, 37], []), ([22, 27, 32, 37, 27, 32, 37, 42], [0] * 4 + [1] * 4),
                       ([30, 20, 40], [0, 1, 1]), ([51, 0], [1, 0]), ([32, 32], [0, 1])):
        flags = inter or [0] * len(qps)
        for qp in range(52):
            for st in (0, 1, 2):
                assert select_model_index(qps, inter, qp, st) == zoo.select_index(qps, flags, qp, st), (qps, qp, st)
    # I pictures never get an inter model, P and B pictures always do when there is one
    assert zoo.select_index([22, 37, 27, 42], [0, 0, 1, 1], 45, 2) == 1
    assert [zoo.select_index([22, 37, 27, 42], [0, 0, 1, 1], 45, st) for st in (0, 1)] == [3, 3]


def test_the_encoder_tries_the_nearest_models_of_each_kind():
    """search=N: the N nearest-QP models of the picture's kind, best guess first (the runners'
    choice), then for a P or B picture of a set with inter models the N nearest intra ones."""
    from cnn_filter._runner import candidate_models, select_model_index

    qps, inter = [22, 27, 32, 37, 27, 32, 37, 42], [0] * 4 + [1] * 4
    assert candidate_models(qps, inter, 35, 2, 1) == [3]  # I: the nearest intra model
    assert candidate_models(qps, inter, 35, 0, 1) == [6, 3]  # B: the nearest inter, then intra
    assert candidate_models(qps, inter, 35, 1, 2) == [6, 5, 3, 2]  # 37 is 2 away, 32 is 3
    assert candidate_models(qps, inter, 45, 0, 3) == [7, 6, 5, 3, 2, 1]
    assert candidate_models([22, 27, 32, 37], [], 29, 0, 2) == [1, 2]  # no inter models: one kind
    assert candidate_models([22, 27], [], 29, 2, 8) == [1, 0]  # no more than the set holds
    for qp in range(52):
        for st in (0, 1, 2):
            assert candidate_models(qps, inter, qp, st, 1)[0] == select_model_index(qps, inter, qp, st)
    assert candidate_models([22, 32], [], 27, 2, 2) == [0, 1]  # a tie: the lower QP first


def test_the_zoo_reads_inter_models_and_refuses_a_set_without_intra_ones(float_set, tmp_path):
    m = zoo.open_models(float_set)
    assert m.qps == (22, 27, 32, 37) and m.inter_qps == (37,)
    qps, files, inter = m.runner_models()
    assert qps == [22, 27, 32, 37, 37] and inter == [False] * 4 + [True] and files[-1].endswith("inter_qp37.pt")
    assert m.index_for(40, 0) == 4 and m.index_for(40, 2) == 3
    only_inter = tmp_path / "only_inter"
    only_inter.mkdir()
    shutil.copy2(float_set / "inter_qp37.pt", only_inter)
    (only_inter / "manifest.json").write_text(json.dumps({"arch": "vrcnn", "receptive_radius": 6, "models": {},
                                                          "inter_models": {"37": "inter_qp37.pt"}}))
    with pytest.raises(FileNotFoundError, match="holds no models"):
        load_filter(only_inter, device="cpu")
    missing = tmp_path / "missing"
    shutil.copytree(float_set, missing)
    (missing / "inter_qp37.pt").unlink()
    with pytest.raises(FileNotFoundError, match="inter_qp37.pt"):
        load_filter(missing, device="cpu")


@pytest.mark.parametrize("config", ["ra", "ldp"])
def test_inter_models_filter_the_p_and_b_pictures_in_the_loop(float_set, carphone, config):
    f = load_filter(float_set, device="cpu", rdo=False)  # every picture filtered: every id in the stream
    clip = carphone[:9]
    r = hb.encode(clip, recon="memory", config=config, qp=37, preset="medium", loop_filter=f)
    assert r.md5_match and r.decode.hash_ok
    ids = model_ids(r, clip)
    assert ids == expected_ids(f, r)  # the inter model (4) on every P and B picture, an intra one on I
    assert ids[4] == len(clip) - r.frame_types.count("I") > 0 and sum(ids.values()) == len(clip)
    # a decoder holding only the intra models is told the stream needs another model
    with pytest.raises(RuntimeError, match="names model 4 but only 4 are loaded"):
        hb.decode(r.bitstream, loop_filter=load_filter(REPO / "models" / "vrcnn", device="cpu"))
    # with the block decisions, and through the libtorch plug-in (the C++ zoo reads the manifest)
    f = load_filter(float_set, device="cpu")
    r = hb.encode(clip, recon="memory", config=config, qp=37, preset="medium", loop_filter=f)
    assert r.md5_match
    plugin = hb.load_native_filter(plugin_path(), f"models={float_set}")
    d = hb.decode(r.bitstream, loop_filter=plugin, output="memory")
    assert d.hash_ok and d.video.md5() == r.recon.md5()


def test_search_tries_more_models_and_the_decoder_runs_the_chosen_one(carphone, tmp_path):
    """With its QP-32 model untrained (random weights), a set filters QP-32 pictures only
    with search=2, through the next-nearest model (27 or 37), whose index the decoder (the
    plug-in) follows; search=1 tries the broken model alone."""
    from cnn_filter import create_model
    from cnn_filter.export import export_torchscript

    broken = tmp_path / "broken"
    shutil.copytree(REPO / "models" / "vrcnn", broken)
    torch.manual_seed(3)
    export_torchscript(create_model("vrcnn"), broken / "qp32.pt")  # random weights
    clip = carphone[:3]
    one = hb.encode(clip, recon="memory", config="ai", qp=32, preset="medium",
                    loop_filter=load_filter(broken, device="cpu"))
    assert set(model_ids(one, clip)) <= {2}  # the broken model or nothing
    f = load_filter(broken, device="cpu", search=2)
    assert "search=2" in f.plugin_options  # the same filter in an out-of-process codec (HM)
    two = hb.encode(clip, recon="memory", config="ai", qp=32, preset="medium", loop_filter=f)
    assert two.md5_match and two.decode.hash_ok
    ids = model_ids(two, clip)
    assert set(ids) <= {1, 2, 3} and ids[1] + ids[3] > 0  # QP 27 or 37 chosen somewhere
    assert two.psnr.y > one.psnr.y
    d = hb.decode(two.bitstream, loop_filter=hb.load_native_filter(plugin_path(), f"models={broken}"), output="memory")
    assert d.hash_ok and d.video.md5() == two.recon.md5()
    with pytest.raises(ValueError, match="search must be in 1..8"):
        load_filter(broken, device="cpu", search=0)


def test_a_useless_inter_model_costs_nothing(carphone, tmp_path):
    """A P or B picture also tries the intra model of its QP and keeps the cheaper: with an
    untrained inter model every choice falls back, and the stream is the intra set's, byte
    for byte."""
    from cnn_filter import create_model
    from cnn_filter.export import export_torchscript

    bad = slice_aware_copy(REPO / "models" / "vrcnn", tmp_path / "bad", ".pt")
    torch.manual_seed(3)
    export_torchscript(create_model("vrcnn"), bad / "inter_qp37.pt")  # random weights
    clip = carphone[:9]
    for config in ("ra", "ldp"):
        with_bad = hb.encode(clip, recon="memory", config=config, qp=32, preset="medium",
                             loop_filter=load_filter(bad, device="cpu"))
        intra = hb.encode(clip, recon="memory", config=config, qp=32, preset="medium",
                          loop_filter=load_filter(REPO / "models" / "vrcnn", device="cpu"))
        assert with_bad.md5_match and with_bad.bitstream == intra.bitstream and with_bad.side_info_bytes > 0


def test_integer_inter_models_in_the_integer_runner_and_the_exact_path(int_set, carphone, tmp_path):
    f = load_filter(int_set, rdo=False)
    assert type(f).__name__ == "IntegerFilter" and f.select_model(40, 0) == 4 and f.select_model(40, 2) == 3
    clip = carphone[:9]
    r = hb.encode(clip, recon="memory", config="ra", qp=37, preset="medium", loop_filter=f)
    assert r.md5_match and model_ids(r, clip) == expected_ids(f, r)
    exact = load_exact_integer_filter(int_set, "cpu", rdo=False)
    assert [exact.select_model(40, st) for st in (0, 1, 2)] == [4, 4, 3]
    d = hb.decode(r.bitstream, loop_filter=exact, output="memory")
    assert d.hash_ok and d.video.md5() == r.recon.md5()
    # the integer plug-in reads the same manifest
    plugin = hb.load_native_filter(plugin_path("libhmcnn_int_filter.so"), f"models={int_set}")
    assert hb.decode(r.bitstream, loop_filter=plugin, output="memory").video.md5() == r.recon.md5()
    # the I picture's content hash covers the inter models: a decoder with the same intra
    # models but another inter model refuses the stream at once, naming both hashes
    other = slice_aware_copy(REPO / "models" / "vrcnn-int", tmp_path / "other", ".hmq", inter_from_qp=27)
    with pytest.raises(RuntimeError, match=r"coded with the model of content hash .*\(and its inter models\)"):
        hb.decode(r.bitstream, loop_filter=load_filter(other, rdo=False))


def test_training_inter_models_beside_the_intra_ones(tmp_path):
    """hmcnn train --inter: inter models trained on the P and B pictures nearest their QP,
    the intra models of --init beside them, one directory every runner loads."""
    out = tmp_path / "set"
    cmd = [sys.executable, "-m", "hmcnn", "train", "--quick", "--qps", "37", "--inter", "ra", "ldp",
           "--inter-frames", "5", "--inter-base-qps", "37", "--out", str(out), "--no-pt2"]
    r = subprocess.run(cmd + ["--init", str(REPO / "models" / "vrcnn")], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "inter QP 37:" in r.stdout
    m = zoo.open_models(out)
    assert m.qps == (22, 27, 32, 37) and m.inter_qps == (37,) and m.inter_files[0].name == "inter_qp37.pt"
    assert json.loads((out / "inter_qp37.json").read_text())["init_from"].endswith("vrcnn")
    assert load_filter(out, device="cpu").select_model(37, 0) == 4
    bad = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and "--init" in bad.stderr
    # an interrupted run's checkpoints export as inter models again (hmcnn export, in place)
    (out / "inter_qp37.pt").unlink()
    r = subprocess.run([sys.executable, "-m", "hmcnn", "export", str(out)], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    m = zoo.open_models(out)
    assert m.qps == (22, 27, 32, 37) and m.inter_qps == (37,) and (out / "inter_qp37.pt").is_file()
    # each inter model is trained on exactly the pictures the runners will give it
    from cnn_filter.data import training_sources
    from cnn_filter.train import InterLoopFilterTask

    train_src, val_src, _ = training_sources()
    task = InterLoopFilterTask("vrcnn", train_src[:6], val_src[:2], out / "pairs", "ultrafast", configs=("ra", "ldp"),
                               qps=[38, 44], base_qps=(37,), frames=5)  # the pictures --quick coded above
    coded = task._coded("train")
    inter_pictures = sum(t != "I" for p in coded for t in p.slice_types)
    buckets = {q: task.pairs(q)[0] for q in (38, 44)}
    assert sum(len(b) for b in buckets.values()) == inter_pictures > 0
    for q, b in buckets.items():
        assert len(b) and "I" not in b.slice_types
        assert all(zoo.select_index([37, 38, 44], [0, 1, 1], pq, SLICE_TYPE_CODES[t]) == [38, 44].index(q) + 1
                   for pq, t in zip(b.picture_qps, b.slice_types))


def test_quantize_makes_the_integer_twin_of_a_slice_aware_set(float_set, tmp_path):
    from cnn_filter.quantize import quantize_directory

    out = tmp_path / "int"
    done = quantize_directory(float_set, out, calibration=2, preset="ultrafast", cache_dir=tmp_path / "pairs",
                              progress=lambda _: None)
    assert [(d["qp"], d["file"]) for d in done][-1] == (37, "inter_qp37.hmq")
    m = zoo.open_models(out)
    assert m.integer and m.qps == (22, 27, 32, 37) and m.inter_qps == (37,)
    assert (out / "inter_qp37.hmq").read_bytes() != (out / "qp37.hmq").read_bytes()
    f = load_filter(out)
    assert type(f).__name__ == "IntegerFilter" and [f.select_model(37, st) for st in (0, 1, 2)] == [4, 4, 3]
