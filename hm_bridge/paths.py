"""Path rules of the project, in one place: the checkout, the shared data folder, the commit."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

#: the project checkout (the folder holding hm_bridge/, cnn_filter/, models/, ...)
REPO = Path(__file__).resolve().parent.parent

#: the environment variable that points at the shared data folder
DATA_ENV = "HMCNN_DATA"


def data_root() -> Path:
    """The shared data folder: $HMCNN_DATA, else ../shared/data beside the checkout."""
    return Path(os.environ.get(DATA_ENV, REPO.parent / "shared" / "data"))


def git_commit(short: bool = False) -> str:
    """The checkout's commit, or "unknown" outside a git checkout."""
    cmd = ["git", "-C", str(REPO), "rev-parse", *(["--short"] if short else []), "HEAD"]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
