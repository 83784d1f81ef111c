"""Bjontegaard delta rate.

* ``pchip`` (default): piecewise cubic Hermite interpolation of log-rate over PSNR, as
  in the JCT-VC / JVET CTC spreadsheets (computed by the ``bjontegaard`` package, which
  matches the JVET sheet to 10 decimals).
* ``cubic``: VCEG-M33's original method: a third-order polynomial fitted to log-rate as
  a function of PSNR, integrated over the overlapping PSNR interval.

Both return the average rate difference of test vs anchor at equal quality, in percent
(negative = the test needs fewer bits).
"""
from __future__ import annotations

import warnings

import numpy as np

METHODS = ("pchip", "cubic")
#: below this relative PSNR overlap of the two curves, a BD-rate is flagged unreliable
MIN_OVERLAP = 0.75


def overlap(dist_anchor, dist_test) -> float:
    """Overlap of the two PSNR ranges as a fraction of the smaller range."""
    a, t = np.asarray(dist_anchor, float), np.asarray(dist_test, float)
    lo, hi = max(a.min(), t.min()), min(a.max(), t.max())
    smaller = min(a.max() - a.min(), t.max() - t.min())
    return 0.0 if smaller <= 0 else max(0.0, hi - lo) / smaller


def _check(rate_anchor, dist_anchor, rate_test, dist_test):
    arrays = [np.asarray(x, float) for x in (rate_anchor, dist_anchor, rate_test, dist_test)]
    if len(arrays[0]) != len(arrays[1]) or len(arrays[2]) != len(arrays[3]):
        raise ValueError("each curve needs as many rates as distortions")
    if len(arrays[0]) < 2 or len(arrays[2]) < 2:
        raise ValueError("BD-rate needs at least two points per curve")
    if (arrays[0] <= 0).any() or (arrays[2] <= 0).any():
        raise ValueError("rates must be positive")
    if not np.isfinite(np.concatenate(arrays)).all():
        raise ValueError("rates and distortions must be finite")
    ra, da, rt, dt = arrays
    ia, it = np.argsort(da), np.argsort(dt)  # interpolators want increasing PSNR
    if len(np.unique(da)) != len(da) or len(np.unique(dt)) != len(dt):
        raise ValueError("two points of a curve have the same PSNR")
    return ra[ia], da[ia], rt[it], dt[it]


def _cubic_m33(ra, da, rt, dt) -> float:
    if len(ra) < 4 or len(rt) < 4:
        raise ValueError("the cubic (VCEG-M33) method needs four points per curve")
    pa = np.polyfit(da, np.log10(ra), 3)
    pt = np.polyfit(dt, np.log10(rt), 3)
    lo, hi = max(da.min(), dt.min()), min(da.max(), dt.max())
    if hi <= lo:
        raise ValueError("the PSNR ranges of the two curves do not overlap")
    ia, it = np.polyint(pa), np.polyint(pt)
    avg = ((np.polyval(it, hi) - np.polyval(it, lo)) - (np.polyval(ia, hi) - np.polyval(ia, lo))) / (hi - lo)
    return (10**avg - 1) * 100


def bd_rate(rate_anchor, dist_anchor, rate_test, dist_test, method: str = "pchip") -> float:
    ra, da, rt, dt = _check(rate_anchor, dist_anchor, rate_test, dist_test)
    if method == "cubic":
        return float(_cubic_m33(ra, da, rt, dt))
    if method != "pchip":
        raise ValueError(f"unknown BD-rate method {method!r}; choose {' or '.join(METHODS)}")
    if overlap(da, dt) <= 0:
        raise ValueError("the PSNR ranges of the two curves do not overlap")
    import bjontegaard

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # we report overlap ourselves
        return float(bjontegaard.bd_rate(ra, da, rt, dt, method="pchip", require_matching_points=False,
                                         min_overlap=0))
