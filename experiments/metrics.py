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


def ssim_y(reference: hb.Video, test: hb.Video) -> float:
    """Mean over frames of the luma SSIM (Gaussian window 11, sigma 1.5, as Wang et al.)."""
    import torch
    from pytorch_msssim import ssim

    with torch.no_grad():
        a = torch.from_numpy(reference.y).float()[:, None]
        b = torch.from_numpy(test.y).float()[:, None]
        if min(a.shape[-2:]) < 11:
            return float("nan")  # too small for an 11x11 window
        values = [float(ssim(a[i:i + 1], b[i:i + 1], data_range=255, size_average=True)) for i in range(len(a))]
    return float(np.mean(values))
