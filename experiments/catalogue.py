"""The sequence catalogue (catalogue.yaml): JCT-VC classes A-F and a built-in class."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

import hm_bridge as hb
from hm_bridge.paths import data_root

CATALOGUE = Path(__file__).with_name("catalogue.yaml")

#: the JCT-VC sheet: classes each config's Overall averages (per sequence) ...
OVERALL_CLASSES = {"ai": ("A", "B", "C", "D", "E"), "ra": ("A", "B", "C", "D"),
                   "ldb": ("B", "C", "D", "E"), "ldp": ("B", "C", "D", "E")}
#: ... and the class reported on its own row, never in Overall (screen content)
SEPARATE_CLASSES = ("F",)
CTC_CLASSES = ("A", "B", "C", "D", "E", "F")


def tested_in(cls: str, config: str) -> bool:
    """Whether the CTC codes a class under a config (class E is not tested in RA, class A
    not in LD); classes outside the CTC (builtin, kodak, yours) always are."""
    return cls not in CTC_CLASSES or cls in SEPARATE_CLASSES or cls in OVERALL_CLASSES.get(config, ())


@dataclass(frozen=True)
class Sequence:
    name: str
    cls: str
    width: int
    height: int
    fps: float
    frames: int
    bit_depth: int = 8
    file: str | None = None  # under --sequence-dir
    builtin: str | None = None  # a hm_bridge.clips built-in clip
    shared: str | None = None  # a raw .yuv under the shared data folder
    image: str | None = None  # an RGB image under the shared data folder (one frame)
    crop: tuple[int, int] | None = None  # (width, height) to cut the top-left of
    hm_cfg: str | None = None  # HM's cfg/per-sequence/<hm_cfg>.cfg (default: the name)

    @property
    def hm_sequence_cfg(self) -> str:
        return self.hm_cfg or self.name

    def file_names(self) -> list[str]:
        """The names (lower case, without .yuv) this sequence's file goes by: the catalogue's,
        and the usual variants (without "_crop", with or without the frame rate, with a
        bit-depth suffix)."""
        base, fps = f"{self.name}_{self.width}x{self.height}", f"{self.fps:g}"
        depth = ("_10bit", "") if self.bit_depth == 10 else ("", "_8bit")
        names = [Path(self.file).stem] if self.file else []
        names += [n.replace("_crop", "") for n in names]
        names += [f"{base}{f}{d}{c}" for d in depth for f in (f"_{fps}", "") for c in ("", "_crop")]
        return list(dict.fromkeys(n.lower() for n in names))

    def source(self, sequence_dir: Path | None, files: dict | None = None) -> str:
        """Where the frames come from (for loading, messages and the store): an explicit
        mapping (``files``, the experiment's ``sequence_files``), else the file found under
        ``sequence_dir`` or a subfolder of it by any of ``file_names``, else where the
        catalogue's name would be."""
        if self.builtin:
            return f"builtin:{self.builtin}"
        if self.shared or self.image:
            return str(data_root() / (self.shared or self.image))
        if files and self.name in files:
            return str(files[self.name])
        found = yuv_files(str(sequence_dir)).get if sequence_dir else None
        for name in self.file_names() if found else ():
            if found(name):
                return found(name)
        return str(Path(sequence_dir or ".") / self.file)

    def problem(self, sequence_dir: Path | None, files: dict | None = None) -> str | None:
        """Why this sequence cannot be coded here, or None."""
        if self.builtin:
            return None
        if self.file and sequence_dir is None and not (files and self.name in files):
            return "no --sequence-dir given"
        path = Path(self.source(sequence_dir, files))
        if path.is_file():
            return None
        if files and self.name in files:
            return f"missing file {path} (mapped in the experiment's sequence_files)"
        if self.file:
            return (f"no file under {sequence_dir} (or its subfolders) named {self.file} or "
                    f"{', '.join(n + '.yuv' for n in self.file_names()[1:4])} ... (any case)")
        return f"missing file {path}"

    def load(self, source: str, frames: int | None, depth: int = 8) -> hb.Video | hb.YuvFile:
        """The frames to code from ``source`` (what ``source()`` said): a YuvFile (read frame
        by frame as it is coded) for a raw sequence file, a Video in memory for the small
        built-in clips and images; pictures at ``depth`` bits (a 10-bit file at 8: rounded
        as HM's Main CTC does; 8-bit content at 10: shifted up)."""
        n = min(frames or self.frames, self.frames)
        if self.builtin:
            from hm_bridge.clips import load_builtin

            video = load_builtin(self.builtin, n)
        elif self.image:
            from hm_bridge.color import load_image_rgb, rgb_to_video

            video = rgb_to_video(load_image_rgb(source))
        else:
            video = hb.YuvFile(source, self.width, self.height, frames=n, fps=self.fps,
                               bit_depth=self.bit_depth, depth=depth)
        if self.crop:  # small clips only
            video = video.load()
            w, h = self.crop
            video = hb.Video(video.y[:, :h, :w], video.u[:, : h // 2, : w // 2], video.v[:, : h // 2, : w // 2],
                             video.fps, video.bit_depth)
        return video.at_depth(depth)


def yuv_files(folder: str) -> dict[str, str]:
    """The .yuv files in ``folder`` and two levels of subfolders (one per class, say), by
    lower-case name without the extension; the shallowest first."""
    out: dict[str, str] = {}
    root = Path(folder)
    for pattern in ("*", "*/*", "*/*/*"):
        for p in sorted(root.glob(pattern)):
            if p.suffix.lower() == ".yuv" and p.is_file():
                out.setdefault(p.stem.lower(), str(p))
    return out


@functools.lru_cache(maxsize=None)
def load_catalogue(path: str = str(CATALOGUE)) -> dict[str, list[Sequence]]:
    raw = yaml.safe_load(Path(path).read_text())
    out = {}
    for cls, items in raw["classes"].items():
        out[str(cls)] = [Sequence(cls=str(cls), **{**it, "crop": tuple(it["crop"]) if "crop" in it else None})
                         for it in items]
    return out


def select(classes: list[str] | None = None, names: list[str] | None = None) -> list[Sequence]:
    """Sequences by class and/or name; unknown ones are an error."""
    cat = load_catalogue()
    every = {s.name: s for seqs in cat.values() for s in seqs}
    chosen: list[Sequence] = []
    for c in classes or []:
        if c not in cat:
            raise ValueError(f"unknown class {c!r}; classes: {', '.join(cat)}")
        chosen += cat[c]
    for n in names or []:
        if n not in every:
            raise ValueError(f"unknown sequence {n!r}")
        if every[n] not in chosen:
            chosen.append(every[n])
    if not chosen:
        raise ValueError("no sequences selected")
    return chosen
