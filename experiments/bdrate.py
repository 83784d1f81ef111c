"""Bjontegaard deltas: BD-rate and BD-PSNR.

* ``pchip`` (default): piecewise cubic Hermite interpolation, as in the JCT-VC / JVET CTC
  spreadsheets (computed by the ``bjontegaard`` package, which matches the JVET sheet to
  10 decimals).
* ``cubic``: VCEG-M33's original method: a third-order polynomial fitted to log-rate as a
  function of PSNR (BD-rate), or PSNR as a function of log-rate (BD-PSNR), integrated over
  the overlapping interval.
* ``akima``: Akima interpolation (the ``bjontegaard`` package's), which some tools report.

BD-rate: the average rate difference of test vs anchor at equal quality, in percent
(negative = the test needs fewer bits). BD-PSNR: the average PSNR difference at equal
rate, in dB (positive = the test is better).

The sheet's formula assumes monotone curves: a curve whose PSNR does not increase with
its rate (``monotone``) makes the methods disagree wildly; the report flags such curves
and keeps them out of class means.
"""
from __future__ import annotations

import warnings

import numpy as np

METHODS = ("pchip", "cubic", "akima")
#: below this relative overlap (of the PSNR ranges for BD-rate) a result is flagged unreliable
MIN_OVERLAP = 0.75


def overlap(a, b) -> float:
    """Overlap of two value ranges as a fraction of the smaller range."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    lo, hi = max(a.min(), b.min()), min(a.max(), b.max())
    smaller = min(a.max() - a.min(), b.max() - b.min())
    return 0.0 if smaller <= 0 else max(0.0, hi - lo) / smaller


def monotone(rates, dists) -> bool:
    """True when, sorted by rate, the distortion metric (PSNR) strictly increases."""
    r, d = np.asarray(rates, float), np.asarray(dists, float)
    order = np.argsort(r)
    return bool(np.all(np.diff(r[order]) > 0) and np.all(np.diff(d[order]) > 0))


def _check(rate_anchor, dist_anchor, rate_test, dist_test):
    arrays = [np.asarray(x, float) for x in (rate_anchor, dist_anchor, rate_test, dist_test)]
    if len(arrays[0]) != len(arrays[1]) or len(arrays[2]) != len(arrays[3]):
        raise ValueError("each curve needs as many rates as distortions")
    if len(arrays[0]) < 2 or len(arrays[2]) < 2:
        raise ValueError("BD needs at least two points per curve")
    if (arrays[0] <= 0).any() or (arrays[2] <= 0).any():
        raise ValueError("rates must be positive")
    if not np.isfinite(np.concatenate(arrays)).all():
        raise ValueError("rates and distortions must be finite")
    ra, da, rt, dt = arrays
    if len(np.unique(da)) != len(da) or len(np.unique(dt)) != len(dt):
        raise ValueError("two points of a curve have the same PSNR")
    ia, it = np.argsort(da), np.argsort(dt)  # interpolators want increasing PSNR
    return ra[ia], da[ia], rt[it], dt[it]


def _m33(xa, ya, xt, yt) -> float:
    """VCEG-M33: mean of (test - anchor) of cubic fits y(x) over the x overlap."""
    if len(xa) < 4 or len(xt) < 4:
        raise ValueError("the cubic (VCEG-M33) method needs four points per curve")
    lo, hi = max(xa.min(), xt.min()), min(xa.max(), xt.max())
    if hi <= lo:
        raise ValueError("the two curves do not overlap")
    ia, it = np.polyint(np.polyfit(xa, ya, 3)), np.polyint(np.polyfit(xt, yt, 3))
    return ((np.polyval(it, hi) - np.polyval(it, lo)) - (np.polyval(ia, hi) - np.polyval(ia, lo))) / (hi - lo)


def _package(fn, ra, da, rt, dt, method: str) -> float:
    import bjontegaard

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # we report overlap ourselves
        return float(fn(ra, da, rt, dt, method=method, require_matching_points=False, min_overlap=0))


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown BD method {method!r}; choose one of {', '.join(METHODS)}")


def bd_rate(rate_anchor, dist_anchor, rate_test, dist_test, method: str = "pchip") -> float:
    _check_method(method)
    ra, da, rt, dt = _check(rate_anchor, dist_anchor, rate_test, dist_test)
    if method == "cubic":
        return float((10 ** _m33(da, np.log10(ra), dt, np.log10(rt)) - 1) * 100)
    if overlap(da, dt) <= 0:
        raise ValueError("the PSNR ranges of the two curves do not overlap")
    import bjontegaard

    return _package(bjontegaard.bd_rate, ra, da, rt, dt, method)


def bd_psnr(rate_anchor, dist_anchor, rate_test, dist_test, method: str = "pchip") -> float:
    _check_method(method)
    ra, da, rt, dt = _check(rate_anchor, dist_anchor, rate_test, dist_test)
    if method == "cubic":
        ia, it = np.argsort(ra), np.argsort(rt)
        return float(_m33(np.log10(ra[ia]), da[ia], np.log10(rt[it]), dt[it]))
    if overlap(np.log10(ra), np.log10(rt)) <= 0:
        raise ValueError("the rate ranges of the two curves do not overlap")
    import bjontegaard

    return _package(bjontegaard.bd_psnr, ra, da, rt, dt, method)
