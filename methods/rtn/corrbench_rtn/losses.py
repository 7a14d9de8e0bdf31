"""RTN's training losses.

* :func:`weak_matching_loss` is the paper's weak supervision (spec §3.3): per pixel, softmax over
  the candidates of the last (un-normalised) correlation volume with the zero-offset candidate as
  the positive, i.e. "after the final warp, the other image's feature should match here".
  No keypoints, flow or masks are needed; an optional region (the paper uses the query bbox)
  restricts which pixels count.
* :func:`flow_l1_loss` is the synthetic stage (spec §3.2): masked L1 between the predicted and the
  known flow of a random warp of a single image.

Both are summed over pixels and averaged over the batch, as MatConvNet's solver does (``g / B``).
"""

from __future__ import annotations

import torch

from corrbench_rtn.fields import translation


def weak_matching_loss(correlation: torch.Tensor, region: torch.Tensor | None = None) -> torch.Tensor:
    """``-log softmax_k(C)[centre]`` summed over (region) pixels, averaged over the batch."""
    centre = correlation.shape[1] // 2
    nll = -torch.log_softmax(correlation, dim=1)[:, centre]
    if region is not None:
        nll = nll * region.to(nll.dtype)
    return nll.sum() / correlation.shape[0]


def candidate_accuracy(correlation: torch.Tensor) -> float:
    """Fraction of pixels whose best candidate is the centre one (a training log)."""
    centre = correlation.shape[1] // 2
    return float((correlation.argmax(dim=1) == centre).float().mean())


def flow_l1_loss(field: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Masked L1 between the field's translation (B, 2, H, W) and ``target`` (B, 2, H, W)."""
    error = (translation(field) - target).abs() * valid.unsqueeze(1).to(field.dtype)
    return error.sum() / field.shape[0]
