"""Plain-text tables and sizes, for the summary, ``plan``, ``history`` and ``show``."""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text


def human_size(size: int) -> str:
    """Bytes as a short decimal size (``412 MB``), as container tools show them."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "kB", "MB") else f"{value:.2f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover


def columns(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as lines of left-aligned columns two spaces apart (the first row is the header),
    laid out by rich with no borders, colours or wrapping."""
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), show_edge=False)
    for header in rows[0]:
        table.add_column(Text(header), no_wrap=True, overflow="ignore")
    for row in rows[1:]:
        table.add_row(*(Text(cell) for cell in row))
    out = io.StringIO()
    Console(file=out, width=100_000, color_system=None, highlight=False).print(table)
    return [line.rstrip() for line in out.getvalue().splitlines()]
