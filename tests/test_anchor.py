"""Hook off: the patched codecs still agree with each other and with an external decoder."""
import subprocess

import numpy as np
import pytest

import hm_bridge as hb
from hm_bridge.bitstream import count_bytes, side_info_payloads, split_nals
from conftest import require_ffmpeg


@pytest.mark.parametrize("config", ["ai", "ra", "ldp"])
def test_encoder_recon_equals_libde265_output_without_filter(clip9, config):
    r = hb.encode(clip9, recon="memory", config=config, qp=32, preset="medium")
    d = hb.decode(r.bitstream)
    assert d.video.md5() == r.recon.md5()
    assert d.hash_ok and d.hashed_pictures == len(clip9)  # every picture carried an MD5 hash SEI
    assert r.psnr.y > 30 and r.kbps > 0 and r.side_info_bytes == 0


@pytest.mark.parametrize("config", ["ai", "ra", "ldp"])
def test_ffmpeg_decodes_our_streams_to_the_same_pictures(tmp_path, clip9, config):
    require_ffmpeg()
    r = hb.encode(clip9, recon="memory", config=config, qp=37, preset="medium", loop_filter=None)
    (tmp_path / "s.hevc").write_bytes(r.bitstream)
    out = tmp_path / "ff.yuv"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(tmp_path / "s.hevc"), "-f", "rawvideo",
                    "-pix_fmt", "yuv420p", str(out)], check=True)
    assert hb.Video.from_yuv(out, clip9.width, clip9.height).md5() == r.recon.md5()


def test_ffmpeg_ignores_our_side_info_nal_and_matches_a_filter_free_decode(tmp_path, clip9):
    """Standard decoders skip the side-information NAL unit (a type HEVC leaves unspecified):
    ffmpeg (no hook) == libde265 without the filter."""
    require_ffmpeg()
    r = hb.encode(clip9, recon="memory", config="ldp", qp=37, preset="medium", loop_filter=hb.SmoothingFilter(rdo=False))
    assert r.side_info_bytes > 0
    (tmp_path / "s.hevc").write_bytes(r.bitstream)
    out = tmp_path / "ff.yuv"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(tmp_path / "s.hevc"), "-f", "rawvideo",
                    "-pix_fmt", "yuv420p", str(out)], check=True)
    plain = hb.decode(r.bitstream)
    assert hb.Video.from_yuv(out, clip9.width, clip9.height).md5() == plain.video.md5()


def test_config_structures(carphone):
    ra = hb.encode(carphone, config="ra", qp=32, preset="medium")
    assert ra.frame_types[0] == "I" and ra.frame_types[8] == "P" and ra.frame_types[16] == "P"
    assert ra.frame_types[4] == "B" and ra.frame_types[2] == "b" and ra.frame_types[1] == "b"
    # HM-16.20's cascade (the default): I at -3, P = HM's lowest layer, the B 4 apart from its
    # references = temporal id 2, b 2 apart = 3, b 1 apart = 4 (with the QP offset model)
    assert [ra.slice_qps[i] for i in (0, 8, 4, 2, 6, 1, 7)] == [29, 33, 38, 40, 40, 41, 41]
    l1100 = hb.encode(carphone, config="ra", qp=32, preset="medium", qp_cascade="l1100")
    assert [l1100.slice_qps[i] for i in (0, 8, 4, 2, 6, 1, 7)] == [32, 33, 34, 35, 35, 36, 36]
    ldp = hb.encode(carphone[:9], config="ldp", qp=32, preset="medium")
    assert ldp.frame_types == ["I"] + ["P"] * 8
    assert ldp.slice_qps == [31, 40, 39, 40, 39, 40, 39, 40, 33]
    assert hb.encode(carphone[:5], config="ldp", qp=32, preset="medium", qp_cascade="l1100").slice_qps == [
        32, 35, 34, 35, 33]
    ai = hb.encode(carphone[:3], config="ai", qp=27, preset="medium")
    assert ai.frame_types == ["I"] * 3 and ai.slice_qps == [27] * 3


