"""Corrupt input never kills the Python process: the fuzzing runs in a child process,
whose exit status proves it survived every case."""
import json
import subprocess
import sys
import textwrap

import pytest

import hm_bridge as hb

FUZZ = textwrap.dedent(
    """
    import json, random, sys
    import hm_bridge as hb
    from hm_bridge.clips import load_builtin

    video = load_builtin("carphone", 5)
    streams = [
        (hb.encode(video, config="ra", qp=37, preset="ultrafast", verify=False).bitstream, None),
        (hb.encode(video, config="ldp", qp=32, preset="ultrafast", verify=False,
                   loop_filter=hb.SmoothingFilter(rdo=False)).bitstream, hb.SmoothingFilter()),
    ]
    rng = random.Random(int(sys.argv[1]))
    outcomes = {}
    cases = int(sys.argv[2])
    for case in range(cases):
        data, filt = streams[case % 2]
        b = bytearray(data)
        kind = rng.choice(["flip", "bytes", "truncate", "cut", "dup", "zero", "garbage"])
        if kind == "flip":
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(len(b)); b[i] ^= 1 << rng.randrange(8)
        elif kind == "bytes":
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif kind == "truncate":
            b = b[: rng.randrange(1, len(b))]
        elif kind == "cut":
            i = rng.randrange(len(b)); del b[i : i + rng.randint(1, 200)]
        elif kind == "dup":
            i = rng.randrange(len(b)); b[i:i] = b[i : i + rng.randint(1, 300)]
        elif kind == "zero":
            i = rng.randrange(len(b)); b[i : i + 64] = bytes(min(64, len(b) - i))
        else:
            b = bytearray(rng.randbytes(rng.randint(1, 2000)))
        try:
            hb.decode(bytes(b), loop_filter=filt)
            outcome = "decoded"
        except (RuntimeError, ValueError) as e:
            outcome = type(e).__name__
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    print(json.dumps({"cases": cases, "outcomes": outcomes}))
    """
)


def test_500_mutated_and_truncated_streams_never_kill_the_process(tmp_path):
    script = tmp_path / "fuzz.py"
    script.write_text(FUZZ)
    proc = subprocess.run([sys.executable, str(script), "2026", "600"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"the decoding process died (status {proc.returncode}):\\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["cases"] == 600 and sum(report["outcomes"].values()) == 600
    assert report["outcomes"].get("RuntimeError", 0) > 0  # corrupt streams do raise


def test_empty_and_non_hevc_input():
    with pytest.raises(ValueError, match="empty bitstream"):
        hb.decode(b"")
    with pytest.raises(RuntimeError):
        hb.decode(b"this is not an HEVC stream at all" * 10)
    with pytest.raises(TypeError):
        hb.decode("a string")
