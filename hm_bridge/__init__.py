"""hm_bridge: a real HEVC encoder (x265) and decoder (libde265), patched so that a filter
runs inside the coding loop after deblocking + SAO, on both sides; the user's HM build
behind the same interface.

    >>> import hm_bridge as hb
    >>> video = hb.YuvFile("clip.yuv", 416, 240, frames=9)        # read frame by frame
    >>> result = hb.encode(video, config="ra", qp=32, loop_filter=hb.SmoothingFilter())
    >>> result.kbps, result.psnr.y, result.md5_match
"""
from hm_bridge._core import FILTER_ABI_VERSION, MAX_SIDE_INFO, SIDE_INFO_NAL_TYPE, NoopFilter, Picture, SmoothingFilter
from hm_bridge.backend import Codec
from hm_bridge.codec import CODECS, decode, encode, get_codec, join_segments, post_filter
from hm_bridge.configs import CONFIGS, PLACEMENTS, UNSUPPORTED, get_config
from hm_bridge.native_filter import NativeLibraryFilter, load_native_filter
from hm_bridge.results import DecodeResult, EncodeResult, ReconMismatchError
from hm_bridge.video import PsnrReport, Video, YuvFile

__all__ = [
    "CODECS", "CONFIGS", "Codec", "PLACEMENTS", "UNSUPPORTED", "FILTER_ABI_VERSION", "MAX_SIDE_INFO", "SIDE_INFO_NAL_TYPE",
    "DecodeResult", "EncodeResult", "NativeLibraryFilter", "NoopFilter", "Picture", "PsnrReport",
    "ReconMismatchError", "SmoothingFilter",
    "Video", "YuvFile", "decode", "encode", "get_codec", "get_config", "join_segments", "load_native_filter", "post_filter",
]
