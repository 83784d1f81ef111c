import hashlib

import numpy as np
import pytest

from hm_bridge.video import PSNR_IDENTICAL, Video
from conftest import synthetic_video


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
