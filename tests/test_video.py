import hashlib

import numpy as np
import pytest

from hm_bridge.video import PSNR_IDENTICAL, Video
from conftest import synthetic_video, ten_bit_pan


def test_yuv_round_trip_and_md5_equals_md5sum_of_the_file(tmp_path):
    v = synthetic_video(32, 16, 4)
    path = tmp_path / "a.yuv"
    v.to_yuv(path)
    assert path.stat().st_size == 4 * 32 * 16 * 3 // 2
    back = Video.from_yuv(path, 32, 16)
    assert np.array_equal(back.y, v.y) and np.array_equal(back.u, v.u) and np.array_equal(back.v, v.v)
    assert back.md5() == hashlib.md5(path.read_bytes()).hexdigest()
    assert len(Video.from_yuv(path, 32, 16, frames=2, start=1)) == 2


def test_wrong_yuv_size_is_a_clear_value_error(tmp_path):
    path = tmp_path / "a.yuv"
    synthetic_video(32, 16, 2).to_yuv(path)
    with pytest.raises(ValueError, match="not a whole number of 30x16 8-bit 4:2:0 frames"):
        Video.from_yuv(path, 30, 16)


@pytest.mark.parametrize("w,h", [(31, 16), (32, 15), (0, 16), (-2, 16)])
def test_odd_or_non_positive_dimensions_are_rejected(tmp_path, w, h):
    path = tmp_path / "a.yuv"
    path.write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match="even|positive"):
        Video.from_yuv(path, w, h)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.yuv"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        Video.from_yuv(empty, 16, 16)
    with pytest.raises(FileNotFoundError):
        Video.from_yuv(tmp_path / "nope.yuv", 16, 16)


def test_too_many_frames_requested(tmp_path):
    path = tmp_path / "a.yuv"
    synthetic_video(16, 16, 2).to_yuv(path)
    with pytest.raises(ValueError, match="has 2 frames"):
        Video.from_yuv(path, 16, 16, frames=3)


def test_psnr_is_per_frame_average_as_hm_reports_it():
    a = synthetic_video(16, 16, 2, seed=1)
    b = Video(a.y.copy(), a.u.copy(), a.v.copy())
    b.y[0] = np.clip(b.y[0].astype(int) + 1, 0, 255).astype(np.uint8)  # frame 0: luma off by ~1
    b.y[0][a.y[0] == 255] = 254  # make every luma sample differ by exactly 1
    r = a.psnr(b)
    expected0 = 10 * np.log10(255.0**2 / 1.0)
    assert r.per_frame[0, 0] == pytest.approx(expected0)
    assert r.per_frame[1, 0] == PSNR_IDENTICAL
    assert r.y == pytest.approx((expected0 + PSNR_IDENTICAL) / 2)  # average of per-frame PSNRs
    assert r.mse_y == pytest.approx(10 * np.log10(255.0**2 / 0.5))  # PSNR of the averaged MSE
    assert r.yuv == pytest.approx((6 * r.y + r.u + r.v) / 8)


def test_psnr_needs_same_shape():
    with pytest.raises(ValueError, match="cannot compare"):
        synthetic_video(16, 16, 2).psnr(synthetic_video(16, 16, 3))


def test_ten_bit_video_files_bytes_and_psnr(tmp_path):
    """10-bit pictures: uint16 samples, files of two little-endian bytes per sample (md5sum
    of the file), PSNR with HM's peak 255 << 2 = 1020, depth conversions as HM scales."""
    from hm_bridge.video import YuvFile, convert_depth, peak

    v = ten_bit_pan()
    assert v.y.dtype == np.uint16 and v.bit_depth == 10 and v.y.max() > 1000 and (v.y % 4).any()
    v.to_yuv(tmp_path / "p.yuv")
    raw = (tmp_path / "p.yuv").read_bytes()
    assert len(raw) == 4 * 96 * 64 * 3 // 2 * 2 and hashlib.md5(raw).hexdigest() == v.md5()
    assert raw[:2] == int(v.y[0, 0, 0]).to_bytes(2, "little")
    f = YuvFile(tmp_path / "p.yuv", 96, 64, bit_depth=10, depth=10)
    assert np.array_equal(f.load().y, v.y) and np.array_equal(f[1:3].frame(1)[2], v.v[2])
    eight = YuvFile(tmp_path / "p.yuv", 96, 64, bit_depth=10)  # default: rounded to 8 bits, as HM's Main
    assert eight.bit_depth == 8 and np.array_equal(eight.frame(0)[0], np.clip((v.y[0].astype(int) + 2) >> 2, 0, 255))
    assert np.array_equal(Video.from_i420(raw, 96, 64, bit_depth=10).u, v.u)
    noisy = Video(np.clip(v.y.astype(int) + 3, 0, 1023), v.u, v.v, 30.0, bit_depth=10)
    p = v.psnr(noisy)
    mse = ((v.y.astype(float) - noisy.y) ** 2).reshape(4, -1).mean(axis=1)
    assert peak(10) == 1020 and np.allclose(p.per_frame[:, 0], 10 * np.log10(1020.0 ** 2 / mse))
    assert p.per_frame[0, 1] == PSNR_IDENTICAL
    up = Video(np.arange(4 * 4 * 4, dtype=np.uint8).reshape(4, 4, 4), np.zeros((4, 2, 2)), np.zeros((4, 2, 2)))
    assert np.array_equal(up.at_depth(10).y, up.y.astype(np.uint16) << 2) and up.at_depth(10).at_depth(8).md5() == up.md5()
    assert np.array_equal(convert_depth(np.array([1023, 1021, 2], np.uint16), 10, 8), [255, 255, 1])
    with pytest.raises(ValueError, match="give their bit_depth"):
        Video(v.y, v.u, v.v)
    with pytest.raises(ValueError, match="samples above 1023"):
        Video(v.y * 2, v.u, v.v, bit_depth=10)
    with pytest.raises(ValueError, match="wrong width/height or bit depth"):
        Video.from_i420(raw[:-2], 96, 64, bit_depth=10)
