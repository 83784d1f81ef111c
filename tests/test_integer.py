"""Integer inference: a fixed-point VRCNN whose bits are the same for every kernel
(scalar, AVX2), thread count and stripe height, equal to the Python reference, and
across encoder and decoder configurations; overflow refused at export; a decoder with
another model refuses the stream."""
import json
import subprocess
import shutil

import numpy as np
import pytest
import torch

import hm_bridge as hb
from cnn_filter import create_model
from cnn_filter.loader import INT_PLUGIN_NAME, load_integer_filter, plugin_path
from cnn_filter.quantize import (OverflowRefused, content_hash, load, quantize, run_integer, save)
from cnn_filter.zoo import write_manifest
from conftest import REPO


def _vrcnn(seed: int):
    torch.manual_seed(seed)
    m = create_model("vrcnn").eval()
    with torch.no_grad():
        m.conv4.weight.normal_(0, 0.02)  # visibly not the identity
    return m


@pytest.fixture(scope="module")
def int_dir(tmp_path_factory, clip9):
    d = tmp_path_factory.mktemp("int")
    calibration = [clip9.y[i] for i in range(3)]
    for qp, seed in ((22, 1), (37, 2)):
        save(quantize(_vrcnn(seed), "vrcnn", calibration), d / f"qp{qp}.hmq")
    write_manifest(d, "vrcnn", "loop", {22: "qp22.hmq", 37: "qp37.hmq"}, format="hmq", receptive_radius=6)
    return d


HAS_AVX2 = __import__("cnn_filter._int_runner", fromlist=["x"]).best_kernel() == "avx2"
KERNELS = ["scalar"] + (["avx2-direct", "avx2"] if HAS_AVX2 else [])


def test_every_kernel_thread_count_and_stripe_gives_the_reference_bits(int_dir, clip9):
    f = load_integer_filter(int_dir)
    model = load(int_dir / "qp37.hmq")
    rng = np.random.default_rng(4)
    planes = [rng.integers(0, 256, (46, 70), dtype=np.uint8), rng.integers(0, 256, (64, 96), dtype=np.uint8),
              rng.integers(0, 256, (203, 37), dtype=np.uint8),  # odd sizes; many bands in one stripe
              clip9.y[0], hb.encode(clip9[:1], recon="memory", config="ai", qp=37, preset="medium").recon.y[0]]
    assert f.winograd_layers(37) == ["conv2_5x5", "conv2_3x3", "conv3_3x3"]  # the fast path is exercised
    for plane in planes:
        ref = run_integer(model, plane)  # the Python reference (exact int32 arithmetic)
        for kernel in KERNELS:
            for threads in (1, 2, 3):
                for stripe in (0, 1, 5, 64):  # 0: one stripe per thread
                    assert np.array_equal(f.filter_plane(37, plane, kernel, threads, stripe), ref), \
                        (plane.shape, kernel, threads, stripe)
        assert (ref != plane).mean() > 0.1


def test_winograd_only_where_every_step_is_provably_exact(int_dir, tmp_path, clip9):
    """A layer whose sums could leave +-2^29 (4x of them then leaves int32) runs direct;
    the bits stay the reference's either way."""
    model = load(int_dir / "qp37.hmq")
    conv = next(l for l in model.layers if l.name == "conv2_5x5")
    w = np.array(conv.weight)
    w[0] = 0
    w[0, :, :3, :] = 137  # rows 0-2 of channel 0: 960 weights * 137 * 4095 > 2^29, all 25 taps < 2^31
    conv.weight = w
    d = tmp_path / "big"
    d.mkdir()
    save(model, d / "qp37.hmq")
    write_manifest(d, "vrcnn", "loop", {37: "qp37.hmq"}, format="hmq", receptive_radius=6)
    f = load_integer_filter(d)
    assert f.winograd_layers(37) == ["conv2_3x3", "conv3_3x3"]
    ref = run_integer(model, clip9.y[0])
    for kernel in KERNELS:
        assert np.array_equal(f.filter_plane(37, clip9.y[0], kernel, 2), ref), kernel


