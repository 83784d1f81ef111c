"""The super-resolution coding mode: container, model stream, RDO, networks."""
import json

import numpy as np
import pytest
import torch

import hm_bridge as hb
from cnn_filter import count_parameters, create_model
from cnn_filter.export import export_torchscript
from sr_mode.codec import SR_QPS, SRModels, sr_decode, sr_encode, super_resolve
from sr_mode.container import Container, ContainerError, ModelStream
from sr_mode.resample import UPSAMPLERS, to_uint8


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("sr")
    for qp, seed in ((32, 1), (44, 2)):
        torch.manual_seed(seed)
        m = create_model("sr_residual").eval()
        with torch.no_grad():
            m.last.weight.normal_(0, 0.01)
        export_torchscript(m, d / f"qp{qp}.pt")
    (d / "manifest.json").write_text(json.dumps({"kind": "sr_residual", "receptive_radius": 9,
                                                        "models": {"32": "qp32.pt", "44": "qp44.pt"}}))
    return SRModels(d)


@pytest.fixture(scope="module")
def image(carphone):
    from hm_bridge.color import video_frame_to_rgb

    return video_frame_to_rgb(carphone[0])  # 176x144 RGB


def test_sr_network_shape_and_parameters():
    m = create_model("sr_residual")
    assert m(torch.rand(2, 1, 20, 30)).shape == (2, 1, 40, 60)
    weights, biases = count_parameters(m)
    # 3x3 features 1-16-14-12-11-10-9-8, A1 1x1 80->24, B1 1x1 80->8, B2 3x3 8->8, last 3x3 32->4
    expected_w = 9 * (16 + 16 * 14 + 14 * 12 + 12 * 11 + 11 * 10 + 10 * 9 + 9 * 8) + 80 * 24 + 80 * 8 + 9 * 64 + 9 * 32 * 4
    prelu = 16 + 14 + 12 + 11 + 10 + 9 + 8 + 24 + 8 + 8  # one slope per channel
    assert weights == expected_w + prelu == 11_716
    assert biases == 80 + 24 + 8 + 8 + 4
    assert create_model("srcnn")(torch.rand(1, 1, 32, 32)).shape == (1, 1, 32, 32)
    assert create_model("sr_autoencoder")(torch.rand(1, 1, 32, 48)).shape == (1, 1, 32, 48)


def test_every_model_stream_code_round_trips():
    for qp in range(64):
        for method in UPSAMPLERS:
            data = ModelStream(qp, method).encode()
            assert len(data) == 2 and ModelStream.decode(data) == ModelStream(qp, method)
    assert [ModelStream.decode(bytes([1, (40 << 2) | c])).method for c in range(4)] == list(UPSAMPLERS)
    with pytest.raises(ValueError):
        ModelStream(64, "nearest").encode()


def test_container_round_trip_and_corruption():
    c = Container(768, 512, ModelStream(36, "bicubic"), b"\x00\x00\x00\x01" + bytes(range(200)))
    data = c.pack()
    assert data[:4] == b"HMSR" and Container.unpack(data) == c
    for bad, why in ((data[:-1], "truncated|CRC"), (data[:10], "truncated"), (b"XXXX" + data[4:], "magic"),
                     (data[:20] + bytes([data[20] ^ 1]) + data[21:], "CRC"), (b"", "truncated")):
        with pytest.raises(ContainerError, match=why):
            Container.unpack(bad)


def test_encode_decode_round_trip_is_bit_exact(models, image):
    data, details = sr_encode(image, 40, models, preset="medium")
    video, rgb, model_stream = sr_decode(data, models)
    assert model_stream.qp == 40 and model_stream.method == details.method
    assert (video.width, video.height) == (176, 144) and rgb.shape == (144, 176, 3)
    assert details.total_bytes == len(data)
    c = Container.unpack(data)
    # the content stream is the half-size picture coded by x265 (picture hash stripped), and
    # it decodes to exactly what that encoder reconstructed
    from hm_bridge.bitstream import strip_hash_sei
    from hm_bridge.color import rgb_to_video
    from sr_mode.resample import half_size

    coded = hb.encode(half_size(rgb_to_video(image, multiple=4)), config="ai", qp=40, preset="medium", recon="memory")
    assert c.content == strip_hash_sei(coded.bitstream)
    assert hb.decode(c.content).video.md5() == coded.recon.md5()
    again, _, _ = sr_decode(data, models)
    assert again.md5() == video.md5()


def test_rdo_picks_the_least_distortion_method(models, image):
    """The method the encoder signals gives the decoder's output of least luma SSE against
    the source, measured on what the decoder outputs for every method."""
    from hm_bridge.color import rgb_to_video

    data, details = sr_encode(image, 40, models, preset="medium")
    c = Container.unpack(data)
    source = rgb_to_video(image, multiple=4).y[0].astype(np.int64)
    sse = {}
    for m in UPSAMPLERS:
        forced = Container(c.width, c.height, ModelStream(40, m), c.content).pack()
        video, _, _ = sr_decode(forced, models)
        sse[m] = float(((video.y[0].astype(np.int64) - source) ** 2).sum())
    assert len(set(sse.values())) > 1  # the methods differ on this picture
    assert sse[details.method] == min(sse.values())
    assert sse == pytest.approx(details.distortions)


def test_rdo_on_a_crafted_picture_picks_nearest():
    """A picture made of 2x2 blocks is reproduced exactly by nearest upsampling of its
    half-size version, so with an identity network the RDO must pick nearest (code 00)."""

    class Zero(torch.nn.Module):
        def forward(self, x):
            return torch.zeros(x.shape[0], 1, 2 * x.shape[2], 2 * x.shape[3])

    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 256, (36, 44), dtype=np.uint8)
    lr = blocks
    y = np.repeat(np.repeat(lr, 2, 0), 2, 1)
    sse = {m: float(((to_uint8(super_resolve(Zero(), "sr_residual", lr, m)).astype(int) - y) ** 2).sum())
           for m in UPSAMPLERS}
    assert sse["nearest"] == 0 and min(UPSAMPLERS, key=lambda m: (sse[m], UPSAMPLERS.index(m))) == "nearest"
    assert sse["bicubic"] > 0 and sse["bilinear"] > 0


def test_bad_inputs(models, image):
    with pytest.raises(ValueError, match="QP"):
        sr_encode(image, 60, models)
    with pytest.raises(ValueError, match="criterion"):
        sr_encode(image, 40, models, criterion="ssim")
    with pytest.raises(FileNotFoundError):
        SRModels("/nonexistent/models")
    data, _ = sr_encode(image, 40, models, preset="ultrafast")
    with pytest.raises(ContainerError):
        sr_decode(data[:-5], models)


SHIPPED_SR = __import__("pathlib").Path(__file__).resolve().parent.parent / "models" / "sr"


@pytest.mark.skipif(not (SHIPPED_SR / "manifest.json").exists(), reason="no shipped SR networks in models/sr")
def test_shipped_sr_networks_beat_bicubic_on_validation():
    shipped = SRModels(SHIPPED_SR)
    assert shipped.qps == list(SR_QPS)
    for qp in shipped.qps:
        meta = json.loads((SHIPPED_SR / f"qp{qp}.json").read_text())
        assert meta["val_psnr_gain"] > 0 and meta["baseline"] == "bicubic"
