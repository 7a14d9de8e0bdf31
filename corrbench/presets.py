"""Built-in protocol presets.  Dataset-specific presets cite the code they reproduce."""

from __future__ import annotations

from corrbench.protocols import Protocol, register_protocol

SYNTHETIC = register_protocol(
    Protocol(
        name="synthetic",
        description=(
            "Embedded benchmark: original resolution, target->source transfer, "
            "L = max side of the SOURCE object box, error <= alpha*L."
        ),
        direction="trg_to_src",
        threshold="bbox",
        threshold_side="source",
        alphas=(0.01, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2),
        datasets=("synthetic",),
    )
)
