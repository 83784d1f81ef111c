"""VRCNN, export, and the libtorch runner inside the codec loop."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import hm_bridge as hb
from cnn_filter import count_parameters, create_model, load_filter, model_names
from cnn_filter.export import export_pt2, export_torchscript, write_metadata
from hm_bridge import side_info
from hm_bridge.bitstream import side_info_payloads

REPO = Path(__file__).resolve().parent.parent
#: C++ (tiled libtorch) vs Python (whole picture) float outputs, on the 0..255 scale
CPP_PYTHON_TOLERANCE = 1e-3


def test_vrcnn_is_the_published_architecture():
    m = create_model("vrcnn")
    assert count_parameters(m) == (54512, 161)
    x = torch.rand(2, 1, 40, 56)
    assert m(x).shape == x.shape
    assert "vrcnn" in model_names()
    with pytest.raises(ValueError, match="unknown model"):
        create_model("no-such-net")


def _model(seed: int, strength: float = 0.02):
    """A VRCNN whose output visibly differs from its input (random, untrained)."""
    torch.manual_seed(seed)
    m = create_model("vrcnn").eval()
    with torch.no_grad():
        m.conv4.weight.normal_(0, strength)
    return m


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    for qp, seed in ((22, 1), (37, 2)):
        export_torchscript(_model(seed), d / f"qp{qp}.pt")
        write_metadata(d / f"qp{qp}.json", arch="vrcnn", qp=qp)
    (d / "manifest.json").write_text(json.dumps({"arch": "vrcnn", "receptive_radius": 6,
                                                        "models": {"22": "qp22.pt", "37": "qp37.pt"}}))
    return d


def test_cpp_runner_output_equals_python_torchscript_output(model_dir, clip9):
    f = load_filter(model_dir, device="cpu", tile=64)  # tiles of 64: borders between tiles are exercised
    scripted = torch.jit.load(str(model_dir / "qp37.pt"))
    y = clip9.y[0]
    q, raw = f.filter_plane(37, y)
    with torch.no_grad():
        ref = scripted(torch.from_numpy(y).float().div(255)[None, None])[0, 0].mul(255).numpy()
    assert np.abs(raw - ref).max() <= CPP_PYTHON_TOLERANCE
    assert np.array_equal(q, np.clip(np.round(raw), 0, 255).astype(np.uint8))
    assert np.abs(q.astype(int) - y.astype(int)).max() > 0  # the model does change the picture


def test_pt2_export_matches_the_model(tmp_path):
    m = _model(3)
    export_pt2(m, tmp_path / "m.pt2")
    program = torch.export.load(str(tmp_path / "m.pt2"))
    x = torch.rand(1, 1, 48, 80)  # another size than the example: dynamic height/width
    with torch.no_grad():
        assert torch.allclose(program.module()(x), m(x), atol=1e-6)


def test_aoti_package_runs_the_model(tmp_path):
    """torch.export -> AOTInductor: a compiled package that loads without Python model code."""
    m = _model(4)
    export_pt2(m, tmp_path / "m.pt2", aoti=True)
    package = torch._inductor.aoti_load_package(str(tmp_path / "m.aoti.pt2"))
    x = torch.rand(1, 1, 56, 72)
    with torch.no_grad():
        assert torch.allclose(package(x), m(x), atol=1e-5)


@pytest.mark.parametrize("rdo", [False, True])
@pytest.mark.parametrize("config", ["ai", "ra", "ldp"])
def test_cnn_in_the_loop_is_bit_exact(model_dir, carphone, config, rdo):
    f = load_filter(model_dir, device="cpu", rdo=rdo)
    r = hb.encode(carphone[:9], recon="memory", config=config, qp=37, preset="medium", loop_filter=f, frame_threads=2)
    assert r.md5_match and r.decode.hash_ok  # verify=True decoded with the same filter
    if not rdo:
        assert r.side_info_bytes > 0
        assert not hb.decode(r.bitstream).hash_ok  # without the filter the decoder drifts


def _model_ids(bitstream, width, height):
    return [side_info.unpack(p, width, height).model_id for p in side_info_payloads(bitstream)]


def test_nearest_qp_model_is_selected_and_signalled(model_dir, clip9):
    f = load_filter(model_dir, rdo=False)
    assert f.qps == [22, 37]
    assert [f.select_model(q) for q in (0, 22, 27, 29, 30, 32, 37, 51)] == [0, 0, 0, 0, 1, 1, 1, 1]
    for qp, expected in ((24, 0), (35, 1)):
        r = hb.encode(clip9[:3], recon="memory", config="ai", qp=qp, preset="medium", loop_filter=f)
        assert set(_model_ids(r.bitstream, clip9.width, clip9.height)) == {expected}
    # a single model file serves every QP
    single = load_filter(model_dir / "qp22.pt", rdo=False)
    assert single.qps == [22] and single.select_model(51) == 0


def test_decoding_with_other_models_is_reported_not_hidden(model_dir, tmp_path, clip9):
    r = hb.encode(clip9[:4], recon="memory", config="ldp", qp=37, preset="medium", loop_filter=load_filter(model_dir, rdo=False))
    other = tmp_path / "other"
    other.mkdir()
    export_torchscript(_model(9), other / "qp37.pt")
    export_torchscript(_model(10), other / "qp22.pt")
    d = hb.decode(r.bitstream, loop_filter=load_filter(other))
    assert not d.hash_ok  # the picture hash SEI catches the wrong weights
    only_one = tmp_path / "one"
    only_one.mkdir()
    export_torchscript(_model(1), only_one / "qp22.pt")
    with pytest.raises(RuntimeError, match="decoder-side loop filter failed on POC 0: CNN filter: the stream names "
                                           "model 1 but only 1 are loaded"):
        hb.decode(r.bitstream, loop_filter=load_filter(only_one))


def test_missing_corrupt_and_mismatched_models_give_clear_errors(tmp_path, model_dir):
    with pytest.raises(FileNotFoundError, match="no model file or directory"):
        load_filter(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="holds no models"):
        load_filter(empty)
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"this is not a TorchScript archive" * 100)
    with pytest.raises(ValueError, match="cannot load TorchScript model"):
        load_filter(bad)
    wrong = tmp_path / "wrong.pt"
    torch.jit.script(torch.nn.Conv2d(1, 3, 3, padding=1)).save(str(wrong))
    with pytest.raises(ValueError, match="does not map"):
        load_filter(wrong)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text(json.dumps({"arch": "vrcnn", "receptive_radius": 6,
                                                          "models": {"32": "gone.pt"}}))
    with pytest.raises(FileNotFoundError, match="gone.pt"):
        load_filter(broken)
    with pytest.raises(ValueError, match="CUDA is not available|fp16"):
        load_filter(model_dir, device="cuda" if not torch.cuda.is_available() else "cpu", half=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_runner_is_bit_exact_on_the_same_device(model_dir, clip9):
    f = load_filter(model_dir, device="cuda", rdo=False)
    r = hb.encode(clip9, recon="memory", config="ra", qp=37, preset="medium", loop_filter=f)
    assert r.md5_match


def test_quick_training_produces_loadable_models(tmp_path):
    from cnn_filter.train import train_models
    from cnn_filter.training import TrainSettings

    s = TrainSettings(steps=6, batch=2, patch=32, eval_every=6, max_images=4, preset="ultrafast", pt2=False)
    results = train_models([37], tmp_path / "m", s, tmp_path / "pairs")
    meta = json.loads((tmp_path / "m" / "qp37.json").read_text())
    assert meta["qp"] == 37 and meta["arch"] == "vrcnn" and "val_psnr_gain" in meta and meta["commit"]
    assert results[0].qp == 37
    f = load_filter(tmp_path / "m")
    assert f.qps == [37]


def test_a_time_limit_ends_the_schedule_with_the_clock():
    from cnn_filter.fitting import FINAL_LR_FRACTION, fit, lr_factor

    assert lr_factor(1000, 1000, 10) == pytest.approx(FINAL_LR_FRACTION)
    assert lr_factor(100, 10**6, 10, time_progress=0.5) == pytest.approx(0.5 * (1 + FINAL_LR_FRACTION))
    assert lr_factor(100, 10**6, 10, time_progress=2.0) == pytest.approx(FINAL_LR_FRACTION)
    torch.manual_seed(0)
    model, x = torch.nn.Linear(4, 1), torch.randn(64, 4)
    steps = 20000  # several seconds of Adam steps: the 0.2 s limit must end the run long before
    history = fit(model, lambda m: (m(x) - x.sum(1, keepdim=True)).pow(2).mean(), steps=steps, lr=1e-2,
                  eval_every=steps, evaluate=lambda m: {}, describe=lambda r: f"step {r['step']}", desc="t",
                  warmup=5, time_limit=0.2)
    assert len(history) == 1 and 5 < history[0]["step"] < steps  # stopped by the clock, after the warm-up
    assert history[0]["lr"] == pytest.approx(1e-2 * FINAL_LR_FRACTION, rel=0.05)  # the decay was completed


def test_qp_balanced_loss_counts_every_qp_alike_in_db():
    from cnn_filter.data import PairSet
    from cnn_filter.train import LoopFilterTask, qp_balancing_weights

    rng = np.random.default_rng(0)
    target = rng.integers(40, 200, (4, 32, 32)).astype(np.uint8)
    pairs = [PairSet(qp, ["a", "b", "c", "d"], [(t + rng.choice([-a, a], t.shape)).astype(np.uint8) for t in target],
                     list(target)) for qp, a in ((22, 1), (37, 4))]  # unfiltered MSE 1 and 16
    w = qp_balancing_weights(pairs)
    assert float(w[22.0]) == pytest.approx(32 / 17) and float(w[37.0]) == pytest.approx(2 / 17)
    task = LoopFilterTask("yuv_resnet", [], [], Path("."), "slow", qp_balanced=True)
    task.qp_weights = w
    identity = lambda y, u, v, qp: (y, u, v)  # noqa: E731 -- leaves each QP's whole coding error
    planes = [torch.full((1, 1, 8, 8), 0.5), torch.full((1, 1, 4, 4), 0.5), torch.full((1, 1, 4, 4), 0.5)]
    per_qp = []
    for qp, err in ((22.0, 1.0), (37.0, 4.0)):
        targets = [p + err / 255 for p in planes]
        per_qp.append(float(task.loss(identity, (*planes, *targets, torch.tensor([qp])))))
    assert per_qp[0] == pytest.approx(per_qp[1], rel=1e-4)  # 16x the MSE, the same loss
    task.qp_weights = None  # the plain loss: QP 37 counts 16x
    plain = [float(task.loss(identity, (*planes, *[p + e / 255 for p in planes], torch.tensor([q]))))
             for q, e in ((22.0, 1.0), (37.0, 4.0))]
    assert plain[1] == pytest.approx(16 * plain[0], rel=1e-3)


def test_training_can_continue_from_a_model_directory(model_dir, tmp_path):
    from cnn_filter.training import initial_weights

    state = initial_weights(model_dir, 30, "vrcnn")  # nearest of 22/37 to 30 is 37
    ref = torch.jit.load(str(model_dir / "qp37.pt")).state_dict()
    assert state.keys() == ref.keys() and all(torch.equal(state[k], ref[k]) for k in ref)
    with pytest.raises(RuntimeError):  # another architecture's weights do not load silently
        srdir = tmp_path / "sr"
        srdir.mkdir()
        export_torchscript(create_model("srcnn"), srdir / "qp30.pt")
        initial_weights(srdir, 30, "vrcnn")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vrcnn", "vrcnn_replace", "yuv_resnet", "yuv_resnet_replace"])
def test_shipped_models_beat_the_anchor_on_held_out_pictures(name):
    """Measured here, not read from the trainer's JSON: three of the held-out validation
    pictures (never trained on) coded all-intra at each CTC QP (deblocking and SAO off for
    the replace models), filtered, PSNR against the source."""
    from cnn_filter.data import training_sources
    from hm_bridge.configs import NO_DBF_SAO
    from hm_bridge.video import plane_psnr

    shipped = REPO / "models" / name
    _, held_out, described = training_sources(validation=20, splits="all")
    if not described.startswith("BSDS500"):
        pytest.skip("BSDS500 (the training set's held-out pictures) is not in the shared data folder")
    f = load_filter(shipped, device="cpu")
    extra = list(NO_DBF_SAO) if name.endswith("_replace") else []
    for qp in (22, 27, 32, 37):
        gain = np.zeros(3)
        for src in held_out[:3]:
            video = src.load()
            r = hb.encode(video, config="ai", qp=qp, preset="medium", extra_options=extra, recon="memory")
            rec = r.recon
            out = f.filter_picture(qp, rec.y[0], rec.u[0], rec.v[0])
            gain += [plane_psnr(o[0], t) - plane_psnr(o[0], p)
                     for o, t, p in zip((video.y, video.u, video.v), out, (rec.y[0], rec.u[0], rec.v[0]))]
        gain /= 3
        assert gain[0] > 0.02, f"{name} QP {qp}: luma gain {gain[0]:.3f} dB on held-out pictures"
        if f.kind == "loop_yuv":
            assert gain[1] > 0.02 and gain[2] > 0.02, f"{name} QP {qp}: chroma gains {gain[1:]}"


@pytest.fixture(scope="module")
def yuv_model_dir(tmp_path_factory):
    """A QP-input YUV model (untrained but visibly non-identity) as training writes it."""
    from cnn_filter.zoo import write_qp_input_manifest

    d = tmp_path_factory.mktemp("yuv")
    torch.manual_seed(5)
    m = create_model("yuv_resnet").eval()
    with torch.no_grad():
        m.tail.weight.normal_(0, 0.02)
    export_torchscript(m, d / "model.pt")
    write_qp_input_manifest(d, "yuv_resnet", "loop_yuv", "model.pt", [22, 37], receptive_radius=24)
    return d


def test_yuv_model_runs_tiled_like_whole_picture_pytorch(yuv_model_dir, clip9):
    f = load_filter(yuv_model_dir, device="cpu", tile=64)  # tiles of 64 (context 24): borders exercised
    assert f.kind == "loop_yuv" and f.select_model(51) == 0
    scripted = torch.jit.load(str(yuv_model_dir / "model.pt"))
    y, u, v = clip9.y[0], clip9.u[0], clip9.v[0]
    out = f.filter_picture(27, y, u, v)
    t = lambda p: torch.from_numpy(p).float().div(255)[None, None]
    with torch.no_grad():
        ref = scripted(t(y), t(u), t(v), torch.tensor([27.0]))
    for got, want in zip(out, ref):
        want = want[0, 0].mul(255).round().clamp(0, 255).numpy()
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1  # float rounding at .5 may differ
        assert (got.astype(int) != want.astype(int)).mean() < 1e-3
    assert all(np.abs(o.astype(int) - p.astype(int)).max() > 0 for o, p in zip(out, (y, u, v)))


@pytest.mark.parametrize("config", ["ai", "ra", "ldp"])
def test_yuv_model_in_the_loop_filters_chroma_bit_exactly(yuv_model_dir, carphone, config):
    f = load_filter(yuv_model_dir, device="cpu", rdo=False)
    r = hb.encode(carphone[:5], recon="memory", config=config, qp=32, preset="medium", loop_filter=f)
    assert r.md5_match and r.decode.hash_ok
    infos = [side_info.unpack(p, carphone.width, carphone.height) for p in side_info_payloads(r.bitstream)]
    assert len(infos) == 5 and all(i.model_id == 0 and i.frame_on and i.cb_on and i.cr_on for i in infos)
    plain = hb.decode(r.bitstream).video  # without the filter, chroma differs too
    assert not np.array_equal(plain.u, r.recon.u) and not np.array_equal(plain.v, r.recon.v)


def test_luma_models_refuse_a_stream_that_filters_chroma(yuv_model_dir, model_dir, clip9):
    r = hb.encode(clip9[:2], recon="memory", config="ai", qp=32, preset="medium", loop_filter=load_filter(yuv_model_dir, rdo=False))
    with pytest.raises(RuntimeError, match="filters chroma, the loaded models are luma only"):
        hb.decode(r.bitstream, loop_filter=load_filter(model_dir))


def test_post_filter_placement_is_the_model_on_every_sample(model_dir, clip9):
    f = load_filter(model_dir, device="cpu")
    r = hb.encode(clip9[:3], recon="memory", config="ai", qp=37, preset="medium", loop_filter=f, placement="post")
    anchor = hb.encode(clip9[:3], recon="memory", config="ai", qp=37, preset="medium")
    assert r.bitstream == anchor.bitstream and r.side_info_bytes == 0 and r.md5_match
    for i in range(3):
        assert np.array_equal(r.recon.y[i], f.filter_plane(37, anchor.recon.y[i])[0])


def test_model_complexity_is_reported_for_every_registered_model():
    from cnn_filter.models import complexity, model_names

    params, kmac = complexity("vrcnn")
    assert params == 54512 + 161 and kmac == pytest.approx(54.512)  # VRCNN's known 54.5 kMAC/pixel
    p2, k2 = complexity("yuv_resnet")
    assert k2 <= 2 * kmac  # the stronger model stays within twice VRCNN's multiply-accumulates
    assert all(complexity(n)[1] > 0 for n in model_names())


def test_the_qp_input_models_id_round_trips_in_the_side_information(yuv_model_dir, clip9):
    f = load_filter(yuv_model_dir, device="cpu", rdo=False)
    for qp in (22, 37):
        r = hb.encode(clip9[:2], recon="memory", config="ai", qp=qp, preset="medium", loop_filter=f)
        ids = _model_ids(r.bitstream, clip9.width, clip9.height)
        assert ids == [f.select_model(qp)] * 2 == [0, 0] and r.md5_match


@pytest.mark.parametrize("models", ["vrcnn", "vrcnn-int"])
def test_min_gain_leaves_marginal_pictures_unfiltered(models, carphone):
    from cnn_filter.filters import resolve_filter

    clip, path = carphone[:5], REPO / "models" / models
    anchor = hb.encode(clip, recon="memory", config="ra", qp=37, preset="medium")
    on = hb.encode(clip, config="ra", qp=37, preset="medium", loop_filter=load_filter(path, device="cpu", min_gain=0.0))
    assert on.side_info_bytes > 0 and on.md5_match
    # no picture gains half of its SSE: nothing is filtered, the stream is the anchor's
    strict = resolve_filter(f"{path}:min_gain=0.5")
    assert "min_gain=0.5" in strict.plugin_options  # what HM's plug-in gets too
    off = hb.encode(clip, config="ra", qp=37, preset="medium", loop_filter=strict)
    assert off.side_info_bytes == 0 and off.bitstream == anchor.bitstream
    with pytest.raises(ValueError, match="min_gain"):
        load_filter(path, min_gain=1.5)
    with pytest.raises(ValueError, match="unknown model option"):
        resolve_filter(f"{path}:bogus=1")


def test_encoder_levers_measure_what_the_loop_runs(clip9):
    from experiments.encoder_levers import block_sse, picture_levers, run_filter

    paths = [REPO / "models" / n for n in ("yuv_resnet", "vrcnn")]
    if not all((p / "manifest.json").exists() for p in paths):
        pytest.skip("no shipped models/yuv_resnet and models/vrcnn")
    filt, other = (load_filter(p, device="cpu") for p in paths)
    a = hb.encode(clip9[:1], recon="memory", config="ai", qp=32, preset="medium")
    y, uv, src = a.recon.y[0], np.stack([a.recon.u[0], a.recon.v[0]]), clip9.y[0]
    # the study's filtered luma is the loop's (one intra picture, every block on)
    for path, f in zip(paths, (filt, other)):
        loop = hb.encode(clip9[:1], recon="memory", config="ai", qp=32, preset="medium", loop_filter=load_filter(path, rdo=False))
        assert loop.md5_match and np.array_equal(loop.recon.y[0], run_filter(f, 32, y, uv))
    assert not np.array_equal(run_filter(filt, 35, y, uv), run_filter(filt, 32, y, uv))  # the offset reaches the QP plane
    e = block_sse(y, src)
    assert len(e) == 3 * 3 and e.sum() == ((y.astype(np.float64) - src) ** 2).sum()  # 176x144: edge blocks cropped
    g = picture_levers(filt, other, 32, y, uv, src, [-3, 0, 3])
    assert g["model"] > 0.05 and g["other"] > 0.05  # both shipped models gain on a camera picture
    assert max(g["model"], g["other"]) <= g["model choice per block"] <= g["model choice per block, or off"]


SHIPPED_LOOP_MODELS = ["vrcnn", "vrcnn_replace", "yuv_resnet", "yuv_resnet_replace", "vrcnn-int"]


@pytest.mark.parametrize("name", SHIPPED_LOOP_MODELS)
def test_each_shipped_model_gives_the_same_picture_as_a_plugin_and_in_process(name):
    """The plug-in (its own C++ manifest reader, as HM loads it) against the in-process
    runner, on a picture wider than a 256-sample tile (a wrong tile context shows at the
    seams): bit for bit, at two QPs."""
    from cnn_filter import load_filter
    from cnn_filter.loader import INT_PLUGIN_NAME, PLUGIN_NAME, plugin_path
    from cnn_filter.zoo import open_models
    from hm_bridge.clips import load_builtin

    models = REPO / "models" / name
    picture = load_builtin("bikes", 1)  # 640x272: tiles meet at x = 256, 512 and y = 256
    integer = open_models(models).integer
    plugin = hb.load_native_filter(plugin_path(INT_PLUGIN_NAME if integer else PLUGIN_NAME),
                                   f"models={models}" + ("" if integer else ";device=cpu"))
    in_process = load_filter(models, device="cpu")
    for qp in (22, 37):
        a = hb.post_filter(picture, in_process, [qp], ["I"])
        b = hb.post_filter(picture, plugin, [qp], ["I"])
        assert a.md5() == b.md5(), f"{name} QP {qp}: plug-in != in-process"
        assert a.md5() != picture.md5()  # the model did filter


def test_a_manifest_without_the_receptive_radius_is_refused_by_both_readers(tmp_path):
    from cnn_filter.loader import PLUGIN_NAME, plugin_path
    from cnn_filter.zoo import open_models

    d = tmp_path / "m"
    shutil.copytree(REPO / "models" / "yuv_resnet", d)
    meta = json.loads((d / "manifest.json").read_text())
    del meta["receptive_radius"]
    (d / "manifest.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="receptive_radius"):
        open_models(d)
    with pytest.raises(ValueError, match="refused the options: .*receptive_radius"):
        hb.load_native_filter(plugin_path(PLUGIN_NAME), f"models={d};device=cpu")


def test_block_sizes_tries_smaller_maps_and_the_plugin_follows(clip9):
    """block_sizes=3: the encoder also tries 32- and 16-sample blocks for a picture's on/off
    map and sends the cheapest by D + λ·R; with 1 only 64-sample maps are sent. The plug-in,
    told nothing of block_sizes, decodes the stream exactly (the map names its block size)."""
    from cnn_filter.loader import plugin_path

    path = REPO / "models" / "vrcnn_inter"
    sizes = {}
    for n in (1, 3):
        r = hb.encode(clip9, recon="memory", config="ldp", qp=32, preset="medium",
                      loop_filter=load_filter(path, device="cpu", min_gain=0.0, block_sizes=n))
        assert r.md5_match
        infos = [side_info.unpack(p, clip9.width, clip9.height) for p in side_info_payloads(r.bitstream)]
        sizes[n] = {i.log2_block for i in infos if i.frame_on and not i.blocks.all()}
    assert sizes[1] <= {6} and sizes[3] - {6}, sizes  # 32x32 or 16x16 maps chosen
    d = hb.decode(r.bitstream, loop_filter=hb.load_native_filter(plugin_path(), f"models={path}"), output="memory")
    assert d.hash_ok and d.video.md5() == r.recon.md5()
    with pytest.raises(ValueError, match="block_sizes must be in 1..4"):
        load_filter(path, device="cpu", block_sizes=5)
    # the default never asks for blocks below 8x8; the plug-in is told what runs in-process
    assert "block_sizes=1" in load_filter(path, device="cpu", log2_block=3).plugin_options