@pytest.mark.parametrize("config", ["ai", "ra", "ldp"])
def test_encode_with_one_runner_configuration_decode_with_another(int_dir, carphone, config):
    enc = load_integer_filter(int_dir, kernel=KERNELS[-1], threads=2, stripe=16, rdo=False)
    dec = load_integer_filter(int_dir, kernel="scalar", threads=1, stripe=64)
    r = hb.encode(carphone[:9], recon="memory", config=config, qp=37, preset="medium", loop_filter=enc, verify=False)
    d = hb.decode(r.bitstream, loop_filter=dec)
    assert d.video.md5() == r.recon.md5() and d.hash_ok and r.side_info_bytes > 0
    assert not hb.decode(r.bitstream).hash_ok


def test_a_decoder_with_another_model_refuses_the_stream(int_dir, tmp_path, clip9):
    r = hb.encode(clip9[:2], recon="memory", config="ai", qp=37, preset="medium", loop_filter=load_integer_filter(int_dir, rdo=False))
    other = tmp_path / "other"
    other.mkdir()
    calibration = [clip9.y[0]]
    for qp, seed in ((22, 1), (37, 9)):  # QP 37's model differs
        save(quantize(_vrcnn(seed), "vrcnn", calibration), other / f"qp{qp}.hmq")
    write_manifest(other, "vrcnn", "loop", {22: "qp22.hmq", 37: "qp37.hmq"}, format="hmq", receptive_radius=6)
    expected = content_hash((int_dir / "qp37.hmq").read_bytes())
    with pytest.raises(RuntimeError, match=f"coded with the model of content hash {expected:04x}, this decoder holds"):
        hb.decode(r.bitstream, loop_filter=load_integer_filter(other))


def test_a_model_whose_accumulators_could_overflow_is_refused_with_the_layer_named(clip9):
    with pytest.raises(OverflowRefused, match=r"layer conv2_5x5: the int32 accumulator could reach \d+"):
        quantize(_vrcnn(1), "vrcnn", [clip9.y[0]], weight_bits=16)


