"""Main10: 10-bit pictures through x265 (its 10-bit library, linked in) and libde265, with a
filter in the loop; 8-bit content coded at 10-bit internal depth; sweeps at 10 bits."""
import numpy as np
import pytest

import hm_bridge as hb
from conftest import ten_bit_pan
from hm_bridge.clips import load_builtin


@pytest.fixture(scope="module")
def band_offset(tmp_path_factory):
    from experiments.hm_check import build_example_filter

    return build_example_filter(tmp_path_factory.mktemp("plugin"))


@pytest.mark.parametrize("config", ["ai", "ra", "ldp"])
def test_x265_main10_with_a_filter_in_the_loop(band_offset, config):
    """A 10-bit sequence made here, coded at 10 bits with the (any-depth) plain-C plug-in in
    the loop: libde265's output == x265's reconstruction (MD5 over 16-bit samples), picture
    hashes OK, PSNR equal to one computed here with HM's 10-bit peak (1020)."""
    video = ten_bit_pan(frames=6, width=128, height=96)
    f = hb.load_native_filter(band_offset)
    r = hb.encode(video, config=config, qp=37, preset="ultrafast", recon="memory", loop_filter=f)
    assert r.md5_match and r.decode.hash_ok and r.decode.hashed_pictures == 6 and r.side_info_bytes > 0
    assert r.recon.bit_depth == 10 and r.recon.y.dtype == np.uint16 and r.recon.y.max() > 255
    mse = np.stack([((a.astype(float) - b) ** 2).reshape(6, -1).mean(axis=1)
                    for a, b in ((video.y, r.recon.y), (video.u, r.recon.u), (video.v, r.recon.v))], axis=1)
    assert np.allclose(r.psnr.per_frame, 10 * np.log10(1020.0 ** 2 / mse), atol=1e-9)
    decoded = hb.decode(r.bitstream, loop_filter=f)
    assert decoded.video.bit_depth == 10 and decoded.video.md5() == r.recon.md5() and decoded.hash_ok
    assert not hb.decode(r.bitstream).hash_ok  # without the filter: drift


def test_eight_bit_content_at_ten_bit_internal_depth():
    video = load_builtin("carphone", 3)
    r = hb.encode(video, config="ai", qp=32, preset="ultrafast", bit_depth=10, recon="memory")
    eight = hb.encode(video, config="ai", qp=32, preset="ultrafast")
    assert r.md5_match and r.recon.bit_depth == 10 and r.bitstream != eight.bitstream
    src = video.y.astype(float) * 4  # the source as HM shifts it up
    mse = ((src - r.recon.y) ** 2).reshape(3, -1).mean(axis=1)
    assert np.allclose(r.psnr.per_frame[:, 0], 10 * np.log10(1020.0 ** 2 / mse), atol=1e-9)
    assert abs(r.psnr.y - eight.psnr.y) < 1.0  # the same pictures, coded at another depth


def test_a_filter_that_cannot_take_ten_bits_says_so():
    with pytest.raises(RuntimeError, match="8-bit pictures"):
        hb.encode(ten_bit_pan(frames=2, width=128, height=96), config="ai", qp=37, preset="ultrafast",
                  loop_filter=hb.SmoothingFilter(rdo=False))
    with pytest.raises(ValueError, match="codes at 8 or 10 bits, not 12"):
        hb.encode(load_builtin("carphone", 1), config="ai", qp=37, bit_depth=12)


def test_a_sweep_at_ten_bits(tmp_path, band_offset):
    """--bit-depth 10: jobs of their own (keys differ from 8 bits), rows say the depth, the
    report says what was coded at which depth."""
    from experiments.report import report
    from experiments.spec import Experiment
    from experiments.sweep import plan, run

    exp = Experiment(name="d10", sequences=["carphone"], configs=["ai", "ra"], qps=[32, 37], frames=3,
                     preset="ultrafast", test=str(band_offset), bit_depth=10)
    exp.validate()
    eight = Experiment(**{**exp.__dict__, "bit_depth": 8})
    assert not {j.key for j in plan(exp)[0]} & {j.key for j in plan(eight)[0]}
    assert "bit_depth" not in eight.to_dict() and exp.to_dict()["bit_depth"] == 10
    summary = run(exp, tmp_path, progress=False)
    assert summary["ran"] == 8 and summary["failed"] == 0
    import sqlite3

    with sqlite3.connect(tmp_path / "results.sqlite") as c:
        assert {d for (d,) in c.execute("SELECT bit_depth FROM jobs")} == {10}
        assert all(0.8 < s <= 1.0 for (s,) in c.execute("SELECT ssim_y FROM jobs"))  # on the 10-bit scale
        assert all(m == 1 for (m,) in c.execute("SELECT md5_match FROM jobs"))
    report(tmp_path)
    assert "Main10 internal depth" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize("config", ["ai", "ra", "ldp"])
