"""The HM backend: the HM-agnostic adapter (CI), the VRCNN plug-in loaded by plain C (CI),
`hmcnn hm integrate` on synthetic trees (CI), and, with a user's HM build in
$HMCNN_HM_DIR, the anchor, the in-loop filter and the cross-decoder check."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import hm_bridge as hb
from conftest import REPO, compile_shared_library
from hm_bridge.hm_integrate import INSERTIONS, MARK, UnknownHMError, integrate, inserted_lines

C_TESTS = REPO / "tests" / "c"


def _cxx():
    cxx = shutil.which("c++") or shutil.which("g++")
    if cxx is None:
        pytest.skip("no C++ compiler on this machine")
    return cxx


def test_hm_adapter_round_trips_pel_planes_of_every_kind(tmp_path):
    """int16/int32 Pel, 8/10-bit, luma and chroma depths differing, errors with the filter's words."""
    plugin = compile_shared_library(C_TESTS / "plus_one_filter.c", tmp_path / "libplus_one.so")
    exe = tmp_path / "adapter_test"
    subprocess.run([_cxx(), "-std=c++11", "-Wall", "-Wextra", "-Werror", "-O2", "-I", str(REPO / "cpp" / "include"),
                    "-I", str(REPO / "cpp" / "hm"), str(C_TESTS / "adapter_test.cpp"),
                    str(REPO / "cpp" / "hm" / "hmcnn_hm_adapter.cpp"), "-ldl", "-o", str(exe)], check=True)
    r = subprocess.run([str(exe), str(plugin)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 27 and all(line.startswith("ok") for line in lines)


def test_the_vrcnn_plugin_loaded_from_c_filters_like_the_python_runner(tmp_path, clip9):
    from cnn_filter import load_filter
    from cnn_filter.loader import plugin_path

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    exe = tmp_path / "plugin_apply"
    subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-I", str(REPO / "cpp" / "include"),
                    str(C_TESTS / "plugin_apply.c"), "-ldl", "-o", str(exe)], check=True)
    picture = clip9[0]
    picture.to_yuv(tmp_path / "in.yuv")
    models = REPO / "models" / "vrcnn"
    r = subprocess.run([str(exe), str(plugin_path()), f"models={models};device=cpu", str(picture.width),
                        str(picture.height), "37", str(tmp_path / "in.yuv"), str(tmp_path / "out.yuv")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    from_c = hb.Video.from_yuv(tmp_path / "out.yuv", picture.width, picture.height)
    y, u, v = load_filter(models, device="cpu").filter_picture(37, picture.y[0], picture.u[0], picture.v[0])
    assert np.array_equal(from_c.y[0], y) and np.array_equal(from_c.u[0], u)
    assert not np.array_equal(y, picture.y[0])
    bad = subprocess.run([str(exe), str(plugin_path()), "models=/nowhere", "176", "144", "37",
                          str(tmp_path / "in.yuv"), str(tmp_path / "o.yuv")], capture_output=True, text=True)
    assert bad.returncode == 1 and "no model file or directory at /nowhere" in bad.stderr


def _synthetic_hm(root: Path, anchors: bool = True, insertions=INSERTIONS) -> Path:
    """A tree with HM's layout and the anchors the integration looks for (no HM code)."""
    (root / "source/Lib/TLibCommon").mkdir(parents=True)
    (root / "source/Lib/TLibDecoder").mkdir(parents=True)
    (root / "source/Lib/TLibEncoder").mkdir(parents=True)
    (root / "source/Lib/TLibCommon/CommonDef.h").write_text('#define NV_VERSION        "18.0"\n')
    files = {}
    for ins in insertions:
        files.setdefault(ins.file, [])
        if anchors:  # the anchor's regular expression, unescaped into the text it matches
            files[ins.file].append(re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), ins.anchor))
    for rel, parts in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("// synthetic\n" + "".join(parts) + "// end\n")
    return root


