"""`hmcnn hm integrate --hm-src DIR`: inserts hm-cnn-loop's in-loop filter calls into a
user's HM checkout, idempotently, in either build generation: the makefile one (HM-16.6 ..
HM-16.20, ``build/linux/``) and the CMake one (HM-16.21 .. HM-18.x). It never builds HM:
rebuild TAppEncoder and TAppDecoder yourself afterwards.

What it does (every inserted line is marked ``hm-cnn-loop``):

* copies our adapter and glue (cpp/hm/) and the filter ABI header into
  ``source/Lib/TLibCommon/``;
* TDecGop::filterPicture: ``hmcnnDecodePicture(pcPic)`` after deblocking + SAO (and
  PCMLFDisableProcess), before the picture-hash check;
* TDecTop::decode: ``hmcnnReadSideInfo(...)`` first, which keeps a side-information NAL unit
  (type ``HMCNN_SIDE_INFO_NAL_TYPE``, unspecified in HEVC) for the picture it follows;
* TEncGOP::compressGOP: ``hmcnnEncodePicture(pcPic, ...)`` after SAO, before the hash SEI is
  made; the side information it writes becomes a suffix NAL unit of that type, after the
  picture's slices and before the hash SEI;
* CMake generation: TLibCommon's CMakeLists.txt links ``${CMAKE_DL_LIBS}`` (the plug-in is
  dlopen'ed; its CMake globs *.cpp, so our files are compiled in);
* makefile generation: TLibCommon's makefile adds our two objects to its OBJS, and the makefiles of
  TAppEncoder, TAppDecoder and TAppDecoderAnalyser link ``-ldl`` after HM's libraries.

An HM it does not recognise (an anchor missing or found twice) is refused with the file
and the anchor named; nothing is written then.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from hm_bridge.paths import REPO

MARK = "hm-cnn-loop"
#: our files copied into source/Lib/TLibCommon
SHIPPED = {
    "hmcnn_hm_adapter.h": REPO / "cpp" / "hm" / "hmcnn_hm_adapter.h",
    "hmcnn_hm_adapter.cpp": REPO / "cpp" / "hm" / "hmcnn_hm_adapter.cpp",
    "hmcnn_hm_glue.h": REPO / "cpp" / "hm" / "hmcnn_hm_glue.h",
    "hmcnn_hm_glue.cpp": REPO / "cpp" / "hm" / "hmcnn_hm_glue.cpp",
    "inloop_filter.h": REPO / "cpp" / "include" / "inloop_filter.h",
}


class UnknownHMError(ValueError):
    """The tree is not an HM checkout this integration knows."""


@dataclass(frozen=True)
class Insertion:
    file: str  # relative to the HM root
    anchor: str  # a regular expression matching exactly once
    text: str  # inserted right after (after=True) or before the anchor's match
    after: bool = True


#: in HM's sources, whatever the build generation
SOURCE_INSERTIONS = (
    Insertion("source/Lib/TLibDecoder/TDecGop.cpp", r'#include "TDecGop\.h"\n',
              f'#include "TLibCommon/hmcnn_hm_glue.h" // {MARK}\n'),
    Insertion("source/Lib/TLibDecoder/TDecGop.cpp",
              r"\n    m_pcSAO->PCMLFDisableProcess\(pcPic\);\n  \}\n",
              f"\n  // {MARK}: the in-loop filter after deblocking + SAO, before the picture hash check\n"
              "  hmcnnDecodePicture(pcPic);\n"),
    Insertion("source/Lib/TLibDecoder/TDecTop.cpp", r'#include "TDecTop\.h"\n',
              f'#include "TLibCommon/hmcnn_hm_glue.h" // {MARK}\n'),
    Insertion("source/Lib/TLibDecoder/TDecTop.cpp", r"\n  switch \(nalu\.m_nalUnitType\)\n  \{\n",
              f"\n  // {MARK}: keep the in-loop filter's side information for the picture it follows\n"
              "  if (hmcnnReadSideInfo(nalu.m_nalUnitType, nalu.getBitstream())) return false;\n", after=False),
    Insertion("source/Lib/TLibEncoder/TEncGOP.cpp", r'#include "TEncGOP\.h"\n',
              f'#include "TLibCommon/hmcnn_hm_glue.h" // {MARK}\n'),
    Insertion("source/Lib/TLibEncoder/TEncGOP.cpp", r"\n    std::string digestStr;\n",
              f"\n    // {MARK}: the in-loop filter after deblocking + SAO; its side information becomes a\n"
              "    // suffix NAL unit of its own, after the slices and before the hash SEI\n"
              "    {\n"
              "      OutputNALUnit hmcnnNalu(NalUnitType(HMCNN_SIDE_INFO_NAL_TYPE), pcSlice->getTLayer());\n"
              "      if (hmcnnEncodePicture(pcPic, hmcnnNalu.m_Bitstream)) accessUnit.push_back(new NALUnitEBSP(hmcnnNalu));\n"
              "    }\n", after=False),
)

#: HM-16.21 and later: CMake
CMAKE_INSERTIONS = (
    Insertion("source/Lib/TLibCommon/CMakeLists.txt", r"target_link_libraries\( \$\{LIB_NAME\} Threads::Threads \)\n",
              f"# {MARK}: the in-loop filter plug-in is loaded with dlopen\n"
              "target_link_libraries( ${LIB_NAME} ${CMAKE_DL_LIBS} )\n"),
)

_DL = (f"# {MARK}: the in-loop filter plug-in is loaded with dlopen (linked after HM's libraries)\n"
       "DYN_DEBUG_LIBS += -ldl\nDYN_RELEASE_LIBS += -ldl\nSTAT_DEBUG_LIBS += -ldl\nSTAT_RELEASE_LIBS += -ldl\n")

#: HM-16.20 and older: makefiles under build/linux (objects listed by hand)
MAKEFILE_INSERTIONS = (
    Insertion("build/linux/lib/TLibCommon/makefile", r"\n# name of the base makefile\n",
              f"\n# {MARK}: our adapter and glue (source/Lib/TLibCommon/hmcnn_hm_*.cpp) are objects of TLibCommon\n"
              "OBJS += $(OBJ_DIR)/hmcnn_hm_adapter.o $(OBJ_DIR)/hmcnn_hm_glue.o", after=False),
) + tuple(Insertion(f"build/linux/app/{app}/makefile", r"\n# name of the base makefile\n", "\n" + _DL.rstrip("\n"),
                    after=False)
          for app in ("TAppEncoder", "TAppDecoder", "TAppDecoderAnalyser"))

#: the generations: (name, file that identifies it, its insertions)
GENERATIONS = (
    ("CMake (HM-16.21 .. HM-18.x)", "source/Lib/TLibCommon/CMakeLists.txt", SOURCE_INSERTIONS + CMAKE_INSERTIONS),
    ("makefile (HM-16.6 .. HM-16.20)", "build/linux/lib/TLibCommon/makefile", SOURCE_INSERTIONS + MAKEFILE_INSERTIONS),
)
#: the CMake generation's, as before (tests build synthetic trees from them)
INSERTIONS = GENERATIONS[0][2]


def generation(root: Path) -> tuple[str, tuple[Insertion, ...]]:
    """The build generation of the HM checkout at ``root`` and its insertions;
    UnknownHMError if it has neither a CMakeLists.txt nor a makefile for TLibCommon."""
    for name, marker, insertions in GENERATIONS:
        if (Path(root) / marker).is_file():
            return name, insertions
    raise UnknownHMError(f"{root}: neither source/Lib/TLibCommon/CMakeLists.txt (HM-16.21 .. 18.x) nor "
                         "build/linux/lib/TLibCommon/makefile (HM-16.6 .. 16.20): not an HM build this "
                         "integration knows; insert the calls by hand (docs/hm-integration.md)")


def hm_version(root: Path) -> str | None:
    common = Path(root) / "source" / "Lib" / "TLibCommon" / "CommonDef.h"
    if not common.is_file():
        return None
    m = re.search(r'#define\s+NV_VERSION\s+"([^"]+)"', common.read_text(errors="replace"))
    return m.group(1) if m else None


def is_integrated(root: Path) -> bool:
    return all(MARK in (Path(root) / f).read_text(errors="replace")
               for f in {i.file for i in generation(root)[1]} if (Path(root) / f).is_file())


def _plan(root: Path) -> dict[str, str]:
    """The new text of every file to change; UnknownHMError if an anchor is not unique."""
    version = hm_version(root)
    if version is None:
        raise UnknownHMError(f"{root} is not an HM checkout (no source/Lib/TLibCommon/CommonDef.h with NV_VERSION)")
    name, insertions = generation(root)
    texts = {}
    for ins in insertions:
        path = root / ins.file
        if not path.is_file():
            raise UnknownHMError(f"HM {version} at {root} ({name} build): {ins.file} is missing: not an HM this "
                                 "integration knows; insert the calls by hand (docs/hm-integration.md)")
        if ins.file not in texts:
            texts[ins.file] = path.read_text(errors="replace")
            ours = {line for i in insertions if i.file == ins.file for line in i.text.splitlines() if MARK in line}
            old = [line for line in texts[ins.file].splitlines() if MARK in line and line not in ours]
            if old:
                raise UnknownHMError(f"HM {version} at {root}: {ins.file} holds an older hm-cnn-loop integration "
                                     f"({old[0].strip()!r}): restore HM's own file (git checkout -- {ins.file}) and "
                                     "integrate again")
        text = texts[ins.file]
        if ins.text in text:
            continue  # already there
        found = list(re.finditer(ins.anchor, text))
        if len(found) != 1:
            raise UnknownHMError(f"HM {version} at {root}: {ins.file} has {len(found)} matches of the anchor "
                                 f"{ins.anchor!r} (expected 1): not an HM this integration knows; insert the calls "
                                 "by hand (docs/hm-integration.md)")
        at = found[0].end() if ins.after else found[0].start()
        texts[ins.file] = text[:at] + ins.text + text[at:]
    return texts


def integrate(root) -> list[str]:
    """Inserts the calls and copies our files; returns what was done. Idempotent."""
    root = Path(root)
    texts = _plan(root)  # everything is checked before anything is written
    done = []
    for rel, text in texts.items():
        path = root / rel
        if path.read_text(errors="replace") != text:
            path.write_text(text)
            done.append(f"inserted the calls into {rel}")
    common = root / "source" / "Lib" / "TLibCommon"
    for name, src in SHIPPED.items():
        dst = common / name
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            shutil.copyfile(src, dst)
            done.append(f"copied {name} into source/Lib/TLibCommon")
    return done


def inserted_lines(root) -> int:
    """Lines the integration added to HM's own files (our copied files not counted)."""
    root = Path(root)
    return sum(ins.text.count("\n") for ins in generation(root)[1]
               if MARK in (root / ins.file).read_text(errors="replace"))
