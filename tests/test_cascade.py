"""HM's per-picture QP cascade, keyed on what x265 really codes, and 10-bit input."""
import numpy as np
import pytest

import hm_bridge as hb
from hm_bridge.cascade import slice_qps, get_cascade, hm_slice_qp, x265_ra_structure
from hm_bridge.video import to_8bit

# ctc-facts.md / HM-16.20's cfgs: I and B (temporal ids 0..4) slice QPs; LDP I and GOP entries
HM1620_RA = {22: (19, [23, 23, 26, 27, 29]), 27: (24, [28, 29, 32, 34, 36]), 32: (29, [33, 35, 38, 40, 41]),
             37: (34, [38, 41, 44, 45, 46])}
HM1620_LDP_37 = (36, [45, 44, 45, 44, 45, 44, 45, 38])


@pytest.mark.parametrize("qp", sorted(HM1620_RA))
def test_hm1620_random_access_qps_equal_hms(qp):
    c = get_cascade("hm16.20")
    intra, layers = HM1620_RA[qp]
    assert hm_slice_qp(qp, None, c.intra_qp_offset["ra"]) == intra
    assert [hm_slice_qp(qp, e) for e in c.ra_layers] == layers


def test_hm1620_low_delay_qps_equal_hms():
    c = get_cascade("hm16.20")
    assert hm_slice_qp(37, None, c.intra_qp_offset["ldp"]) == HM1620_LDP_37[0]
    assert [hm_slice_qp(37, e) for e in c.ld_gop] == HM1620_LDP_37[1]
    assert slice_qps("ldp", "hm16.20", 37, 10, 30)[:10] == [36, 45, 44, 45, 44, 45, 44, 45, 38, 45]
    assert slice_qps("ldp", "l1100", 32, 6, 30) == [32, 35, 34, 35, 33, 35]


def test_intra_period_follows_hms_current_rule():
    c = get_cascade("hm16.20")
    assert [c.intra_period(f) for f in (20, 24, 30, 50, 60)] == [32, 32, 32, 64, 64]
    assert [get_cascade("l1100").intra_period(f) for f in (30, 50, 60)] == [32, 48, 64]


@pytest.mark.parametrize("frames", [5, 12, 17, 33, 40])
def test_the_predicted_structure_is_what_x265_codes(carphone, frames):
    video = hb.Video(np.concatenate([carphone.y] * 3)[:frames], np.concatenate([carphone.u] * 3)[:frames],
                     np.concatenate([carphone.v] * 3)[:frames], carphone.fps)
    r = hb.encode(video, config="ra", qp=37, preset="ultrafast", verify=False)
    assert [k for k, _ in x265_ra_structure(frames, r.intra_period)] == r.frame_types


def test_slice_qps_in_the_bitstream_follow_x265s_real_layers(carphone):
    """40 frames of RA: the picture before the IDR at 32 and the last picture are P, and get
    the P layer's QP (keyed on display position they would get an odd picture's)."""
    frames = 40
    video = hb.Video(np.concatenate([carphone.y] * 3)[:frames], np.concatenate([carphone.u] * 3)[:frames],
                     np.concatenate([carphone.v] * 3)[:frames], carphone.fps)
    seen = []

    def record(pic):  # the decoder's view, in decoding order: POC since the last IDR, slice QP
        if not pic.is_encoder:
            seen.append((pic.poc, pic.slice_type, pic.qp))

    r = hb.encode(video, config="ra", qp=37, preset="ultrafast", loop_filter=record)
    assert r.intra_period == 32 and r.frame_types[31] == "P" and r.frame_types[39] == "P"
    decoded, base = {}, 0
    for k, (poc, slice_type, qp) in enumerate(seen):  # to display order: POCs restart at each IDR
        if k and slice_type == 2 and poc == 0:
            base += r.intra_period
        decoded[base + poc] = qp
    expected = slice_qps("ra", "hm16.20", 37, frames, video.fps)
    assert [decoded[i] for i in range(frames)] == expected  # what the slice headers say, picture by picture
    assert expected[31] == expected[39] == 38 and expected[32] == 34  # P layer, and the IDR at -3
    assert r.slice_qps == expected  # x265's own report of each picture's QP


def test_ten_bit_input_is_rounded_to_eight_bits_as_hm_does(tmp_path):
    w, h = 8, 4
    samples = np.array([0, 1, 2, 3, 4, 5, 6, 1021, 1022, 1023, 511, 512, 513, 514, 2, 6] * (w * h * 3 // 2 // 16 * 2),
                       dtype="<u2")[: w * h * 3 // 2 * 2]
    path = tmp_path / "ten.yuv"
    samples.tofile(path)
    v = hb.Video.from_yuv(path, w, h, bit_depth=10)
    assert len(v) == 2
    expect = np.clip((samples.astype(int) + 2) >> 2, 0, 255).astype(np.uint8)
    assert np.array_equal(v.to_i420(), expect)
    assert list(to_8bit(np.array([0, 1, 2, 5, 6, 1021, 1022, 1023]), 10)) == [0, 0, 1, 1, 2, 255, 255, 255]
    with pytest.raises(ValueError, match="wrong width/height or bit depth"):
        hb.Video.from_yuv(path, w, h + 2, bit_depth=10)
    sixteen = tmp_path / "sixteen.yuv"
    np.full(w * h * 3 // 2, 0x8080, dtype="<u2").tofile(sixteen)
    assert set(hb.Video.from_yuv(sixteen, w, h, bit_depth=16).y.ravel()) == {0x81}
