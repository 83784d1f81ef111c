"""The one interface every codec backend implements (the shape of CompressAI's ``Codec``):
a backend turns a frame source into coded pictures, one at a time, and decodes a stream
into pictures, one at a time. Everything else (rate, bits per picture, PSNR, MD5s,
verification, the EncodeResult) is computed once above it, in hm_bridge.results and
hm_bridge.codec. Adding a backend: one module with a Codec subclass, plus one line in
``hm_bridge.codec.CODECS`` (docs/architecture.md).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator

from hm_bridge.results import CodedPicture


@dataclass
class EncodeRequest:
    """What a caller asks of any backend; ``options`` holds the backend-specific settings
    the caller gave (each backend says which it honours)."""

    config: str
    qp: int
    placement: str
    sequence: str | None = None  # a catalogue sequence's name (HM: its per-sequence cfg)
    options: dict = field(default_factory=dict)


@dataclass
class DecodeStats:
    """What a decoder reports besides its pictures (filled while decoding)."""

    decoder: str = ""
    bit_depth: int = 8  # of the pictures it output
    hash_mismatches: int = 0
    hashed_pictures: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class EncodeFacts:
    """What a backend says about an encode once its pictures are out."""

    encoder: str = ""
    encoder_options: list[str] = field(default_factory=list)
    qp_cascade: str | None = None
    intra_period: int | None = None
    stream_header_bytes: int = 0  # bytes the encoder writes once per stream, before the first picture's own
    reported_psnr_y: dict | None = None  # display index -> PSNR-Y the encoder printed (cross-checked)


class Codec(ABC):
    name: str = ""
    #: configs it codes
    configs: tuple[str, ...] = ()
    #: backend-specific encode() settings it honours, with their defaults
    option_defaults: dict = {}
    #: the bit depths it codes at
    bit_depths: tuple[int, ...] = (8,)

    @classmethod
    def check_bit_depth(cls, bit_depth: int) -> None:
        if bit_depth not in cls.bit_depths:
            raise ValueError(f"the {cls.name} backend codes at {' or '.join(map(str, cls.bit_depths))} bits, not "
                             f"{bit_depth}")

    @classmethod
    def check_options(cls, given: dict) -> dict:
        """The settings a caller gave (None = not given), completed with the defaults;
        ValueError naming any this backend cannot honour."""
        given = {k: v for k, v in given.items() if v is not None}
        unknown = sorted(set(given) - set(cls.option_defaults))
        if unknown:
            raise ValueError(f"the {cls.name} backend cannot honour {', '.join(unknown)}: "
                             f"it takes {', '.join(sorted(cls.option_defaults)) or 'no backend-specific options'}")
        return {**cls.option_defaults, **given}

    def check_config(self, config: str) -> None:
        if config not in self.configs:
            raise ValueError(f"unknown config {config!r} for {self.name}; it codes {', '.join(self.configs)}")

    @abstractmethod
    def encode_pictures(self, source, request: EncodeRequest, loop_filter, facts: EncodeFacts) -> Iterator[CodedPicture]:
        """Codes ``source`` (a frame source: Video or YuvFile), yielding each picture as it
        is finished (decoding order); fills ``facts``. ``loop_filter`` runs in the loop (None
        for the post placement: the driver applies it)."""

    @abstractmethod
    def decode_pictures(self, bitstream: bytes, loop_filter, stats: DecodeStats, size=None,
                        threads: int | None = None) -> Iterator[tuple]:
        """Decodes ``bitstream`` with ``loop_filter`` in the loop, yielding (y, u, v) of
        each output picture; fills ``stats``. ``size``: (width, height) when known;
        ``threads``: the decoder's (ValueError where it cannot honour them)."""

    @classmethod
    def segment_starts(cls, config: str, frames: int, fps: float, options: dict) -> tuple[list[int], str]:
        """Where a sequence of ``frames`` pictures may be cut into segments whose encodes,
        joined (hm_bridge.segments), equal the whole encode: the allowed first pictures,
        and why not elsewhere. Default: nowhere but the start."""
        return [0], f"the {cls.name} backend does not code segments"

    def verifying_decoders(self, loop_filter, options: dict) -> list:
        """Decoders that must reproduce this backend's reconstruction: callables
        (bitstream, stats, size) -> pictures. Default: its own decoder."""
        return [lambda bitstream, stats, size: self.decode_pictures(bitstream, loop_filter, stats, size)]

    @abstractmethod
    def version(self) -> str:
        ...
