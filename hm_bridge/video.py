"""Raw 8-bit 4:2:0 video: held as numpy planes (``Video``) or read lazily from a file by
frame (``YuvFile``), with HM-style PSNR. Both are frame sources: ``width``, ``height``,
``fps``, ``len()``, ``frame(i)`` -> (y, u, v) planes, and ``[a:b]`` for a range of frames;
the codecs read their input through that and nothing else, so a sequence never has to
be in memory whole."""
from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass

import numpy as np

#: PSNR HM prints for a frame that matches exactly (HM: 999.99).
PSNR_IDENTICAL = 999.99


def frame_bytes(width: int, height: int, bit_depth: int = 8) -> int:
    """Size of one 4:2:0 frame in a raw file (9..16-bit samples take two bytes, little-endian)."""
    return width * height * 3 // 2 * (1 if bit_depth == 8 else 2)


def to_8bit(samples: np.ndarray, bit_depth: int) -> np.ndarray:
    """High-bit-depth samples rounded to 8 bits as HM's Main profile input does
    (TVideoIOYuv's scalePlane): clip((x + 2^(d-9)) >> (d-8)) for d = ``bit_depth``."""
    shift = bit_depth - 8
    x = (samples.astype(np.int32) + (1 << (shift - 1))) >> shift
    return np.clip(x, 0, 255).astype(np.uint8)


def check_bit_depth(bit_depth: int) -> None:
    if not isinstance(bit_depth, (int, np.integer)) or not 8 <= bit_depth <= 16:
        raise ValueError(f"bit depth must be an integer in 8..16, got {bit_depth!r}")


def check_size(width: int, height: int) -> None:
    if not (isinstance(width, (int, np.integer)) and isinstance(height, (int, np.integer))):
        raise ValueError(f"width and height must be integers, got {width!r} x {height!r}")
    if width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive, got {width}x{height}")
    if width % 2 or height % 2:
        raise ValueError(f"4:2:0 needs even width and height, got {width}x{height}")


@dataclass(frozen=True)
class PsnrReport:
    """PSNR of a video against a reference, as HM reports it.

    ``per_frame`` is (frames, 3) for Y, U, V. ``y``, ``u``, ``v`` average the per-frame
    PSNRs (HM's way); ``yuv`` weights them 6:1:1 (JCT-VC). ``mse_y`` etc. give PSNR of
    the frame-averaged MSE instead, for those who prefer it.
    """

    per_frame: np.ndarray
    mse_per_frame: np.ndarray

    @property
    def y(self) -> float:
        return float(self.per_frame[:, 0].mean())

    @property
    def u(self) -> float:
        return float(self.per_frame[:, 1].mean())

    @property
    def v(self) -> float:
        return float(self.per_frame[:, 2].mean())

    @property
    def yuv(self) -> float:
        return (6 * self.y + self.u + self.v) / 8

    def _psnr_of_mean(self, c: int) -> float:
        m = float(self.mse_per_frame[:, c].mean())
        return PSNR_IDENTICAL if m == 0 else 10 * math.log10(255.0**2 / m)

    @property
    def mse_y(self) -> float:
        return self._psnr_of_mean(0)

    @property
    def mse_u(self) -> float:
        return self._psnr_of_mean(1)

    @property
    def mse_v(self) -> float:
        return self._psnr_of_mean(2)

    def __repr__(self) -> str:
        return f"PsnrReport(Y={self.y:.3f}, U={self.u:.3f}, V={self.v:.3f}, YUV={self.yuv:.3f} dB, frames={len(self.per_frame)})"


def plane_psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """PSNR of one 8-bit plane (or RGB picture) against a reference (999.99 if equal)."""
    mse = float(np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2))
    return PSNR_IDENTICAL if mse == 0 else 10 * math.log10(255.0**2 / mse)


def frame_mse(reference, test) -> tuple[float, float, float]:
    """MSE of Y, U and V of one frame's planes against a reference frame's (exact: the
    integer sum of squared differences over the sample count)."""
    return tuple(float(np.sum((a.astype(np.int32) - b.astype(np.int32)) ** 2, dtype=np.int64)) / a.size
                 for a, b in zip(reference, test))


