"""RTN (Kim et al., NeurIPS'18) for corrbench: recurrent local affine fields, weakly supervised."""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
