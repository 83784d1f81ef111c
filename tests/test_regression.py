"""Bitstreams that must not change by accident: carphone (9 frames), QP 32, x265
medium, one thread, ai/ra/ldp, without a filter and with the C band-offset plug-in
(integer arithmetic, so the same bits on any CPU). A change that alters coding on
purpose updates these digests and says why in its commit."""
import hashlib

import pytest

import hm_bridge as hb
from conftest import REPO, compile_shared_library

EXPECTED_SHA256 = {
    # recorded before the layering redesign (issue 10), identical after it
    "ai/none": "15037d715e90112e3d4c2d02e056c59f8513b36d737ea9d51908807fbe20f102",
    "ra/none": "dd934b8beccc48d65296605d2d164a41289d6e164da3916494a4990c7bce908b",
    "ldp/none": "c4ebc38fad3440345cc5577229f569637a6a00ee1ad7a48ddb103e8f4cdb98c1",
    "ai/band_offset": "444882e2bcc052614e0a6d7ec1bef40092048903aacc86024bd35c649049419b",
    "ra/band_offset": "ab7954028bfe29cef9508775388c1aa92bd5d0ac72dd932096b4fe65afcffec6",
    "ldp/band_offset": "e3cdb8c50c95e14bbdec0ccc8f78e349d00181d9f7af4bce4f2ae3e85abb80d0",
}


@pytest.fixture(scope="module")
def band_offset(tmp_path_factory):
    return compile_shared_library(REPO / "cpp" / "examples" / "band_offset_filter.c",
                                  tmp_path_factory.mktemp("lib") / "libband_offset.so")


@pytest.mark.parametrize("key", sorted(EXPECTED_SHA256))
def test_bitstream_is_unchanged(key, carphone, band_offset):
    config, name = key.split("/")
    f = None if name == "none" else hb.load_native_filter(band_offset)
    r = hb.encode(carphone[:9], config=config, qp=32, preset="medium", loop_filter=f, threads=1, frame_threads=1)
    assert r.md5_match
    assert hashlib.sha256(r.bitstream).hexdigest() == EXPECTED_SHA256[key]
