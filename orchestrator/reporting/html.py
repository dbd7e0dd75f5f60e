"""``orchestrate report RUN -o report.html``: one self-contained HTML page about a run.

The page needs nothing from the network: styles are inline and the pictures are inline SVG,
drawn here. It shows the DAG (nodes coloured by status, left to right by depth), a timeline of
the nodes over wall time with the critical path marked and each node's steps as coloured
segments (waiting, packages, install, commit, checks, push), and below it how many nodes ran at
each moment against the parallel limit (idle workers are the gap), then a table with status,
reason, tries, duration, image and size, and a link to each node's log; for a run with a
gate, each check with its state, why it failed, and links to its output and to the log of
every service it ran (the blamed ones' last lines shown).
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Sequence
from pathlib import Path

import networkx as nx

from orchestrator.files import write_atomically
from orchestrator.model.results import CheckResult, CheckState
from orchestrator.model.states import Status
from orchestrator.records.history import NodeRecord, RunRecord
from orchestrator.reporting.tables import human_size

COLOURS = {
    Status.BUILT: "#2e7d32",
    Status.REUSED: "#81c784",
    Status.FAILED: "#c62828",
    Status.SKIPPED: "#f9a825",
    Status.CANCELLED: "#9e9e9e",
    "not finished": "#cfd8dc",
}
# A node's steps, drawn as segments under its bar, by what they spend time on.
STEP_COLOURS = {
    "waiting": "#b0bec5",
    "packages": "#6a1b9a",
    "install": "#1565c0",
    "commit": "#ef6c00",
    "checks": "#00838f",
    "push": "#4e342e",
    "other": "#757575",
}
_STEP_KINDS = (
    ("waiting", ("waiting",)),
    ("packages", ("bootstrap", "install-packages", "build-packages", "bindep", "apt-lists")),
    (
        "install",
        (
            "install-",
            "build-wheels",
            "fetch-wheels",
            "setup-venv",
            "project-",
            "pip",
            "keep-project",
        ),
    ),
    # settle-run: a step of runs recorded before 2026-12-07 (the sbom step does its work now).
    ("commit", ("commit", "config", "sbom", "copy-sbom", "settle-run", "tag", "untag")),
    ("checks", ("smoke", "check", "acceptance", "verify")),
    ("push", ("push", "pull", "sign")),
)


def step_kind(name: str) -> str:
    """What a step spends its time on, for the timeline's colours."""
    for kind, prefixes in _STEP_KINDS:
        if name.startswith(prefixes):
            return kind
    return "other"


ROW = 26
LABEL_W = 130
CHART_W = 760


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _seconds(value: float) -> str:
    return f"{value:.1f}s"


def critical_path(record: RunRecord, nodes: dict[str, NodeRecord]) -> list[str]:
    """The chain of nodes that decided the run's end: from the last node to finish, back
    through the parent that finished last before it started."""
    timed = {n: r for n, r in nodes.items() if r.finished is not None}
    if not timed:
        return []
    parents: dict[str, list[str]] = {}
    for parent, child in record.edges:
        parents.setdefault(child, []).append(parent)
    node = max(timed, key=lambda n: timed[n].finished or 0.0)
    path = [node]
    while True:
        gating = [p for p in parents.get(node, []) if p in timed]
        if not gating:
            break
        node = max(gating, key=lambda n: timed[n].finished or 0.0)
        path.append(node)
    return list(reversed(path))


