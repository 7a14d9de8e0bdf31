"""The core's kernel_softargmax readout gives SFNet's own matches on SFNet's correlation."""

from __future__ import annotations

import torch

from corrbench.matching.readouts import Readout
from corrbench_sfnet.method import SFNetMethod
from sfnet_fakes import TINY, masked_pair


def test_kernel_readout_equals_sfnet_matching_on_the_same_correlation():
    method = SFNetMethod(**TINY)
    pair = masked_pair()
    src, trg = (e[None] for e in method._embeddings([pair.src_image, pair.trg_image]))
    with torch.no_grad():
        matches = method.module.match(src, trg)
        corr_s2t, corr_t2s = method.module.correlations(src, trg)
    h, w = src.shape[-2:]
    readout = Readout("kernel_softargmax", temperature=1 / method.config.beta, sigma=method.config.kernel_sigma)
    to_cells = torch.tensor([(w - 1) / 2, (h - 1) / 2])
    for corr, grid in ((corr_s2t, matches.grid_s2t), (corr_t2s, matches.grid_t2s)):
        cells = readout.cells(corr[0], (h, w))
        torch.testing.assert_close(cells, (grid[0].reshape(-1, 2) + 1) * to_cells, atol=1e-5, rtol=1e-5)
        assert (cells - Readout("nn").cells(corr[0], (h, w))).abs().max() > 1e-3  # really soft, not the argmax