def test_rate_counts_side_info_but_not_the_picture_hash(clip9):
    r = hb.encode(clip9, recon="memory", config="ai", qp=37, preset="medium", loop_filter=hb.SmoothingFilter(rdo=False))
    c = count_bytes(r.bitstream)
    assert c.hash_sei > 0 and c.side_info == r.side_info_bytes > 0
    assert r.rate_bytes == len(r.bitstream) - c.hash_sei
    assert r.bits_per_frame.sum() == 8 * r.rate_bytes  # access units, parameter sets in the first
    types = {n.type for n in split_nals(r.bitstream)}
    assert {32, 33, 34, 40, 56} <= types  # VPS, SPS, PPS, suffix SEI (hash), side information
    # each side-information NAL unit costs 6 bytes beyond the filter's bytes (inloop_filter.h)
    units = [n for n in split_nals(r.bitstream) if n.type == 56]
    assert sum(n.size - 6 for n in units) == sum(len(p) for p in side_info_payloads(r.bitstream))
    assert len(units) == len(side_info_payloads(r.bitstream)) == 9


def test_unsupported_and_bad_arguments(clip9):
    with pytest.raises(NotImplementedError, match="low-delay B"):
        hb.encode(clip9, config="ldb")
    with pytest.raises(ValueError, match="unknown config"):
        hb.encode(clip9, config="lowdelay")
    for qp in (-1, 52, 32.5, "32"):
        with pytest.raises(ValueError, match="QP must be an integer in 0..51"):
            hb.encode(clip9, qp=qp)
    with pytest.raises(ValueError, match="unknown preset"):
        hb.encode(clip9, preset="fastest")
    with pytest.raises(ValueError, match="frames must be"):
        hb.encode(clip9, frames=10)
    with pytest.raises(ValueError, match="unknown x265 option"):
        hb.encode(clip9, extra_options=[("no-such-option", "1")])
    with pytest.raises(TypeError):
        hb.encode(np.zeros((3, 16, 16)))


def test_sizes_not_multiple_of_8_are_coded_with_a_conformance_window(carphone):
    v = hb.Video(carphone.y[:3, :90, :118], carphone.u[:3, :45, :59], carphone.v[:3, :45, :59])
    r = hb.encode(v, recon="memory", config="ldp", qp=32, preset="medium", loop_filter=hb.SmoothingFilter(rdo=False))
    assert (r.decode.width, r.decode.height) == (118, 90) and r.md5_match


def test_a_setting_the_backend_cannot_honour_is_an_error_not_dropped(clip9):
    from hm_bridge.hm import HMCodec
    from hm_bridge.x265 import X265Codec

    with pytest.raises(ValueError, match="hm backend cannot honour frame_threads, preset"):
        HMCodec.check_options(dict(preset="slow", frame_threads=2, threads=None))
    assert HMCodec.check_options(dict(preset=None)) == {}  # not given: nothing to refuse
    assert X265Codec.check_options(dict(preset="medium"))["preset"] == "medium"
    with pytest.raises(ValueError, match="unknown preset"):
        hb.encode(clip9[:2], config="ai", preset="warp-speed")
    with pytest.raises(ValueError, match="recon must be None, 'memory' or a file path"):
        hb.encode(clip9[:2], config="ai", recon=3)
    r = hb.encode(clip9[:2], config="ai", qp=37, preset="ultrafast")
    with pytest.raises(ValueError, match="reconstruction was not kept"):
        r.recon
    assert len(r.recon_md5s) == 2 and r.md5_match


def test_a_yuv_file_is_coded_frame_by_frame_like_the_same_video_in_memory(clip9, tmp_path):
    clip9.to_yuv(tmp_path / "c.yuv")
    lazy = hb.YuvFile(tmp_path / "c.yuv", clip9.width, clip9.height, frames=5, start=2, fps=clip9.fps)
    a = hb.encode(lazy, config="ra", qp=37, preset="medium", recon=tmp_path / "rec.yuv")
    b = hb.encode(clip9[2:7], config="ra", qp=37, preset="medium", recon="memory")
    assert a.bitstream == b.bitstream and a.recon_md5s == b.recon_md5s
    assert a.recon.load().md5() == b.recon.md5()  # the file the reconstruction went to
    assert np.array_equal(a.psnr.per_frame, b.psnr.per_frame)
    with pytest.raises(ValueError, match="has 9 frames"):
        hb.YuvFile(tmp_path / "c.yuv", clip9.width, clip9.height, frames=8, start=2)