def test_cnn_filters_in_x265s_main10_loop(config):
    """VRCNN and the YUV model (trained on 8-bit pictures; the runner scales by HM's peak)
    in x265's loop at 10 bits: libde265 reproduces every picture; they still gain."""
    from cnn_filter import load_filter

    video = ten_bit_pan(frames=5, width=128, height=96)
    anchor = hb.encode(video, config=config, qp=37, preset="ultrafast")
    for name in ("vrcnn", "yuv_resnet"):
        f = load_filter(f"models/{name}", device="cpu")
        r = hb.encode(video, config=config, qp=37, preset="ultrafast", loop_filter=f)
        assert r.md5_match and r.decode.hash_ok, name
        assert r.psnr.y >= anchor.psnr.y, name  # the block decisions keep what helps


def test_ssim_at_ten_bits_is_on_the_ten_bit_scale():
    from experiments.metrics import ssim_plane

    rng = np.random.default_rng(0)
    a = (100 + rng.integers(0, 4, (64, 64))).astype(np.uint16)  # flat: the constants (of the range) weigh
    b = (a + rng.integers(-2, 3, a.shape)).astype(np.uint16)
    eight, ten = ssim_plane(a, b), ssim_plane(a * 4, b * 4, 10)
    assert abs(ten - eight) < 0.01 and abs(ssim_plane(a * 4, b * 4) - eight) > 0.05  # the range matters


INT_VRCNN = __import__("conftest").REPO / "models" / "vrcnn-int"
KERNELS = ["scalar"] + (["avx2-direct", "avx2"] if __import__("cnn_filter._int_runner", fromlist=["x"]).best_kernel()
                        == "avx2" else [])


def test_the_integer_runner_at_ten_bits_gives_the_reference_bits_with_every_kernel():
    """The shipped integer VRCNN on 10-bit planes: every kernel, thread count and stripe
    height gives the Python reference's bits (the samples' depth taken into the first
    layer's scaling and the residual's); 8-bit content shifted up comes out as the 8-bit
    result shifted up, to within the residual's finer rounding."""
    from cnn_filter.loader import load_integer_filter
    from cnn_filter.quantize import load, run_integer

    f = load_integer_filter(INT_VRCNN)
    model = load(INT_VRCNN / "qp37.hmq")
    rng = np.random.default_rng(5)
    planes = [rng.integers(0, 1024, (46, 70), dtype=np.uint16), ten_bit_pan(frames=1, width=96, height=64).y[0],
              rng.integers(0, 1024, (83, 37), dtype=np.uint16)]
    for plane in planes:
        ref = run_integer(model, plane, bit_depth=10)
        assert ref.dtype == np.uint16 and ref.max() <= 1023 and (ref != plane).mean() > 0.1
        for kernel in KERNELS:
            for threads, stripe in ((1, 0), (2, 0), (3, 5)):
                assert np.array_equal(f.filter_plane_deep(37, plane, 10, kernel, threads, stripe), ref), \
                    (plane.shape, kernel, threads, stripe)
    eight = load_builtin("carphone", 1).y[0]
    out8 = f.filter_plane(37, eight).astype(int)
    out10 = f.filter_plane_deep(37, eight.astype(np.uint16) << 2, 10).astype(int)
    assert np.abs(out10 - 4 * out8).max() <= 3 and (out10 != eight.astype(int) * 4).mean() > 0.1


def test_an_integer_model_that_could_overflow_at_ten_bits_is_refused_there(tmp_path):
    """A first layer whose accumulator fits int32 for 8-bit samples but not for 10-bit
    ones: the model still runs at 8 bits; at 10 bits it is refused, the layer named."""
    from cnn_filter.loader import load_integer_filter
    from cnn_filter.quantize import load, run_integer, save
    from cnn_filter.zoo import write_manifest

    model = load(INT_VRCNN / "qp37.hmq")
    conv1 = model.layers[0]
    assert conv1.src == 0
    conv1.bias = np.full_like(np.asarray(conv1.bias), 1 << 29)  # x4 at 10 bits: past 2^31
    save(model, tmp_path / "qp37.hmq")
    write_manifest(tmp_path, "vrcnn", "loop", {37: "qp37.hmq"}, format="hmq", receptive_radius=6)
    f = load_integer_filter(tmp_path)
    plane = load_builtin("carphone", 1).y[0]
    assert np.array_equal(f.filter_plane(37, plane), run_integer(model, plane))
    with pytest.raises(ValueError, match="layer conv1 could overflow int32 on 10-bit samples"):
        f.filter_plane_deep(37, plane.astype(np.uint16) << 2, 10)
    with pytest.raises(RuntimeError, match="could overflow int32 on 10-bit samples"):
        hb.encode(ten_bit_pan(frames=1, width=128, height=96), config="ai", qp=37, preset="ultrafast", loop_filter=f)


@pytest.mark.parametrize("config", ["ai", "ra", "ldp"])
def test_the_integer_vrcnn_in_x265s_main10_loop(config):
    from cnn_filter import load_filter

    video = ten_bit_pan(frames=5, width=128, height=96)
    f = load_filter(INT_VRCNN, rdo=False)
    r = hb.encode(video, config=config, qp=37, preset="ultrafast", loop_filter=f)
    assert r.md5_match and r.decode.hash_ok and r.side_info_bytes > 0
    assert not hb.decode(r.bitstream).hash_ok  # without the filter: drift
