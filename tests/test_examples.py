"""What a new user sees: the tutorial notebook runs top to bottom, the HTML report renders
in a real browser (tables, plots, crops), `hmcnn doctor` says what is there."""
import json
import re
import shutil
import subprocess
import sys
import time

import pytest

from conftest import REPO

NOTEBOOK = REPO / "examples" / "getting_started.ipynb"
NOTEBOOK_SECONDS = 300


def test_the_tutorial_notebook_runs_top_to_bottom():
    nbformat = pytest.importorskip("nbformat", reason="the test extra installs nbformat/nbclient/ipykernel")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook without outputs"
    t0 = time.perf_counter()
    nbclient.NotebookClient(nb, timeout=NOTEBOOK_SECONDS, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()  # raises on any error
    assert time.perf_counter() - t0 < NOTEBOOK_SECONDS
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "encoder recon == decoder output: True" in text and "BD-rate (pchip)" in text and "upsampler" in text


@pytest.fixture(scope="module")
def small_report(tmp_path_factory):
    from experiments.report import report
    from experiments.spec import Experiment
    from experiments.sweep import run

    out = tmp_path_factory.mktemp("report")
    exp = Experiment(name="browser", sequences=["carphone"], configs=["ai", "ldp"], qps=[22, 27, 32, 37], frames=3,
                     preset="ultrafast", test="smoothing:always")
    run(exp, out, progress=False)
    report(out)
    return out / "report.html"


PROBE = """<script>window.addEventListener('load', () => {
  const imgs = [...document.querySelectorAll('img')].map(i => [i.alt, i.naturalWidth, i.naturalHeight]);
  const svgs = [...document.querySelectorAll('svg')].map(s => { const r = s.getBoundingClientRect();
                                                                 return [r.width, r.height]; });
  const tables = [...document.querySelectorAll('table')].map(t => t.rows.length);
  document.body.setAttribute('data-probe', JSON.stringify({imgs, svgs, tables}));
});</script></body>"""


def test_the_report_renders_in_a_headless_browser(small_report, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no Chromium (the test command installs Debian's chromium when run as root)")
    page = tmp_path / "probe.html"
    page.write_text(small_report.read_text().replace("</body>", PROBE))
    r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
                       capture_output=True, text=True, timeout=120)
    found = re.search(r'data-probe="([^"]*)"', r.stdout)
    assert found, r.stderr[-2000:]
    probe = json.loads(found.group(1).replace("&quot;", '"'))
    assert len(probe["tables"]) >= 4 and all(rows > 1 for rows in probe["tables"])
    assert len(probe["svgs"]) >= 4 and all(w > 50 and h > 50 for w, h in probe["svgs"])
    crops = [i for i in probe["imgs"] if i[0] in ("original", "anchor", "test")]
    assert len(crops) == 2 * 3 and all(w > 0 and h > 0 for _, w, h in crops)


def hmcnn(*args):
    return subprocess.run([sys.executable, "-m", "hmcnn", *args], capture_output=True, text=True)


def test_doctor_reports_what_is_found():
    r = hmcnn("doctor")
    assert r.returncode == 0, r.stdout + r.stderr
    for what in ("x265", "x265 assembly", "libde265", "torch", "models", "integer runner", "HM", "shared data"):
        assert re.search(rf"^\[(ok |-- )\] {re.escape(what)}\b", r.stdout, re.M), what


def test_doctor_fails_with_the_reason_when_the_models_are_missing(tmp_path):
    r = hmcnn("doctor", "--models", str(tmp_path / "missing"))
    assert r.returncode == 1
    assert f"required: models {tmp_path / 'missing'}: no model file or directory" in r.stdout
