"""BD-rate against worked reference values."""
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.interpolate import PchipInterpolator

from experiments.bdrate import bd_rate, overlap

# the bjontegaard package's README example (x265 presets measured with ffmpeg)
RATE_A = [9487.76, 4593.60, 2486.44, 1358.24]
PSNR_A = [40.037, 38.615, 36.845, 34.851]
RATE_T = [9787.80, 4469.00, 2451.52, 1356.24]
PSNR_T = [40.121, 38.651, 36.970, 34.987]


def _independent(method, ra, da, rt, dt):
    """A from-scratch worked value: integrate the log-rate curves over the PSNR overlap."""
    lo, hi = max(min(da), min(dt)), min(max(da), max(dt))
    if method == "pchip":
        ia = PchipInterpolator(np.sort(da), np.log10(np.array(ra))[np.argsort(da)])
        it = PchipInterpolator(np.sort(dt), np.log10(np.array(rt))[np.argsort(dt)])
    else:
        ia = np.poly1d(np.polyfit(da, np.log10(ra), 3))
        it = np.poly1d(np.polyfit(dt, np.log10(rt), 3))
    diff = (quad(lambda x: float(it(x)), lo, hi)[0] - quad(lambda x: float(ia(x)), lo, hi)[0]) / (hi - lo)
    return (10**diff - 1) * 100


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_readme_example_matches_an_independent_worked_value(method):
    got = bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T, method)
    assert got == pytest.approx(_independent(method, RATE_A, PSNR_A, RATE_T, PSNR_T), abs=1e-6)
    assert -6 < got < 0  # the test curve is above the anchor: fewer bits at equal PSNR


@pytest.mark.parametrize("method", ["pchip", "cubic"])
@pytest.mark.parametrize("factor", [0.9, 1.0, 1.25, 0.5])
def test_anchor_shifted_by_a_rate_factor_gives_that_factor(method, factor):
    test_rates = [r * factor for r in RATE_A]
    assert bd_rate(RATE_A, PSNR_A, test_rates, PSNR_A, method) == pytest.approx((factor - 1) * 100, abs=1e-9)


def test_point_order_does_not_matter():
    order = [2, 0, 3, 1]
    a = bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T)
    b = bd_rate([RATE_A[i] for i in order], [PSNR_A[i] for i in order], RATE_T, PSNR_T)
    assert a == pytest.approx(b, abs=1e-9)


def test_bad_curves_are_rejected():
    with pytest.raises(ValueError, match="do not overlap"):
        bd_rate(RATE_A, PSNR_A, RATE_T, [p + 20 for p in PSNR_T])
    with pytest.raises(ValueError, match="positive"):
        bd_rate([0, 1, 2, 3], PSNR_A, RATE_T, PSNR_T)
    with pytest.raises(ValueError, match="four points"):
        bd_rate(RATE_A[:3], PSNR_A[:3], RATE_T[:3], PSNR_T[:3], "cubic")
    with pytest.raises(ValueError, match="unknown BD method"):
        bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T, "akima2")
    assert overlap(PSNR_A, [p + 3 for p in PSNR_A]) == pytest.approx((40.037 - 37.851) / (40.037 - 34.851))
