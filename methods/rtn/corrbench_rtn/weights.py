"""RTN's released weights (seungryong/RTNs README): MatConvNet ``net-epoch.mat`` files on Google Drive.

``rtn:pfpascal`` is the model the official test script loads (``data/RTNs/net-epoch.mat``);
``rtn:synthetic`` the stage-1 model (``data/RTNs_synthetic/net-epoch.mat``) that the second
training stage starts from.  Both are single Drive files (the confirm page is followed); no
checksum is published.
"""

from __future__ import annotations

from corrbench.weights.entry import WeightsEntry, WeightsFile

README = "https://github.com/seungryong/RTNs (README.md, 'Pretrained models')"
LICENCE = "academic use only (README); no LICENSE file"

WEIGHTS: tuple[WeightsEntry, ...] = (
    WeightsEntry(
        tag="rtn:pfpascal", method="rtn",
        files=(WeightsFile("net-epoch.mat", urls=("https://drive.google.com/open?id=1MgINF4Q9ZAM3SLdcEOM7i8eflYjs9yM9",)),),
        licence=LICENCE, source=README, trained_on="PF-PASCAL train split (weak supervision), from rtn:synthetic",
        preset="paper", dataset="pfpascal",
        notes="the official test script (PF-PASCAL set 3) loads it as data/RTNs/net-epoch.mat; the release has no "
              "PCK code, so no corrbench protocol is the paper's"),
    WeightsEntry(
        tag="rtn:synthetic", method="rtn",
        files=(WeightsFile("net-epoch.mat", urls=("https://drive.google.com/open?id=14lXC1qu1HRT8X-ma5DfDqOv-7NyAgWRB",)),),
        licence=LICENCE, source=README, trained_on="synthetic affine warps (stage 1)", preset="paper",
        notes="initialisation of the second training stage (data/RTNs_synthetic/net-epoch.mat)"),
)