def test_integrate_inserts_our_calls_once(tmp_path):
    root = _synthetic_hm(tmp_path / "hm")
    done = integrate(root)
    assert any("TDecGop.cpp" in d for d in done) and any("hmcnn_hm_adapter.cpp" in d for d in done)
    dec = (root / "source/Lib/TLibDecoder/TDecGop.cpp").read_text()
    assert dec.index("PCMLFDisableProcess") < dec.index("hmcnnDecodePicture(pcPic);")
    enc = (root / "source/Lib/TLibEncoder/TEncGOP.cpp").read_text()
    assert enc.index("hmcnnEncodePicture(pcPic, hmcnnNalu.m_Bitstream)") < enc.index("std::string digestStr;")
    top = (root / "source/Lib/TLibDecoder/TDecTop.cpp").read_text()
    assert top.index("hmcnnReadSideInfo(nalu.m_nalUnitType") < top.index("switch (nalu.m_nalUnitType)")
    assert "${CMAKE_DL_LIBS}" in (root / "source/Lib/TLibCommon/CMakeLists.txt").read_text()
    assert (root / "source/Lib/TLibCommon/inloop_filter.h").read_bytes() == \
        (REPO / "cpp/include/inloop_filter.h").read_bytes()
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert integrate(root) == []  # idempotent
    assert before == {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert inserted_lines(root) == 18 and dec.count(MARK) == 2


def test_integrate_refuses_a_tree_it_does_not_know(tmp_path):
    with pytest.raises(UnknownHMError, match="not an HM checkout"):
        integrate(tmp_path)
    root = _synthetic_hm(tmp_path / "hm", anchors=False)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    with pytest.raises(UnknownHMError, match=r"HM 18\.0 .*TDecGop\.cpp has 0 matches of the anchor"):
        integrate(root)
    assert before == {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}  # nothing written


def test_integrate_refuses_an_older_integration(tmp_path):
    """A tree integrated by an older hm-cnn-loop (its side information was an SEI) is named,
    not patched twice: the user restores HM's file and integrates again."""
    root = _synthetic_hm(tmp_path / "hm")
    enc = root / "source/Lib/TLibEncoder/TEncGOP.cpp"
    old = enc.read_text().replace("\n    std::string digestStr;\n", f"\n    // {MARK}: the in-loop filter after deblocking"
                                  " + SAO, before the hash SEI; its side\n    hmcnnEncodePicture(pcPic, "
                                  "trailingSeiMessages);\n    std::string digestStr;\n")
    enc.write_text(old)
    with pytest.raises(UnknownHMError, match=r"TEncGOP\.cpp holds an older hm-cnn-loop integration .*git checkout"):
        integrate(root)
    assert enc.read_text() == old and not (root / "source/Lib/TLibCommon/hmcnn_hm_glue.cpp").exists()


def test_integrate_knows_the_makefile_generation(tmp_path):
    """HM-16.20 and older build with makefiles: the same source calls, our objects listed in
    TLibCommon's makefile, -ldl after HM's libraries in the apps' makefiles."""
    from hm_bridge.hm_integrate import GENERATIONS, generation

    name, _, insertions = GENERATIONS[1]
    root = _synthetic_hm(tmp_path / "hm", insertions=insertions)
    assert generation(root)[0] == name
    done = integrate(root)
    assert any("build/linux/lib/TLibCommon/makefile" in d for d in done)
    lib = (root / "build/linux/lib/TLibCommon/makefile").read_text()
    assert "OBJS += $(OBJ_DIR)/hmcnn_hm_adapter.o $(OBJ_DIR)/hmcnn_hm_glue.o\n" in lib
    assert lib.index(MARK) < lib.index("OBJS +=") < lib.index("# name of the base makefile")
    for app in ("TAppEncoder", "TAppDecoder", "TAppDecoderAnalyser"):
        text = (root / f"build/linux/app/{app}/makefile").read_text()
        assert "STAT_RELEASE_LIBS += -ldl" in text and text.index("-ldl") < text.index("# name of the base makefile")
    assert "hmcnnDecodePicture(pcPic);" in (root / "source/Lib/TLibDecoder/TDecGop.cpp").read_text()
    assert not (root / "source/Lib/TLibCommon/CMakeLists.txt").exists()
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert integrate(root) == [] and before == {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert inserted_lines(root) == 16 + 2 + 3 * 5
    (root / "build/linux/lib/TLibCommon/makefile").unlink()
    with pytest.raises(UnknownHMError, match="neither source/Lib/TLibCommon/CMakeLists.txt"):
        integrate(root)


def test_replace_placement_codes_without_deblocking_and_sao(carphone):
    f = hb.SmoothingFilter(rdo=False)
    loop = hb.encode(carphone[:5], config="ra", qp=37, preset="medium", loop_filter=f)
    replace = hb.encode(carphone[:5], config="ra", qp=37, preset="medium", loop_filter=f, placement="replace")
    plain = hb.encode(carphone[:5], config="ra", qp=37, preset="medium", placement="replace")
    assert replace.md5_match and "--no-deblock" in replace.encoder_options and "--no-sao" in replace.encoder_options
    assert replace.bitstream != loop.bitstream and replace.side_info_bytes > 0
    assert plain.psnr.y < hb.encode(carphone[:5], config="ra", qp=37, preset="medium").psnr.y  # DBF+SAO help


# --- with the user's HM build ----------------------------------------------------------------
def _hm():
    from hm_bridge.hm import HMBuild, hm_available

    why = hm_available()
    if why:
        pytest.skip(f"no HM build ({why})")
    return HMBuild.find()


HAND_CFG = {"ai": "encoder_intra_main.cfg", "ra": "encoder_randomaccess_main.cfg", "ldb": "encoder_lowdelay_main.cfg",
            "ldp": "encoder_lowdelay_P_main.cfg"}


@pytest.mark.parametrize("config", ["ai", "ra", "ldb", "ldp"])
def test_hm_anchor_equals_a_hand_run_hm_encode(clip9, tmp_path, config):
    """The backend's anchor against HM run by hand with the command line hm-facts documents
    (written out here, not built by the code under test): same bytes; PSNR and rate
    computed here from the files."""
    from hm_bridge.bitstream import count_bytes

    hm = _hm()
    r = hb.encode(clip9, config=config, qp=32, codec="hm", hm_dir=hm, recon="memory")
    assert r.md5_match and r.encoder == hm.version
    clip9.to_yuv(tmp_path / "in.yuv")
    args = [str(hm.encoder), "-c", str(hm.root / "cfg" / HAND_CFG[config]), "-i", str(tmp_path / "in.yuv"),
            "-b", str(tmp_path / "s.bin"), "-o", str(tmp_path / "rec.yuv"), "-q", "32", "--SEIDecodedPictureHash=1",
            "-wdt", "176", "-hgt", "144", "-fr", "30", "-f", "9", "--InputBitDepth=8", "--InternalBitDepth=8",
            "--OutputBitDepth=8", "--InputChromaFormat=420", "--Level=6.2", "--FrameSkip=0",
            "--ConformanceWindowMode=1"] + (["--IntraPeriod=32"] if config == "ra" else [])
    subprocess.run(args, capture_output=True, text=True, check=True,
                   env={k: v for k, v in os.environ.items() if k != "HMCNN_FILTER"})
    stream = (tmp_path / "s.bin").read_bytes()
    assert stream == r.bitstream
    rec = np.fromfile(tmp_path / "rec.yuv", np.uint8).reshape(9, -1)
    src = np.fromfile(tmp_path / "in.yuv", np.uint8).reshape(9, -1)
    mse_y = ((rec[:, :176 * 144].astype(float) - src[:, :176 * 144]) ** 2).mean(axis=1)
    assert np.abs(r.psnr.per_frame[:, 0] - 10 * np.log10(255 ** 2 / mse_y)).max() < 1e-9
    # per-frame bits: access units, summing to the stream's bytes less the picture-hash SEI
    assert r.bits_per_frame.sum() == 8 * (len(stream) - count_bytes(stream).hash_sei) == 8 * r.rate_bytes


@pytest.mark.parametrize("config", ["ai", "ra", "ldp"])
def test_hm_main10_anchor_equals_a_hand_run_hm_main10_encode(tmp_path, config):
    """A 10-bit sequence made here coded by the backend at 10 bits (HM's main10 cfgs) and by
    HM run by hand: same bytes; PSNR computed here from HM's 10-bit files with HM's peak
    (1020); HM's decoder and libde265 return the 10-bit reconstruction (MD5 over 16-bit
    samples). An 8-bit source at 10-bit internal depth equals HM given --InputBitDepth=8."""
    from conftest import ten_bit_pan

    hm = _hm()
    video = ten_bit_pan(frames=5)
    r = hb.encode(video, config=config, qp=32, codec="hm", hm_dir=hm, recon="memory")
    assert r.md5_match and r.decode.decoder.startswith("libde265") and r.recon.bit_depth == 10
    assert r.psnr.peak == 1020 and r.encoder_options[1].endswith("_main10.cfg")
    video.to_yuv(tmp_path / "in.yuv")

    def hand(input_depth, out):
        args = [str(hm.encoder), "-c", str(hm.root / "cfg" / HAND_CFG[config].replace("_main.cfg", "_main10.cfg")),
                "-i", str(tmp_path / "in.yuv"), "-b", str(out), "-o", str(tmp_path / "rec.yuv"), "-q", "32",
                "--SEIDecodedPictureHash=1", "-wdt", "96", "-hgt", "64", "-fr", "30", "-f", "5",
                f"--InputBitDepth={input_depth}", "--InternalBitDepth=10", "--OutputBitDepth=10",
                "--InputChromaFormat=420", "--Level=6.2", "--FrameSkip=0", "--ConformanceWindowMode=1"]
        subprocess.run(args + (["--IntraPeriod=32"] if config == "ra" else []), capture_output=True, text=True,
                       check=True, env={k: v for k, v in os.environ.items() if k != "HMCNN_FILTER"})
        return out.read_bytes()

    assert hand(10, tmp_path / "s.bin") == r.bitstream
    rec = np.fromfile(tmp_path / "rec.yuv", "<u2").reshape(5, -1)[:, :96 * 64].astype(float)
    mse_y = ((rec - video.y.reshape(5, -1)) ** 2).mean(axis=1)
    assert np.abs(r.psnr.per_frame[:, 0] - 10 * np.log10(1020.0 ** 2 / mse_y)).max() < 1e-9
    assert np.array_equal(r.recon.y.reshape(5, -1), rec)

    eight = video.at_depth(8)
    r8 = hb.encode(eight, config=config, qp=32, codec="hm", hm_dir=hm, bit_depth=10)
    eight.to_yuv(tmp_path / "in.yuv")
    assert r8.md5_match and hand(8, tmp_path / "s8.bin") == r8.bitstream


def test_filters_in_hms_loop_at_ten_bits(tmp_path):
    """The plain-C example plug-in, the VRCNN plug-in and the integer VRCNN plug-in in HM's
    Main10 loop: HM's decoder and libde265 with the same filter reproduce the 10-bit
    reconstruction."""
    from cnn_filter import load_filter
    from conftest import ten_bit_pan
    from experiments.hm_check import build_example_filter

    hm = _hm()
    if not hm.integrated:
        pytest.skip(f"{hm.root} carries no in-loop calls (hmcnn hm integrate)")
    filters = {"band offset": hb.load_native_filter(build_example_filter(tmp_path)),
               "vrcnn": load_filter(REPO / "models" / "vrcnn", device="cpu", rdo=False),
               "integer vrcnn": load_filter(REPO / "models" / "vrcnn-int", rdo=False)}
    for name, f in filters.items():
        for config in ("ai", "ra"):
            r = hb.encode(ten_bit_pan(frames=5), config=config, qp=37, codec="hm", hm_dir=hm, loop_filter=f)
            assert r.md5_match and r.side_info_bytes > 0, (name, config)
            assert not hb.decode(r.bitstream).hash_ok  # without the filter: drift


@pytest.mark.parametrize("config", ["ai", "ra", "ldb", "ldp"])
def test_vrcnn_plugin_in_hms_loop_matches_hm_and_libde265(clip9, config):
    from cnn_filter import load_filter

    hm = _hm()
    if not hm.integrated:
        pytest.skip(f"{hm.root} carries no in-loop calls (hmcnn hm integrate)")
    f = load_filter(REPO / "models" / "vrcnn", device="cpu", rdo=False)
    r = hb.encode(clip9[:5], config=config, qp=37, codec="hm", hm_dir=hm, loop_filter=f)  # HM decoder and libde265 both checked
    assert r.md5_match and r.side_info_bytes > 0
    assert not hb.decode(r.bitstream).hash_ok  # without the filter: drift


def test_hm_post_filter_and_replace_placements(clip9):
    from cnn_filter import load_filter

    hm = _hm()
    f = load_filter(REPO / "models" / "vrcnn", device="cpu")
    post = hb.encode(clip9[:3], config="ai", qp=37, codec="hm", hm_dir=hm, loop_filter=f, placement="post")
    anchor = hb.encode(clip9[:3], config="ai", qp=37, codec="hm", hm_dir=hm)
    with pytest.raises(ValueError, match="cannot honour preset"):
        hb.encode(clip9[:3], config="ai", qp=37, codec="hm", hm_dir=hm, preset="slow")
    assert post.bitstream == anchor.bitstream and post.md5_match and post.psnr.y > anchor.psnr.y
    if hm.integrated:
        replace = hb.encode(clip9[:3], config="ai", qp=37, codec="hm", hm_dir=hm, loop_filter=f, placement="replace")
        assert replace.md5_match and "--SAO=0" in replace.encoder_options


@pytest.mark.parametrize("name", ["vrcnn", "vrcnn_inter", "vrcnn_replace", "yuv_resnet", "yuv_resnet_replace",
                                  "vrcnn-int"])
@pytest.mark.parametrize("config", ["ai", "ra"])
def test_each_shipped_model_crosses_between_x265_libde265_and_hm(clip9, name, config):
    """x265 + the in-process runner codes, HM's decoder with the plug-in decodes: every
    picture hash OK and the pictures equal x265's reconstruction; and the reverse: HM with
    the plug-in codes, libde265 with the in-process runner decodes (encode's verification)."""
    from cnn_filter import load_filter

    hm = _hm()
    if not hm.integrated:
        pytest.skip(f"{hm.root} carries no in-loop calls (hmcnn hm integrate)")
    f = load_filter(REPO / "models" / name, device="cpu")
    placement = "replace" if name.endswith("_replace") else "loop"
    x = hb.encode(clip9[:5], config=config, qp=37, preset="medium", loop_filter=f, placement=placement)
    in_hm = hb.decode(x.bitstream, loop_filter=f, codec="hm", hm_dir=hm, output=None)
    assert in_hm.hash_ok and in_hm.hashed_pictures == 5 and in_hm.md5s == x.recon_md5s
    h = hb.encode(clip9[:5], config=config, qp=37, codec="hm", hm_dir=hm, loop_filter=f, placement=placement)
    assert h.md5_match and h.decode.decoder.startswith("libde265")  # the last verifier: libde265 in process