def test_the_integer_plugin_from_c_filters_like_the_python_runner(int_dir, tmp_path, clip9):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    exe = tmp_path / "plugin_apply"
    subprocess.run([cc, "-std=c11", "-O2", "-I", str(REPO / "cpp" / "include"), str(REPO / "tests" / "c" / "plugin_apply.c"),
                    "-ldl", "-o", str(exe)], check=True)
    clip9[0].to_yuv(tmp_path / "in.yuv")
    r = subprocess.run([str(exe), str(plugin_path(INT_PLUGIN_NAME)), f"models={int_dir};threads=2", "176", "144", "37",
                        str(tmp_path / "in.yuv"), str(tmp_path / "out.yuv")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = hb.Video.from_yuv(tmp_path / "out.yuv", 176, 144)
    assert np.array_equal(out.y[0], load_integer_filter(int_dir).filter_plane(37, clip9.y[0]))


def test_file_format_round_trip_and_hash_twins(int_dir):
    from cnn_filter import _int_runner

    data = (int_dir / "qp22.hmq").read_bytes()
    assert data[:4] == b"HMCQ" and _int_runner.content_hash(data) == content_hash(data)
    m = load(int_dir / "qp22.hmq")
    assert m.receptive_radius == 6 and [l.name for l in m.layers][-1] == "conv4"
    assert json.loads((int_dir / "manifest.json").read_text())["format"] == "hmq"


def test_quantization_aware_fine_tuning_runs_and_keeps_the_scales(clip9):
    from cnn_filter.quantize import qat_finetune

    m = _vrcnn(3)
    q = quantize(m, "vrcnn", [clip9.y[0]])
    recon = hb.encode(clip9[:2], recon="memory", config="ai", qp=37, preset="medium").recon.y
    tuned = qat_finetune(m, "vrcnn", q, list(recon), list(clip9.y[:2]), steps=3, patch=32, batch=2)
    again = quantize(tuned, "vrcnn", [clip9.y[0]], peaks={int(k): v for k, v in q.meta["peaks"].items()})
    assert [t[1] for t in again.tensors] == [t[1] for t in q.tensors]


SHIPPED_INTEGER_MODELS = ["vrcnn-int"]


@pytest.mark.parametrize("name", SHIPPED_INTEGER_MODELS)
def test_the_exact_libtorch_path_equals_the_integer_runner_on_every_shipped_integer_model(name, carphone):
    """float64 convolutions of integer tensors + int64 shifts (the path a GPU runs) against
    the integer runner, every model of the directory: random pictures of odd sizes, a real
    one, stripes that cut the picture (the receptive radius around each)."""
    from cnn_filter.loader import load_exact_integer_filter

    models = REPO / "models" / name
    reference = load_integer_filter(models)
    rng = np.random.default_rng(7)
    pictures = [rng.integers(0, 256, (37, 53), dtype=np.uint8), rng.integers(0, 256, (90, 21), dtype=np.uint8),
                carphone.y[3]]
    for stripe in (8, 512):
        exact = load_exact_integer_filter(models, "cpu", stripe=stripe)
        for qp in reference.qps:
            for y in pictures:
                a, b = exact.filter_plane(qp, y), reference.filter_plane(qp, y)
                assert np.array_equal(a, b), f"{name} QP {qp} {y.shape} stripe {stripe}"
                assert not np.array_equal(a, y)


@pytest.mark.parametrize("config", ["ai", "ra", "ldp"])
def test_encode_on_the_exact_libtorch_path_decode_on_the_integer_runner(config, carphone):
    """The GPU integer path's stand-in on the CPU (the same code on another device): a
    stream coded with it decodes on the integer runner MD5-equal, and the reverse."""
    from cnn_filter.loader import load_exact_integer_filter

    models = REPO / "models" / "vrcnn-int"
    exact = load_exact_integer_filter(models, "cpu")
    runner = load_integer_filter(models)
    a = hb.encode(carphone[:5], config=config, qp=37, preset="medium", loop_filter=exact, verify=False)
    d = hb.decode(a.bitstream, loop_filter=runner, output=None)
    assert d.md5s == a.recon_md5s and d.hash_ok and a.side_info_bytes > 0
    b = hb.encode(carphone[:5], config=config, qp=37, preset="medium", loop_filter=runner, verify=False)
    assert b.bitstream == a.bitstream  # the same decisions from the same bits
    assert hb.decode(b.bitstream, loop_filter=exact, output=None).md5s == b.recon_md5s


def test_the_exactness_bound_holds_for_the_shipped_model_and_refuses_a_layer_past_2_53():
    from cnn_filter._runner import exact_sum_bound, exact_sum_bound_of

    model = load(REPO / "models" / "vrcnn-int" / "qp37.hmq")
    bounds = dict(exact_sum_bound(str(REPO / "models" / "vrcnn-int" / "qp37.hmq")))
    inputs = {0: 255} | {t: (1 << bits) - 1 for t, (_, _, bits) in enumerate(model.tensors) if t}
    for layer in model.layers:  # |bias| + half + sum |w| x the input's largest value, computed here
        expected = (np.abs(layer.bias.astype(np.float64)) + (1 << (layer.shift - 1) if layer.shift else 0)
                    + np.abs(layer.weight.astype(np.float64)).reshape(layer.cout, -1).sum(1) * inputs[layer.src]).max()
        assert bounds[layer.name] == expected < 2**53
    w = np.full((1, 64, 9, 9), 32767, np.int16)
    assert exact_sum_bound_of(w, [0], 0, 32767.0) < 2**53  # the largest layer the format allows
    with pytest.raises(ValueError, match="layer given: a float64 partial sum could reach"):
        exact_sum_bound_of(w, [0], 0, 2.0**40)  # inputs no .hmq tensor can hold


def test_the_libtorch_plugin_runs_integer_models_exactly_and_names_what_does_not_apply(carphone):
    from cnn_filter.loader import PLUGIN_NAME

    models = REPO / "models" / "vrcnn-int"
    plugin = hb.load_native_filter(plugin_path(PLUGIN_NAME), f"models={models};device=cpu;stripe=16")
    picture = carphone[:1]
    assert hb.post_filter(picture, plugin, [37]).md5() == hb.post_filter(picture, load_integer_filter(models), [37]).md5()
    with pytest.raises(ValueError, match="option tile does not apply to integer models"):
        hb.load_native_filter(plugin_path(PLUGIN_NAME), f"models={models};tile=128")
