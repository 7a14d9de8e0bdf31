"""NeMF's released weights (KU-CVLAB/NeMF README): a Google Drive *folder* with one sub-folder per benchmark.

Each holds ``model_best.pth`` (the whole network, backbone included) and ``args.pkl`` (its
architecture).  Drive folders cannot be fetched without a browser, so these are manual
downloads into the cache folder corrbench names (or served by ``CORRBENCH_MIRROR``).  The folder
link was replaced on 2023-06-12 after the first one went 404 (cvlab-kaist/NeMF issue #3).
PF-WILLOW is evaluated with the PF-PASCAL model, as the official ``test.py --benchmark pfwillow``.
"""

from __future__ import annotations

from corrbench.weights.entry import WeightsEntry, WeightsFile

FOLDER = "https://drive.google.com/drive/folders/11kP1z0AmAl-Cb_MTLG7ViC3EHVoPZgHd"
README = "https://github.com/KU-CVLAB/NeMF (README.md, 'Pretrained weights')"
LICENCE = "none stated (no LICENSE file in KU-CVLAB/NeMF)"


def _release(benchmark: str, folder: str, trained_on: str) -> WeightsEntry:
    manual = f"open {FOLDER} in a browser, download {folder}/{{name}}"
    return WeightsEntry(
        tag=f"nemf:{benchmark}", method="nemf",
        files=(WeightsFile("model_best.pth", urls=(FOLDER,), manual=manual.format(name="model_best.pth")),
               WeightsFile("args.pkl", urls=(FOLDER,), manual=manual.format(name="args.pkl"))),
        licence=LICENCE, source=README, trained_on=trained_on, preset="paper", protocol="nemf", dataset=benchmark,
        notes=f"Drive folder {folder}/; run as the official test.py --pretrained ./{folder} "
              "--pretrained_file_name model_best.pth")


WEIGHTS: tuple[WeightsEntry, ...] = (
    _release("pfpascal", "PF-PASCAL-NEMF", "PF-PASCAL train split (ground-truth keypoints)"),
    _release("spair", "SPAIR-NEMF", "SPair-71k trn split (ground-truth keypoints)"),
)
