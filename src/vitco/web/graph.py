"""A run's workflow graph as inline SVG: the template's nodes and edges (gates spliced in),
laid out in layers, the node the run is at highlighted, how often each node ran, and every
bounded loop drawn as a dashed arc with its limit.

Drawn here rather than by a library: Graphviz is a system program whose SVG would have to be
sanitised before it is inlined in a page, and LangGraph's own drawings need pygraphviz or a
network service (mermaid.ink). A template has a dozen nodes, for which longest-path layering
(loops set aside first, by a depth-first walk from the start) gives a readable picture.
Every text drawn is escaped: a template in the data dir is a file like any other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from markupsafe import Markup, escape

from vitco.workflow.template import END, EdgeSpec, FlowSpec

BOX_W, BOX_H = 150, 40
COL_W, ROW_H = 180, 78
MARGIN = 24
LOOP_ROOM = 190  # room on the right for the loops' arcs and their labels
SKIP_ROOM = 150  # room on the left for edges that skip a layer, and their labels


@dataclass(frozen=True)
class Layout:
    """Where each node sits (column, layer) and which edges close a loop."""

    layer: dict[str, int]
    column: dict[str, int]
    loops: frozenset[int]  # indices into the flow's edges


def _nodes(flow: FlowSpec) -> list[str]:
    names = list(flow.nodes)
    if any(e.to == END or e.exhausted == END for e in flow.edges):
        names.append(END)
    return names


def layout(flow: FlowSpec) -> Layout:
    """Layers by the longest path from the start over the edges that close no loop."""
    names = _nodes(flow)
    out: dict[str, list[tuple[int, EdgeSpec]]] = {n: [] for n in names}
    for i, edge in enumerate(flow.edges):
        out.setdefault(edge.source, []).append((i, edge))
    loops: set[int] = set()
    state: dict[str, int] = {}  # 1: on the walk's path, 2: done

    def walk(node: str) -> None:  # iterative would be longer; templates are tiny
        state[node] = 1
        for i, edge in out.get(node, []):
            if state.get(edge.to) == 1:
                loops.add(i)
            elif edge.to not in state:
                walk(edge.to)
        state[node] = 2

    walk(flow.start)
    for name in names:
        if name not in state:
            walk(name)
    layer = {n: 0 for n in names}
    for _ in names:  # relax: a DAG's longest paths settle within len(names) passes
        changed = False
        for i, edge in enumerate(flow.edges):
            if i in loops or edge.source not in layer or edge.to not in layer:
                continue
            if layer[edge.to] < layer[edge.source] + 1:
                layer[edge.to] = layer[edge.source] + 1
                changed = True
        if not changed:
            break
    if END in layer:
        layer[END] = max(layer.values()) + (0 if len(layer) == 1 else 1)
    column: dict[str, int] = {}
    seen: Counter[int] = Counter()
    for name in names:
        column[name] = seen[layer[name]]
        seen[layer[name]] += 1
    return Layout(layer, column, frozenset(loops))


def _detail(flow: FlowSpec, name: str) -> str:
    if name == END:
        return ""
    node = flow.nodes[name]
    return f"{node.type}: {node.role or node.step or node.flow or 'approval'}"


def svg(
    flow: FlowSpec,
    *,
    title: str,
    prefix: str,
    current: Iterable[str] = (),
    visits: Mapping[str, int] | None = None,
) -> Markup:
    """The flow as an ``<svg>`` element: ``current`` nodes highlighted, ``visits`` (how many
    times each node started) shown on the nodes that ran, loops dashed with their limit."""
    at = set(current)
    visits = visits or {}
    placed = layout(flow)
    names = _nodes(flow)
    per_layer = Counter(placed.layer.values())
    widest = max(per_layer.values(), default=1)
    width = MARGIN * 2 + SKIP_ROOM + widest * COL_W + LOOP_ROOM
    height = MARGIN * 2 + (max(placed.layer.values(), default=0) + 1) * ROW_H

    def centre(name: str) -> tuple[float, float]:
        row = placed.layer[name]  # a layer's nodes a column apart, the layer centred
        offset = (widest - per_layer[row]) * COL_W / 2
        x = MARGIN + SKIP_ROOM + offset + COL_W * (placed.column[name] + 0.5)
        return x, MARGIN + BOX_H / 2 + row * ROW_H

    parts: list[str] = []
    right = float(MARGIN + SKIP_ROOM + widest * COL_W)
    left = float(MARGIN + SKIP_ROOM)
    arcs = skips = 0
    for i, edge in enumerate(flow.edges):
        targets = [(edge.to, edge.when or "", i in placed.loops)]
        if edge.exhausted is not None:
            spent_loop = placed.layer.get(edge.exhausted, 0) <= placed.layer.get(edge.source, 0)
            targets.append((edge.exhausted, f"{edge.when or ''} spent".strip(), spent_loop))
        for n, (to, label, loop) in enumerate(targets):
            if edge.source not in placed.layer or to not in placed.layer:
                continue
            (x1, y1), (x2, y2) = centre(edge.source), centre(to)
            if edge.max is not None and n == 0:
                label = f"{label} ≤ {edge.max}".strip()
            dashed = loop or n == 1
            anchor = ""
            if loop:
                arcs += 1
                bend = right + 14.0 * arcs
                d = (
                    f"M{x1 + BOX_W / 2:.0f},{y1:.0f} C{bend:.0f},{y1:.0f} "
                    f"{bend:.0f},{y2:.0f} {x2 + BOX_W / 2 + 4:.0f},{y2:.0f}"
                )
                lx, ly = bend + 3, (y1 + y2) / 2
            elif placed.layer[to] - placed.layer[edge.source] > 1:  # around the layers between
                skips += 1
                bend = left - 10.0 * skips
                d = (
                    f"M{x1 - BOX_W / 2:.0f},{y1:.0f} C{bend:.0f},{y1:.0f} "
                    f"{bend:.0f},{y2:.0f} {x2 - BOX_W / 2 - 4:.0f},{y2:.0f}"
                )
                lx, ly = bend - 3, (y1 + y2) / 2 + 4 * skips
                anchor = " to-left"
            else:
                d = f"M{x1:.0f},{y1 + BOX_H / 2:.0f} L{x2:.0f},{y2 - BOX_H / 2 - 4:.0f}"
                top, bottom = y1 + BOX_H / 2, y2 - BOX_H / 2  # the label near the target
                lx, ly = x1 + (x2 - x1) * 0.6 + 5, top + (bottom - top) * 0.6
                if x2 < x1 - 1:  # an edge going left is labelled on its left
                    lx, anchor = lx - 10, " to-left"
            cls = "edge loop" if dashed else "edge"
            parts.append(f'<path class="{cls}" d="{d}" marker-end="url(#{prefix}-arrow)"/>')
            if label:
                parts.append(
                    f'<text class="edge-label{anchor}" x="{lx:.0f}" y="{ly:.0f}">'
                    f"{escape(label)}</text>"
                )
    for name in names:
        x, y = centre(name)
        kind = "end" if name == END else flow.nodes[name].type
        classes = ["node", f"node-{kind}"]
        if name in at:
            classes.append("current")
        if visits.get(name):
            classes.append("visited")
        count = visits.get(name, 0)
        label = f"{name} (now)" if name in at else name
        parts.append(
            f'<g class="{" ".join(classes)}" data-node="{escape(name)}">'
            f'<rect x="{x - BOX_W / 2:.0f}" y="{y - BOX_H / 2:.0f}" width="{BOX_W}" '
            f'height="{BOX_H}" rx="{BOX_H // 2 if kind in ("agent", "end") else 4}"/>'
            f'<text class="node-name" x="{x:.0f}" y="{y - 3:.0f}">{escape(label)}</text>'
            f'<text class="node-detail" x="{x:.0f}" y="{y + 12:.0f}">'
            f"{escape(_detail(flow, name))}</text>"
        )
        if count:
            parts.append(
                f'<text class="node-visits" x="{x + BOX_W / 2 - 4:.0f}" '
                f'y="{y - BOX_H / 2 + 11:.0f}">×{count}</text>'
            )
        parts.append("</g>")
    where = ", ".join(sorted(at)) or "no node"
    ran = ", ".join(f"{k} ×{v}" for k, v in visits.items() if v) or "nothing yet"
    head = (
        f'<svg class="graph" role="img" aria-labelledby="{prefix}-title {prefix}-desc" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{prefix}-title">{escape(title)}</title>'
        f'<desc id="{prefix}-desc">Now at: {escape(where)}. Ran: {escape(ran)}.</desc>'
        f'<defs><marker id="{prefix}-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" class="arrow"/></marker></defs>'
    )
    return Markup(head + "".join(parts) + "</svg>")
