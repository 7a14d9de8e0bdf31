"""``python -m corrbench`` (also what ``torchrun -m corrbench`` runs)."""

from __future__ import annotations

import sys

from corrbench.cli.main import main

sys.exit(main())
