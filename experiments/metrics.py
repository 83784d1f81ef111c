"""Quality metrics beyond HM's PSNR (which hm_bridge.video computes): SSIM and CS-PSNR."""
from __future__ import annotations

import numpy as np

import hm_bridge as hb

#: CS-PSNR (Shang et al., "A new combined PSNR for objective video quality assessment",
#: ICME 2017): a fixed weighting of the Y, Cb, Cr PSNRs fitted to subjective tests.
#: The weights are quoted from the paper as we recall them; they could not be checked
#: against the paper from this workplace, so treat CS-PSNR as provisional.
CS_PSNR_WEIGHTS = (0.695, 0.130, 0.175)


def cs_psnr(psnr: hb.PsnrReport) -> float:
    wy, wu, wv = CS_PSNR_WEIGHTS
    return wy * psnr.y + wu * psnr.u + wv * psnr.v


def ssim_plane(reference: np.ndarray, test: np.ndarray, bit_depth: int = 8) -> float:
    """SSIM of one plane of ``bit_depth`` (Gaussian window 11, sigma 1.5, as Wang et al.;
    the dynamic range 2^depth - 1, as HM's SSIM); NaN for a plane too small for the window."""
    import torch
    from pytorch_msssim import ssim

    if min(reference.shape) < 11:
        return float("nan")
    t = lambda x: torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, None]
    with torch.no_grad():
        return float(ssim(t(reference), t(test), data_range=(1 << bit_depth) - 1, size_average=True))