def i420_bytes(planes) -> np.ndarray:
    """One frame's (y, u, v) planes as contiguous I420 bytes."""
    return np.concatenate([np.ascontiguousarray(p).reshape(-1) for p in planes])


def split_i420(data: np.ndarray, width: int, height: int):
    """One frame of I420 bytes as (y, u, v) views."""
    ls, cs = width * height, width * height // 4
    return (data[:ls].reshape(height, width), data[ls:ls + cs].reshape(height // 2, width // 2),
            data[ls + cs:ls + 2 * cs].reshape(height // 2, width // 2))


def _psnr_from_mse(mse: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        p = 10 * np.log10(255.0**2 / mse)
    return np.where(mse == 0, PSNR_IDENTICAL, p)


class Video:
    """Frames of 8-bit 4:2:0 video: ``y`` (n, h, w), ``u`` and ``v`` (n, h/2, w/2), uint8."""

    def __init__(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, fps: float = 30.0):
        y, u, v = (np.ascontiguousarray(p, dtype=np.uint8) for p in (y, u, v))
        if y.ndim != 3 or u.ndim != 3 or v.ndim != 3:
            raise ValueError("planes must be 3-D arrays (frames, height, width)")
        n, h, w = y.shape
        check_size(w, h)
        if n == 0:
            raise ValueError("a video needs at least one frame")
        if u.shape != (n, h // 2, w // 2) or v.shape != (n, h // 2, w // 2):
            raise ValueError(f"chroma planes must be {(n, h // 2, w // 2)}, got {u.shape} and {v.shape}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.y, self.u, self.v, self.fps = y, u, v, float(fps)

    # --- shape -------------------------------------------------------------------
    @property
    def width(self) -> int:
        return self.y.shape[2]

    @property
    def height(self) -> int:
        return self.y.shape[1]

    def __len__(self) -> int:
        return self.y.shape[0]

    def __getitem__(self, index) -> "Video":
        """Frames by slice or index list, as a new Video."""
        if isinstance(index, (int, np.integer)):
            index = slice(index, index + 1)
        return Video(self.y[index], self.u[index], self.v[index], self.fps)

    def __repr__(self) -> str:
        return f"Video({self.width}x{self.height}, {len(self)} frames, {self.fps:g} fps)"

    def frame(self, i: int):
        """Frame ``i`` as (y, u, v) views."""
        return self.y[i], self.u[i], self.v[i]

    def load(self) -> "Video":
        return self

    # --- raw I420 ------------------------------------------------------------------
    def to_i420(self) -> np.ndarray:
        """All frames as one contiguous I420 byte array."""
        n = len(self)
        return np.concatenate(
            [self.y.reshape(n, -1), self.u.reshape(n, -1), self.v.reshape(n, -1)], axis=1
        ).reshape(-1)

    @classmethod
    def from_i420(cls, data, width: int, height: int, fps: float = 30.0) -> "Video":
        check_size(width, height)
        buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1)
        size = frame_bytes(width, height)
        if buf.size == 0:
            raise ValueError("no video data (0 bytes)")
        if buf.size % size:
            raise ValueError(
                f"{buf.size} bytes is not a whole number of {width}x{height} 4:2:0 frames "
                f"({size} bytes each): wrong width/height?"
            )
        f = buf.reshape(-1, size)
        n, ls, cs = f.shape[0], width * height, width * height // 4
        return cls(
            f[:, :ls].reshape(n, height, width),
            f[:, ls : ls + cs].reshape(n, height // 2, width // 2),
            f[:, ls + cs :].reshape(n, height // 2, width // 2),
            fps,
        )

    @classmethod
    def from_yuv(cls, path, width: int, height: int, frames: int | None = None, fps: float = 30.0,
                 start: int = 0, bit_depth: int = 8) -> "Video":
        """Reads raw 4:2:0 (I420) frames ``start .. start+frames`` from ``path`` into memory
        (``YuvFile`` reads them lazily instead). Samples of ``bit_depth`` 9..16 (two bytes,
        little-endian) are rounded to 8 bits as HM's Main profile does (``to_8bit``)."""
        return YuvFile(path, width, height, frames=frames, fps=fps, start=start, bit_depth=bit_depth).load()

    def to_yuv(self, path) -> None:
        self.to_i420().tofile(os.fspath(path))

    def md5(self) -> str:
        """MD5 of the raw I420 bytes (what `md5sum file.yuv` prints)."""
        return hashlib.md5(self.to_i420().tobytes()).hexdigest()

    # --- quality ---------------------------------------------------------------------
    def psnr(self, other: "Video") -> PsnrReport:
        """PSNR of ``other`` against this video, per frame and averaged as HM does."""
        if (other.width, other.height, len(other)) != (self.width, self.height, len(self)):
            raise ValueError(
                f"cannot compare {self.width}x{self.height}x{len(self)} with "
                f"{other.width}x{other.height}x{len(other)}"
            )
        mse = np.stack(
            [
                ((a.astype(np.int32) - b.astype(np.int32)) ** 2).reshape(len(self), -1).mean(axis=1)
                for a, b in ((self.y, other.y), (self.u, other.u), (self.v, other.v))
            ],
            axis=1,
        )
        return PsnrReport(per_frame=_psnr_from_mse(mse), mse_per_frame=mse)


class YuvFile:
    """Frames ``start .. start+frames`` of a raw 4:2:0 file, read one at a time when asked
    for (``frame(i)``), never held: a frame source of any length in constant memory.
    Samples of ``bit_depth`` 9..16 (two bytes, little-endian) are rounded to 8 bits as
    HM's Main profile does (``to_8bit``)."""

    def __init__(self, path, width: int, height: int, frames: int | None = None, fps: float = 30.0,
                 start: int = 0, bit_depth: int = 8):
        check_size(width, height)
        check_bit_depth(bit_depth)
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no such YUV file: {path}")
        size = frame_bytes(width, height, bit_depth)
        total = os.path.getsize(path)
        if total == 0:
            raise ValueError(f"{path} is empty")
        if total % size:
            raise ValueError(
                f"{path}: {total} bytes is not a whole number of {width}x{height} {bit_depth}-bit 4:2:0 "
                f"frames ({size} bytes each): wrong width/height or bit depth?"
            )
        available = total // size
        if not isinstance(start, (int, np.integer)) or start < 0 or start >= available:
            raise ValueError(f"{path} has {available} frames; cannot start at frame {start}")
        count = available - start if frames is None else frames
        if not isinstance(count, (int, np.integer)) or count <= 0 or start + count > available:
            raise ValueError(f"{path} has {available} frames; asked for {count} from frame {start}")
        self.path, self.width, self.height, self.fps = path, int(width), int(height), float(fps)
        self.start, self.count, self.bit_depth, self._size = int(start), int(count), int(bit_depth), size

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return (f"YuvFile({self.path!r}, {self.width}x{self.height}, frames {self.start}..{self.start + self.count - 1}"
                f", {self.fps:g} fps, {self.bit_depth}-bit)")

    def __getitem__(self, index: slice) -> "YuvFile":
        """A contiguous range of the frames, still lazy."""
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("a YuvFile is indexed by a contiguous slice of frames; use frame(i) for one frame")
        a, b, _ = index.indices(self.count)
        if b <= a:
            raise ValueError(f"empty frame range {index} of {self!r}")
        return YuvFile(self.path, self.width, self.height, b - a, self.fps, self.start + a, self.bit_depth)

    def _read(self, first: int, count: int) -> np.ndarray:
        offset = (self.start + first) * self._size
        if self.bit_depth == 8:
            return np.fromfile(self.path, dtype=np.uint8, count=count * self._size, offset=offset)
        return to_8bit(np.fromfile(self.path, dtype="<u2", count=count * self._size // 2, offset=offset),
                       self.bit_depth)

    def frame(self, i: int):
        """Frame ``i`` as (y, u, v), read from the file now."""
        if not 0 <= i < self.count:
            raise IndexError(f"frame {i} of {self.count}")
        return split_i420(self._read(i, 1), self.width, self.height)

    def load(self) -> Video:
        """Every frame in memory."""
        return Video.from_i420(self._read(0, self.count), self.width, self.height, self.fps)
