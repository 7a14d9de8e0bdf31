"""SFNet (Lee, Kim, Sohn, Ham; CVPR 2019) as a corrbench method plugin.

Import :class:`corrbench_sfnet.method.SFNetMethod` (entry point ``sfnet``); the submodules are
the model (:mod:`.model`), the losses (:mod:`.losses`), the training-pair synthesis
(:mod:`.synthesis`) and the official-checkpoint mapping (:mod:`.checkpoint`).
"""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "1.0.0"
