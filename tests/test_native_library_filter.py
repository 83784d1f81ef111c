"""A filter written in plain C against the ABI header alone, built as a shared library
and plugged in at run time: the seam works for code that is not ours."""
import numpy as np
import pytest

import hm_bridge as hb
from hm_bridge.bitstream import side_info_payloads
from cnn_filter.filters import resolve_filter
from conftest import REPO, compile_shared_library

EXAMPLE = REPO / "cpp" / "examples" / "band_offset_filter.c"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return compile_shared_library(EXAMPLE, tmp_path_factory.mktemp("lib") / "libband_offset.so")


@pytest.mark.parametrize("config", ["ai", "ra", "ldp"])
def test_c_filter_library_runs_in_the_loop_bit_exactly(library, carphone, config):
    f = hb.load_native_filter(library)
    r = hb.encode(carphone[:9], recon="memory", config=config, qp=37, preset="medium", loop_filter=f, frame_threads=2)
    assert r.md5_match and r.decode.hash_ok and r.side_info_bytes > 0
    assert not hb.decode(r.bitstream).hash_ok  # decoded without it, the pictures differ


def test_c_filter_applies_exactly_the_signalled_band_offsets(library, carphone):
    """All intra: the unfiltered decode is the picture the filter saw, so filtered - unfiltered
    must be the signalled offset of each sample's band, sample for sample."""
    clip = carphone[:4]
    anchor = hb.encode(clip, recon="memory", config="ai", qp=37, preset="medium")
    r = hb.encode(clip, recon="memory", config="ai", qp=37, preset="medium", loop_filter=hb.load_native_filter(library))
    plain = hb.decode(r.bitstream).video
    assert plain.md5() == anchor.recon.md5()  # the filter changed no coding decision in AI
    infos = iter(side_info_payloads(r.bitstream))
    for i in range(len(clip)):
        if np.array_equal(r.recon.y[i], plain.y[i]):
            continue  # the encoder found no gain: no side information for this picture
        info = next(infos)
        assert len(info) == 17 and info[0] == 1
        offsets = np.frombuffer(info[1:], np.int8).astype(int)
        assert np.abs(offsets).max() <= 15 and offsets.any()
        before = plain.y[i].astype(int)
        assert np.array_equal(r.recon.y[i], np.clip(before + offsets[before >> 4], 0, 255))
    assert next(infos, None) is None
    assert r.psnr.y > anchor.psnr.y  # the encoder only keeps offsets that lower the SSE


def test_options_and_resolve_filter_spec(library, clip9):
    small = resolve_filter(f"{library}:max_offset=1")
    r = hb.encode(clip9[:3], recon="memory", config="ai", qp=37, preset="medium", loop_filter=small)
    payloads = side_info_payloads(r.bitstream)
    assert payloads  # offsets of +-1 still pay off at QP 37
    for info in payloads:
        assert np.abs(np.frombuffer(info[1:], np.int8)).max() == 1
    assert isinstance(resolve_filter(str(library)), hb.NativeLibraryFilter)
    with pytest.raises(ValueError, match="refused the options"):
        hb.load_native_filter(library, "max_offset=500")


def test_bad_libraries_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no filter library"):
        hb.load_native_filter(tmp_path / "missing.so")
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"not an ELF file")
    with pytest.raises(ValueError, match="cannot load filter library"):
        hb.load_native_filter(junk)
    src = tmp_path / "other.c"
    src.write_text("int not_a_filter(void) { return 0; }\n")
    with pytest.raises(ValueError, match="does not export hmcnn_filter_open"):
        hb.load_native_filter(compile_shared_library(src, tmp_path / "libother.so"))


def test_a_failing_native_filter_raises_its_own_message(library, clip9):
    """The decoder-side call rejects malformed side information: decode raises the
    filter's message (not a generic codec error) and the process lives on."""
    # a stream whose side information is someone else's layout (the smoothing filter's)
    other = hb.encode(clip9[:3], config="ai", qp=37, preset="medium", loop_filter=hb.SmoothingFilter(rdo=False))
    with pytest.raises(RuntimeError, match="decoder-side loop filter failed on POC 0: band offset filter: "
                                           "malformed side information"):
        hb.decode(other.bitstream, loop_filter=hb.load_native_filter(library))
