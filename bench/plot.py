"""Render every benchmark result in ``bench/results/*.json`` as ``docs/bench/<name>.png``.

    .venv/bin/python -m bench.plot [--results bench/results] [--out docs/bench] [NAME ...]

A result is one JSON document (benchmarks write them with ``--json``)::

    {"name": "traffic-starlette", "title": "...", "command": "python -m bench.traffic ...",
     "machine": "2 cores, Python 3.11, 2026-12-08",
     "kind": "bars" | "curve",
     "unit": "µs per request",
     "bars": {"audmw": 12.3, "pyjwt": 40.1},                     # kind == "bars"
     "also": {"unit": "requests/s", "bars": {...}},               # optional second panel
     "x_label": "rules", "series": {"audmw": [[10, 1.2], ...]},   # kind == "curve"
     "notes": ["free text lines"]}

Bars: the variants side by side, audmw highlighted, the value written on each bar; a second
panel beside the first when ``also`` is present. Curves: each series against x, on a
logarithmic x axis when x spans more than a factor of 20. The command, machine and notes go
under the figure, so a plot says how to reproduce it.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HIGHLIGHT, OTHERS = "#1f6feb", "#9aa4ae"
MAX_FOOTER_LINES = 12


def _bars(axis: Any, bars: dict[str, float], unit: str) -> None:
    names = list(bars)
    values = [float(bars[name]) for name in names]
    colours = [HIGHLIGHT if name.startswith("audmw") else OTHERS for name in names]
    positions = range(len(names))
    axis.barh(positions, values, color=colours)
    axis.set_yticks(list(positions), names)
    axis.invert_yaxis()
    axis.set_xlabel(unit)
    top = max([*values, 0.0]) or 1.0
    for position, value in zip(positions, values, strict=True):
        label = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
        axis.text(value + top * 0.01, position, label, va="center", fontsize=8)
    axis.set_xlim(min([*values, 0.0]) * 1.1, top * 1.15)
    axis.spines[["top", "right"]].set_visible(False)


def _curves(axis: Any, document: dict[str, Any]) -> None:
    xs: list[float] = []
    for name, points in document["series"].items():
        x = [float(point[0]) for point in points]
        y = [float(point[1]) for point in points]
        xs += x
        axis.plot(x, y, marker="o", label=name, linewidth=2.5 if name.startswith("audmw") else 1.5)
    if xs and min(xs) > 0 and max(xs) / min(xs) > 20:
        axis.set_xscale("log")
    axis.set_xlabel(document.get("x_label", ""))
    axis.set_ylabel(document["unit"])
    axis.set_ylim(bottom=0)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="best", framealpha=0.8)
    axis.spines[["top", "right"]].set_visible(False)


def render(document: dict[str, Any], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kind = document["kind"]
    also = document.get("also") if kind == "bars" else None
    rows = len(document.get("bars", {})) if kind == "bars" else 6
    width = 11.0 if also else 7.5
    footer = [f"$ {document['command']}", document.get("machine", ""), *document.get("notes", [])]
    wrapped = [
        part
        for line in footer
        if line
        for part in textwrap.wrap(line, int(width * 15), subsequent_indent="  ")
    ]
    if len(wrapped) > MAX_FOOTER_LINES:  # the rest is in the JSON
        wrapped = [*wrapped[: MAX_FOOTER_LINES - 1], "  (more notes in the JSON)"]
    footer_inches = 0.15 + 0.125 * len(wrapped)
    plot_inches = 1.2 + 0.42 * max(rows, 4)
    figure, axes = plt.subplots(
        1, 2 if also else 1, figsize=(width, plot_inches + footer_inches), squeeze=False
    )
    if kind == "bars":
        _bars(axes[0][0], document["bars"], document["unit"])
        if also:
            _bars(axes[0][1], also["bars"], also["unit"])
    elif kind == "curve":
        _curves(axes[0][0], document)
    else:
        raise ValueError(f"{document['name']}: unknown kind {kind!r}")
    figure.suptitle(document.get("title", document["name"]), fontsize=11)
    figure.text(
        0.01, 0.01, "\n".join(wrapped), fontsize=7, va="bottom", family="monospace", color="#444"
    )
    figure.tight_layout(rect=(0, footer_inches / (plot_inches + footer_inches), 1, 1))
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{document['name']}.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only these results (default: all)")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench")
    args = parser.parse_args(argv)
    for source in sorted(args.results.glob("*.json")):
        document = json.loads(source.read_text())
        if args.names and document["name"] not in args.names:
            continue
        print(render(document, args.out))


if __name__ == "__main__":
    main()
