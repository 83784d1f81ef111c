import subprocess
import sys



def hmcnn(*args):
    return subprocess.run([sys.executable, "-m", "hmcnn", *args], capture_output=True, text=True)


def test_encode_then_decode_files_with_a_filter(tmp_path, clip9):
    src = tmp_path / "in.yuv"
    clip9.to_yuv(src)
    enc = hmcnn("encode", str(src), "--size", "176x144", "--config", "ldp", "--qp", "32", "--preset", "medium",
                "--filter", "smoothing:always", "-o", str(tmp_path / "s.hevc"), "--recon", str(tmp_path / "rec.yuv"))
    assert enc.returncode == 0, enc.stderr
    assert "encoder recon == decoder output: True" in enc.stdout
    dec = hmcnn("decode", str(tmp_path / "s.hevc"), "--filter", "smoothing:always", "-o", str(tmp_path / "dec.yuv"))
    assert dec.returncode == 0, dec.stderr
    assert (tmp_path / "dec.yuv").read_bytes() == (tmp_path / "rec.yuv").read_bytes()
    # the wrong filter on the decoder side: hashes mismatch, exit status says so
    bad = hmcnn("decode", str(tmp_path / "s.hevc"), "-o", str(tmp_path / "plain.yuv"))
    assert bad.returncode == 3 and "MISMATCHED" in bad.stdout


def test_clear_errors_for_bad_input(tmp_path, clip9):
    src = tmp_path / "in.yuv"
    clip9.to_yuv(src)
    r = hmcnn("encode", str(src), "--size", "170x144", "-o", str(tmp_path / "s.hevc"))
    assert r.returncode == 2 and "wrong width/height" in r.stderr
    r = hmcnn("encode", str(src), "--size", "176x144", "--qp", "60", "-o", str(tmp_path / "s.hevc"))
    assert r.returncode == 2 and "QP must be an integer in 0..51" in r.stderr
    r = hmcnn("encode", str(src), "--size", "176x144", "--config", "ldb", "-o", str(tmp_path / "s.hevc"))
    assert r.returncode == 2 and "low-delay B" in r.stderr
    (tmp_path / "junk.hevc").write_bytes(b"\x00\x00\x01garbage" * 20)
    r = hmcnn("decode", str(tmp_path / "junk.hevc"), "-o", str(tmp_path / "x.yuv"))
    assert r.returncode == 2 and "error" in r.stderr
    r = hmcnn("decode", str(tmp_path / "junk.hevc"), "--filter", "no-such-filter", "-o", str(tmp_path / "x.yuv"))
    assert r.returncode == 2 and "unknown filter" in r.stderr
    r = hmcnn("train", "--quick", "--time-limit", "-5", "--out", str(tmp_path / "m"))
    assert r.returncode == 2 and "positive number of seconds" in r.stderr
    r = hmcnn("train", "--quick", "--arch", "vrcnn", "--qp-balanced", "--out", str(tmp_path / "m"))
    assert r.returncode == 2 and "QP-input model" in r.stderr and not (tmp_path / "m").exists()