def _dag_svg(record: RunRecord, nodes: dict[str, NodeRecord], critical: set[str]) -> str:
    graph = nx.DiGraph()
    graph.add_nodes_from(record.nodes)
    graph.add_edges_from(record.edges)
    layers = [sorted(layer) for layer in nx.topological_generations(graph)]
    box_w, box_h, gap_x, gap_y = 150, 40, 70, 14
    height = max((len(layer) for layer in layers), default=1) * (box_h + gap_y) + gap_y
    width = len(layers) * (box_w + gap_x) + gap_x
    where: dict[str, tuple[float, float]] = {}
    for i, layer in enumerate(layers):
        top = (height - len(layer) * (box_h + gap_y) + gap_y) / 2
        for j, node in enumerate(layer):
            where[node] = (gap_x + i * (box_w + gap_x), top + j * (box_h + gap_y))
    parts = [f'<svg class="dag" width="{width}" height="{height}" role="img" aria-label="DAG">']
    for parent, child in record.edges:
        (x1, y1), (x2, y2) = where[parent], where[child]
        x1, y1, y2 = x1 + box_w, y1 + box_h / 2, y2 + box_h / 2
        mid = (x1 + x2) / 2
        parts.append(
            f'<path class="edge" d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" '
            f'data-from="{_esc(parent)}" data-to="{_esc(child)}"/>'
        )
    for node, (x, y) in where.items():
        r = nodes.get(node)
        status = r.status if r else "not finished"
        took = _seconds(r.duration) if r and r.attempts else "-"
        cls = "node critical" if node in critical else "node"
        parts.append(
            f'<g class="{cls}" data-node="{_esc(node)}" data-status="{_esc(status)}">'
            f"<title>{_esc(node)}: {_esc(status)} {took}</title>"
            f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" '
            f'fill="{COLOURS.get(status, "#cfd8dc")}"/>'
            f'<text x="{x + 8}" y="{y + 17}" class="name">{_esc(node)}</text>'
            f'<text x="{x + 8}" y="{y + 32}" class="sub">{_esc(status)} · {took}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _ticks(span: float) -> list[float]:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if span / step <= 12:
            return [i * step for i in range(int(span // step) + 1)]
    return [0.0, span]


def _timeline_svg(
    record: RunRecord, nodes: dict[str, NodeRecord], critical: set[str], parallel: int | None
) -> str:
    start = record.started
    end = max(
        [record.finished or start, *(r.finished or start for r in nodes.values())], default=start
    )
    span = max(end - start, 1.0)
    scale = CHART_W / span
    order = [n for n in record.nodes if n in nodes] + [n for n in nodes if n not in record.nodes]
    rows = len(order)
    lane_h = 70
    height = rows * ROW + 30 + lane_h + 20
    width = LABEL_W + CHART_W + 20
    parts = [
        f'<svg class="timeline" width="{width}" height="{height}" role="img" aria-label="Timeline">'
    ]
    for tick in _ticks(span):
        x = LABEL_W + tick * scale
        parts.append(
            f'<line class="tick" x1="{x}" y1="0" x2="{x}" y2="{rows * ROW}"/>'
            f'<text class="axis" x="{x}" y="{rows * ROW + 14}">{int(tick)}s</text>'
        )
    for i, node in enumerate(order):
        r = nodes[node]
        y = i * ROW
        parts.append(f'<text class="label" x="4" y="{y + 17}">{_esc(node)}</text>')
        if r.started is None or r.finished is None:
            continue
        x = LABEL_W + (r.started - start) * scale
        w = max((r.finished - r.started) * scale, 2.0)
        cls = "bar critical" if node in critical else "bar"
        parts.append(
            f'<g class="{cls}" data-node="{_esc(node)}"><title>{_esc(node)}: {_esc(r.status)} '
            f"{_seconds(r.started - start)} to {_seconds(r.finished - start)} "
            f"({_seconds(r.finished - r.started)})</title>"
            f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{ROW - 8}" rx="3" '
            f'fill="{COLOURS.get(r.status, "#cfd8dc")}"/></g>'
        )
        for name, begun, ended in r.steps:
            kind = step_kind(name)
            sx, sw = LABEL_W + (begun - start) * scale, max((ended - begun) * scale, 1.0)
            parts.append(
                f'<rect class="step {kind}" data-step="{_esc(name)}" x="{sx:.1f}" '
                f'y="{y + ROW - 9}" width="{sw:.1f}" height="5" fill="{STEP_COLOURS[kind]}">'
                f"<title>{_esc(node)}: {_esc(name)} {_seconds(ended - begun)}</title></rect>"
            )
    # Concurrency: how many nodes ran at each moment (a step curve), against the limit.
    top = rows * ROW + 30
    events = sorted(
        [(r.started, 1) for r in nodes.values() if r.started and r.finished]
        + [(r.finished, -1) for r in nodes.values() if r.started and r.finished]
    )
    running, most = 0, 0
    for _, delta in events:
        running += delta
        most = max(most, running)
    peak = max(parallel or 0, most, 1)
    running, points = 0, [f"{LABEL_W},{top + lane_h}"]
    for when, delta in events:
        x = LABEL_W + (when - start) * scale
        points.append(f"{x:.1f},{top + lane_h - running / peak * lane_h:.1f}")
        running += delta
        points.append(f"{x:.1f},{top + lane_h - running / peak * lane_h:.1f}")
    parts.append(
        f'<text class="label" x="4" y="{top + 14}">running</text>'
        f'<rect class="lane" x="{LABEL_W}" y="{top}" width="{CHART_W}" height="{lane_h}"/>'
        f'<polyline class="busy" points="{" ".join(points)}"/>'
        f'<text class="axis" x="{LABEL_W + 4}" y="{top + 12}">'
        f"{'limit' if parallel else 'peak'} {peak}, most at once {most}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _legend() -> str:
    return " ".join(
        f'<span class="dot" style="background:{colour}"></span>{kind}'
        for kind, colour in STEP_COLOURS.items()
    )


def _link(path: Path, out_dir: Path, text: str = "") -> str:
    """A link to ``path`` from the page in ``out_dir`` (relative when it can be)."""
    href = os.path.relpath(path, out_dir) if path.is_absolute() else str(path)
    return f'<a href="{_esc(href)}">{_esc(text or path.name)}</a>'


def _table(nodes: Sequence[NodeRecord], missing: Sequence[str], out_dir: Path) -> str:
    rows = []
    for r in nodes:
        link = _link(Path(r.log_path), out_dir) if r.log_path else "-"
        rows.append(
            f'<tr data-node="{_esc(r.node)}"><td>{_esc(r.node)}</td>'
            f'<td><span class="dot" style="background:{COLOURS.get(r.status, "#ccc")}"></span>'
            f"{_esc(r.status)}</td><td>{_esc(r.reason or r.error)}</td>"
            f"<td>{r.attempts or '-'}</td><td>{_seconds(r.duration) if r.attempts else '-'}</td>"
            f"<td><code>{_esc(r.image_id[:12] or '-')}</code></td>"
            f"<td>{human_size(r.size) if r.size else '-'}</td><td>{link}</td></tr>"
        )
    for node in missing:
        rows.append(
            f'<tr data-node="{_esc(node)}"><td>{_esc(node)}</td><td>not finished</td>'
            "<td></td><td>-</td><td>-</td><td>-</td><td>-</td><td>-</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Node", "Status", "Why", "Tries", "Time", "Image ID", "Size", "Log")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


CHECK_COLOURS = {
    CheckState.PASSED: COLOURS[Status.BUILT],
    CheckState.FAILED: COLOURS[Status.FAILED],
    CheckState.TIMED_OUT: COLOURS[Status.FAILED],
    CheckState.INTERRUPTED: COLOURS[Status.CANCELLED],
    CheckState.NOT_RUN: COLOURS[Status.CANCELLED],
}


def _gate(checks: Sequence[CheckResult], out_dir: Path) -> str:
    """The gate's section: a row per check, then each check's service logs."""
    if not checks:
        return ""
    rows = []
    for c in checks:
        log = _link(Path(c.log), out_dir) if c.log else "-"
        services = sorted(Path(c.logs_dir).glob("*.log")) if c.logs_dir else []
        links = ", ".join(_link(p, out_dir, p.stem) for p in services) or "-"
        rows.append(
            f'<tr data-check="{_esc(c.name)}"><td>{_esc(c.name)}</td>'
            f'<td><span class="dot" style="background:{CHECK_COLOURS[c.state]}"></span>'
            f"{_esc(c.state.value)}</td><td>{_esc(c.why)}</td>"
            f"<td>{_seconds(c.seconds) if c.seconds else '-'}</td><td>{log}</td>"
            f"<td>{links}</td></tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in ("Check", "State", "Why", "Time", "Log", "Services"))
    blamed = "".join(
        f'<p class="meta">{_esc(c.name)}: last lines of {_link(Path(log), out_dir)}</p>'
        f"<pre>{_esc(last)}</pre>"
        for c in checks
        for log, last in c.services
    )
    return (
        "<h2>Gate</h2>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{blamed}"
    )


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#212121;background:#fff}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px}
.meta{color:#555} .meta b{color:#212121}
svg text{font:12px system-ui,sans-serif} .name{fill:#fff;font-weight:600} .sub{fill:#fff}
.edge{fill:none;stroke:#90a4ae;stroke-width:1.5} .critical rect{stroke:#311b92;stroke-width:3}
.tick{stroke:#eceff1} .axis{fill:#757575} .label{fill:#212121}
.lane{fill:#f5f5f5} .busy{fill:none;stroke:#1565c0;stroke-width:2}
table{border-collapse:collapse;margin-top:8px} th,td{padding:4px 10px;text-align:left}
th{border-bottom:2px solid #cfd8dc} td{border-bottom:1px solid #eceff1}
.dot{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:6px}
pre{background:#f5f5f5;padding:8px;overflow-x:auto;font-size:12px}
"""


def render(
    record: RunRecord,
    nodes: Sequence[NodeRecord],
    out_dir: Path,
    gate: Sequence[CheckResult] = (),
) -> str:
    """The whole page as a string."""
    by_node = {n.node: n for n in nodes}
    critical = critical_path(record, by_node)
    parallel = record.options.get("parallel")
    wall = (record.finished or max((n.finished or 0.0 for n in nodes), default=0.0)) - (
        record.started
    )
    counts: dict[str, int] = {}
    for n in nodes:
        counts[n.status] = counts.get(n.status, 0) + 1
    missing = [n for n in record.nodes if n not in by_node]
    tally = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    if missing:
        tally += f", {len(missing)} not finished"
    path_text = " → ".join(critical)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(record.started))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>orchestrate run {_esc(record.id)}</title><style>{STYLE}</style></head>
<body>
<h1>Run {_esc(record.id)}: {_esc(record.result)}</h1>
<p class="meta"><b>{_esc(record.pipeline)}</b> · started {_esc(started)} ·
wall {_seconds(max(wall, 0.0))} · {_esc(tally)}</p>
<p class="meta">command: <code>{_esc(record.command)}</code></p>
<h2>Graph</h2>
{_dag_svg(record, by_node, set(critical))}
<h2>Timeline</h2>
<p class="meta">Critical path (outlined): {_esc(path_text) or "-"}</p>
{_timeline_svg(record, by_node, set(critical), int(parallel) if parallel else None)}
<p class="meta">Steps under each bar: {_legend()}</p>
<h2>Nodes</h2>
{_table(nodes, missing, out_dir)}
{_gate(gate, out_dir)}
</body></html>
"""


def write_report(
    record: RunRecord,
    nodes: Sequence[NodeRecord],
    path: Path,
    gate: Sequence[CheckResult] = (),
) -> None:
    """Write the page atomically."""
    write_atomically(path, render(record, nodes, path.parent.resolve(), gate))
