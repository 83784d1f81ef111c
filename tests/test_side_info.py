"""Side information: per-block maps round-trip exactly; blocks flagged off are untouched."""
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import hm_bridge as hb
from hm_bridge import side_info
from hm_bridge.bitstream import side_info_payloads

REPO = Path(__file__).resolve().parents[1]


def _random_case(rng):
    w, h = int(rng.integers(8, 1921)) // 2 * 2, int(rng.integers(8, 1081)) // 2 * 2
    log2 = int(rng.integers(3, 11))
    grid = side_info.block_grid(w, h, log2)
    kind = rng.integers(0, 4)  # random, clustered (runs), all on, all off
    if kind == 1:
        blocks = np.cumsum(rng.random(grid[0] * grid[1]) < 0.05).reshape(grid) % 2 == 0
    else:
        blocks = np.full(grid, kind == 2) if kind >= 2 else rng.random(grid) < rng.random()
    model_hash = int(rng.integers(0, 65536)) if rng.random() < 0.3 else None
    return w, h, log2, int(rng.integers(0, 256)), blocks, bool(rng.random() < 0.2), bool(rng.random() < 0.2), model_hash


def test_pack_unpack_round_trip_random_maps():
    rng = np.random.default_rng(1)
    sizes = set()
    for _ in range(300):
        w, h, log2, model, blocks, cb, cr, model_hash = _random_case(rng)
        data = side_info.pack(model, blocks, log2, cb_on=cb, cr_on=cr, model_hash=model_hash)
        got = side_info.unpack(data, w, h)
        assert got.frame_on == bool(blocks.any()) and (got.cb_on, got.cr_on, got.model_hash) == (cb, cr, model_hash)
        if got.frame_on or cb or cr:
            assert got.model_id == model
        if got.frame_on and not blocks.all():
            assert got.log2_block == log2 and np.array_equal(got.blocks, blocks)
        elif got.frame_on:
            assert got.blocks.all()
        sizes.add(len(data))
    assert len(sizes) > 20


def test_layout_sizes():
    """The whole-picture case is one byte for the models 0..6; a clustered map is run-coded."""
    assert [len(side_info.pack(m, np.ones((3, 3), bool))) for m in (0, 2, 6, 7)] == [1, 1, 1, 2]
    assert side_info.pack(0, np.ones((3, 3), bool)) == bytes([0b10100000])  # on, no more, ue(0), no map
    blocks = np.zeros((12, 20), bool)
    blocks[:6] = True  # two runs of 120 blocks: far fewer than 240 bits
    data = side_info.pack(3, blocks, 6)
    assert len(data) < 6 and np.array_equal(side_info.unpack(data, 1280, 720).blocks, blocks)


def test_c_and_python_write_and_read_the_same_bytes(tmp_path):
    """cpp/include/inloop_side_info.h (compiled here) and hm_bridge/side_info.py: the same
    bytes for the same fields, and each reads back the other's fields."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    exe = tmp_path / "side_info_codec"
    subprocess.run([cc, "-std=c11", "-O2", "-Wall", "-Werror", "-I", str(REPO / "cpp" / "include"),
                    str(REPO / "tests" / "c" / "side_info_codec.c"), "-o", str(exe)], check=True)
    rng = np.random.default_rng(2)
    cases = [_random_case(rng) for _ in range(300)]
    lines = []
    for w, h, log2, model, blocks, cb, cr, model_hash in cases:
        bits = "".join("1" if b else "0" for b in blocks.reshape(-1))
        lines.append(f"{w} {h} {log2} {model} {int(blocks.any())} {int(cb)} {int(cr)} "
                     f"{-1 if model_hash is None else model_hash} {bits}")
    out = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True, check=True)
    results = out.stdout.splitlines()
    assert len(results) == len(cases)
    for (w, h, log2, model, blocks, cb, cr, model_hash), line in zip(cases, results):
        hexdata, model_id, frame_on, got_log2, got_cb, got_cr, got_hash, got_map = line.split()
        data = side_info.pack(model, blocks, log2, cb_on=cb, cr_on=cr, model_hash=model_hash)
        assert bytes.fromhex(hexdata) == data
        mine = side_info.unpack(data, w, h)
        assert (int(frame_on), int(got_cb), int(got_cr)) == (mine.frame_on, mine.cb_on, mine.cr_on)
        assert int(got_hash) == (-1 if mine.model_hash is None else mine.model_hash)
        if mine.frame_on or cb or cr:
            assert int(model_id) == mine.model_id == model
        if mine.frame_on:
            assert int(got_log2) == mine.log2_block
            assert got_map == "".join("1" if b else "0" for b in mine.blocks.reshape(-1))


@pytest.mark.parametrize("bad", [
    b"",                    # nothing
    b"\xa0\x00",            # one byte too many (0xa0: on, no more flags, model 0, no map)
    b"\x00\x01",            # off, then a stray byte
    b"\xa1",                 # nonzero padding
    b"\x80",                 # on, the model's ue(v) cut short
    b"\x80\x00\x00\x00\x00\x00",  # a model id beyond 31 zero bits
    b"\xb0",                 # a raw map of 8x8 blocks, cut short
    b"\xb7\x8a",            # a run of 10 in a map of 9 blocks (176x144, 64x64)
])
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
