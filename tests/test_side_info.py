"""Side information: per-block maps round-trip exactly; blocks flagged off are untouched."""
import numpy as np
import pytest

import hm_bridge as hb
from hm_bridge import side_info
from hm_bridge.bitstream import side_info_payloads


def test_pack_unpack_round_trip_random_maps():
    rng = np.random.default_rng(1)
    for _ in range(200):
        w, h = int(rng.integers(8, 1921)) // 2 * 2, int(rng.integers(8, 1081)) // 2 * 2
        log2 = int(rng.integers(3, 9))
        grid = side_info.block_grid(w, h, log2)
        blocks = rng.random(grid) < rng.random()
        model = int(rng.integers(0, 256))
        data = side_info.pack(model, blocks, log2)
        got = side_info.unpack(data, w, h)
        assert got.model_id == model and got.log2_block == log2 and got.frame_on == bool(blocks.any())
        if got.frame_on:
            assert np.array_equal(got.blocks, blocks)


@pytest.mark.parametrize("bad", [b"", b"\x02\x00\x01\x06", b"\x01\x00\x03\x06", b"\x01\x00\x01\x09", b"\x01\x00\x03\x06\x00\x00\x00"])
def test_malformed_side_info_is_rejected(bad):
    with pytest.raises(ValueError):
        side_info.unpack(bad, 176, 144)


def _random_block_filter(seed, log):
    """Encoder: random map per picture, darkens the blocks flagged on. Decoder: applies
    exactly the received map. Both check that blocks flagged off are left untouched."""
    rng = np.random.default_rng(seed)

    def filt(pic):
        before = pic.y.copy()
        if pic.is_encoder:
            grid = side_info.block_grid(pic.width, pic.height, 6)
            blocks = rng.random(grid) < 0.5
            blocks.flat[0] = True
            data = side_info.pack(model_id=pic.poc % 7, blocks=blocks)
        else:
            data = bytes(pic.side_info)
        info = side_info.unpack(data, pic.width, pic.height)
        log.append((pic.is_encoder, pic.poc, data))
        s = info.block_size
        for by, bx in zip(*np.nonzero(info.blocks)):
            blk = pic.y[by * s:(by + 1) * s, bx * s:(bx + 1) * s]
            blk[:] = blk // 2 + 64
        off = np.kron(~info.blocks, np.ones((s, s), bool))[: pic.height, : pic.width]
        assert np.array_equal(pic.y[off], before[off])  # flagged-off blocks unchanged
        return data if pic.is_encoder else None

    return filt


@pytest.mark.parametrize("config", ["ai", "ra", "ldp"])
def test_random_ctu_maps_reach_the_decoder_byte_for_byte(clip9, config):
    enc_log, dec_log = [], []
    filt = _random_block_filter(7, enc_log)
    r = hb.encode(clip9, recon="memory", config=config, qp=32, preset="medium", loop_filter=filt, verify=False)
    d = hb.decode(r.bitstream, loop_filter=_random_block_filter(0, dec_log))
    assert d.video.md5() == r.recon.md5() and d.hash_ok
    # decode order differs from call order under frame threads: compare as multisets
    sent = sorted((poc, data) for _, poc, data in enc_log)
    received = sorted((poc, data) for _, poc, data in dec_log)
    assert sent == received and len(sent) == len(clip9)


def test_native_filter_side_info_parses_in_python_and_off_blocks_are_unchanged(carphone):
    """AI: pictures are independent, so decoding with vs without the native filter may
    differ only inside blocks the side information switched on."""
    f = hb.SmoothingFilter(model_id=5, lambda_scale=0)  # by distortion alone: a mixed block map
    r = hb.encode(carphone, recon="memory", config="ai", qp=37, preset="medium", loop_filter=f)
    payloads = side_info_payloads(r.bitstream)  # parsed in Python, independently of the decoder
    assert payloads, "the RDO switched no block on at QP 37: test clip too easy?"
    plain = hb.decode(r.bitstream).video
    infos = iter(payloads)
    seen_on = seen_off = 0
    for i in range(len(carphone)):
        diff = r.recon.y[i] != plain.y[i]
        if not diff.any():
            continue  # frame off: no side info was sent for it
        info = side_info.unpack(next(infos), carphone.width, carphone.height)
        assert info.model_id == 5 and info.frame_on
        on = np.kron(info.blocks, np.ones((64, 64), bool))[: carphone.height, : carphone.width]
        assert not diff[~on].any()
        seen_on += int(info.blocks.sum())
        seen_off += int((~info.blocks).sum())
    assert seen_on > 0 and seen_off > 0  # a mixed map: blocks on and off both checked


def test_side_info_of_any_length_and_content_reaches_the_decoder(clip9):
    """Payload sizes across the SEI's 255-byte size coding, and zero runs that need
    emulation prevention, arrive byte for byte; the stream parser reads the same bytes."""
    rng = np.random.default_rng(5)
    sizes = [1, 254, 255, 256, 600, 3000]
    payloads = {}
    for poc, n in enumerate(sizes):
        data = bytearray(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
        data[n // 2:n // 2 + 8] = bytes(min(8, n - n // 2))  # a run of zeros
        payloads[poc] = bytes(data)
    received = {}

    def filt(pic):
        if pic.is_encoder:
            return payloads[pic.poc]
        received[pic.poc] = bytes(pic.side_info)

    r = hb.encode(clip9[:len(sizes)], config="ldp", qp=37, preset="medium", loop_filter=filt)
    assert received == payloads
    assert side_info_payloads(r.bitstream) == [payloads[p] for p in range(len(sizes))]  # LDP: stream order = POC
