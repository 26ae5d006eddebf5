"""Charts for QBRs: a health-trend PNG rendered headless (matplotlib's Agg backend)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

import matplotlib.dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

BAND_COLOURS = {"GREEN": "#2e7d32", "AMBER": "#f9a825", "RED": "#c62828"}


class ScorePoint(Protocol):
    """A dated health score (``tools.history.HistoryPoint`` and ``tools.qbr.HealthPoint`` fit)."""

    @property
    def day(self) -> date: ...

    @property
    def score(self) -> float: ...


def health_trend_png(
    history: Sequence[ScorePoint],
    *,
    title: str = "Health score",
    green: float = 70.0,
    amber: float = 45.0,
    width: float = 8.0,
    height: float = 3.6,
) -> bytes:
    """A PNG of the score over time, with GREEN/AMBER/RED bands shaded behind the line."""
    points = sorted(history, key=lambda p: p.day)
    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)  # headless: no pyplot, no global backend
    ax = fig.add_subplot()
    for low, high, band in ((0, amber, "RED"), (amber, green, "AMBER"), (green, 100, "GREEN")):
        ax.axhspan(low, high, color=BAND_COLOURS[band], alpha=0.12, linewidth=0)
        ax.text(
            1.01,
            (low + high) / 2,
            band,
            transform=ax.get_yaxis_transform(),
            va="center",
            ha="left",
            fontsize=8,
            color=BAND_COLOURS[band],
            fontweight="bold",
        )
    if points:
        days: list[Any] = [p.day for p in points]  # matplotlib converts dates itself
        scores = [p.score for p in points]
        ax.plot(days, scores, color="#263238", linewidth=2, marker="o", markersize=4)
        last = points[-1]
        ax.annotate(
            f"{last.score:.0f}",
            (last.day, last.score),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=9,
            fontweight="bold",
        )
        if len(points) == 1:
            ax.set_xlim(days[0].toordinal() - 15, days[0].toordinal() + 15)
    else:
        ax.text(0.5, 0.5, "No score history yet", transform=ax.transAxes, ha="center")
    ax.set_ylim(0, 100)
    ax.set_ylabel("Score (0-100)")
    ax.set_title(title, fontsize=11, loc="left")
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=8))  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%-d %b %Y"))  # type: ignore[no-untyped-call]
    ax.grid(axis="y", alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.autofmt_xdate(rotation=30)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
