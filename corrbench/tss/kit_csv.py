"""``scores.csv`` exactly as the kit's C++ tool writes it (``%lf`` = 6 decimals, ``\\n`` lines).

Columns ``Row,Src,Ref,SegIUR,Flip,T1..T50``; two rows per pair, then ``Average`` and
``w/o flip``.  Rows are named ``<pair>_1to2`` and ``<pair>_2to1`` as the MATLAB tool does; the
C++ tool labels both rows ``_1to2`` (a known slip), reproduced with ``cpp_row_names=True``.
"""

from __future__ import annotations

import math
import os
from typing import Sequence

from corrbench.tss.kit import THRESHOLDS, KitRow, summary_rows

HEADER = "Row,Src,Ref,SegIUR,Flip," + ",".join(f"T{t}" for t in THRESHOLDS)


def _number(value: float) -> str:
    if math.isnan(value):
        return "nan"
    return f"{value:f}"


def format_row(row: KitRow, cpp_row_names: bool = False) -> str:
    name = row.name
    if cpp_row_names and name.endswith("_2to1"):
        name = name[: -len("_2to1")] + "_1to2"
    cells = [name, row.src, row.ref, _number(row.seg_iou), str(int(row.flip))]
    cells += [_number(float(a)) for a in row.acc]
    return ",".join(cells)


def format_scores_csv(rows: Sequence[KitRow], cpp_row_names: bool = False) -> str:
    """The whole file for one subset: header, pair rows in the given order, the two summaries."""
    lines = [HEADER] + [format_row(r, cpp_row_names) for r in rows]
    if rows:
        lines += [format_row(r) for r in summary_rows(rows)]
    return "\n".join(lines) + "\n"


def write_scores_csv(path: str | os.PathLike[str], rows: Sequence[KitRow], cpp_row_names: bool = False) -> None:
    from corrbench.io import atomic_write

    with atomic_write(path, "w", encoding="utf-8") as handle:
        handle.write(format_scores_csv(rows, cpp_row_names))
