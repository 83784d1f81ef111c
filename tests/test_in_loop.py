"""The filter runs inside the coding loop, identically on both sides."""
import numpy as np
import pytest

import hm_bridge as hb


@pytest.mark.parametrize("frame_threads", [1, 3])
@pytest.mark.parametrize("config", ["ai", "ra", "ldp"])
def test_native_filter_recon_equals_decoder_output(carphone, config, frame_threads):
    f = hb.SmoothingFilter(rdo=False)
    r = hb.encode(carphone, recon="memory", config=config, qp=37, preset="medium", loop_filter=f, frame_threads=frame_threads,
                  verify=False)
    d = hb.decode(r.bitstream, loop_filter=f)
    assert d.video.md5() == r.recon.md5()
    assert d.hash_ok and d.hashed_pictures == len(carphone)


def test_same_stream_every_run_with_frame_threads(carphone):
    """Deferred row publication: with frame threads the bitstream is still reproducible."""
    f = hb.SmoothingFilter(rdo=False)
    streams = {hb.encode(carphone, config="ra", qp=32, preset="medium", loop_filter=f, frame_threads=4).bitstream
               for _ in range(3)}
    assert len(streams) == 1


def test_a_filter_whose_gain_does_not_pay_for_its_side_information_stays_off(carphone):
    """The shared D + lambda * R policy: half-strength smoothing lowers the SSE of some
    blocks of carphone, but never by more than lambda * (its SEI's bits)."""
    kw = dict(config="ldp", qp=32, preset="medium")
    anchor = hb.encode(carphone, **kw)
    always = hb.encode(carphone, loop_filter=hb.SmoothingFilter(rdo=False), **kw)
    decided = hb.encode(carphone, loop_filter=hb.SmoothingFilter(), **kw)
    by_distortion = hb.encode(carphone, loop_filter=hb.SmoothingFilter(lambda_scale=0), **kw)
    assert always.side_info_bytes > 0 and always.psnr.y < anchor.psnr.y
    assert decided.side_info_bytes == 0 and decided.bitstream == anchor.bitstream
    assert by_distortion.side_info_bytes > 0  # some blocks do gain: the rate term keeps them off


def _drift(carphone, config):
    f = hb.SmoothingFilter(rdo=False)
    r = hb.encode(carphone, recon="memory", config=config, qp=32, preset="medium", loop_filter=f)
    assert r.md5_match
    plain = hb.decode(r.bitstream)  # the same stream, decoded without the filter
    assert not plain.hash_ok  # its picture hashes cover the filtered pictures
    return r.recon.psnr(plain.video).per_frame[:, 0]


def test_decoding_without_the_filter_drifts_along_the_ldp_gop(carphone):
    psnr = _drift(carphone, "ldp")
    assert (psnr < 99).all()  # every picture differs
    # prediction from unfiltered references: the error accumulates picture after picture
    assert psnr[16] < psnr[1] - 3
    assert np.polyfit(np.arange(1, 17), psnr[1:], 1)[0] < 0


def test_decoding_without_the_filter_drifts_along_the_ra_gop(carphone):
    psnr = _drift(carphone, "ra")
    # the P chain I0 -> P8 -> P16 accumulates the missing filter's error
    assert psnr[0] > psnr[8] > psnr[16]


def test_a_post_filter_would_not_drift_ai(clip9):
    """Contrast: in all-intra nothing is predicted across pictures, so each picture's
    error stays that picture's own (same size everywhere)."""
    f = hb.SmoothingFilter(rdo=False)
    r = hb.encode(clip9, recon="memory", config="ai", qp=32, preset="medium", loop_filter=f)
    psnr = r.recon.psnr(hb.decode(r.bitstream).video).per_frame[:, 0]
    assert psnr.max() - psnr.min() < 3


def _darken(pic):
    """A deterministic Python filter: luma * 15/16 with rounding, in place."""
    y = pic.y
    y[:] = ((y.astype(np.uint16) * 15 + 8) >> 4).astype(np.uint8)


@pytest.mark.parametrize("config", ["ai", "ra", "ldp"])
def test_python_callable_filter_in_the_loop(clip9, config):
    calls = {"enc": [], "dec": []}

    def filt(pic):
        calls["enc" if pic.is_encoder else "dec"].append(pic.poc)
        assert pic.y.shape == (pic.height, pic.width) and pic.u.shape == (pic.height // 2, pic.width // 2)
        assert (pic.orig is not None) == pic.is_encoder
        _darken(pic)
        return b"py" if pic.is_encoder else None

    r = hb.encode(clip9, recon="memory", config=config, qp=32, preset="medium", loop_filter=filt, frame_threads=2)
    assert r.md5_match
    # POC counts from the last IDR: in all-intra every picture is an IDR
    assert sorted(calls["enc"]) == sorted(calls["dec"]) == ([0] * 9 if config == "ai" else list(range(9)))
    assert r.recon.y.mean() < clip9.y.mean() - 3  # the filter's effect is in the output
    assert r.side_info_bytes > 0


def test_encoder_only_modification_is_caught_as_a_mismatch(clip9):
    def encoder_only(pic):
        if pic.is_encoder:
            _darken(pic)

    with pytest.raises(hb.ReconMismatchError, match="encoder reconstruction"):
        hb.encode(clip9, config="ldp", qp=32, preset="medium", loop_filter=encoder_only)


class Boom(Exception):
    pass


@pytest.mark.parametrize("frame_threads", [1, 3])
def test_exception_in_python_filter_surfaces_from_encode(clip9, frame_threads):
    def bad(pic):
        if pic.poc == 3:
            raise Boom("filter failed on purpose")

    with pytest.raises(Boom, match="on purpose"):
        hb.encode(clip9, config="ra", qp=32, preset="medium", loop_filter=bad, frame_threads=frame_threads)


def test_exception_in_python_filter_surfaces_from_decode(clip9):
    r = hb.encode(clip9, recon="memory", config="ldp", qp=32, preset="medium")

    def bad(pic):
        raise Boom("decoder-side failure")

    with pytest.raises(Boom, match="decoder-side"):
        hb.decode(r.bitstream, loop_filter=bad)


def test_oversized_side_info_is_an_error_not_a_crash(clip9):
    with pytest.raises(ValueError, match="exceeds"):
        hb.encode(clip9[:2], config="ai", qp=32, loop_filter=lambda pic: b"x" * (hb.MAX_SIDE_INFO + 1))


def test_bad_loop_filter_objects(clip9):
    with pytest.raises(TypeError, match="loop_filter"):
        hb.encode(clip9[:2], config="ai", loop_filter=42)

    class WrongCapsule:
        def __hmcnn_filter__(self):
            return object()

    with pytest.raises(TypeError, match="PyCapsule"):
        hb.encode(clip9[:2], config="ai", loop_filter=WrongCapsule())


@pytest.mark.parametrize("frame_threads", [1, 2])
@pytest.mark.parametrize("config", ["ai", "ra", "ldp"])
def test_a_hook_that_changes_nothing_leaves_the_bitstream_byte_identical(carphone, config, frame_threads):
    """Deferring row publication to after the hook must not change any encoder decision."""
    kw = dict(config=config, qp=32, preset="medium", frame_threads=frame_threads)
    a = hb.encode(carphone, **kw)
    b = hb.encode(carphone, loop_filter=hb.NoopFilter(), **kw)
    assert a.bitstream == b.bitstream and b.md5_match
