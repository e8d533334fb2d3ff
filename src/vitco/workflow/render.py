"""Pictures of a workflow template: Mermaid text, and PNG through Graphviz when it is installed.

Drawn from the template rather than the compiled graph, so the picture shows what an author
wrote: outcomes on the edges, loop limits, the flow a map runs, the gates. LangGraph's own
renderers need either a network service (mermaid.ink) or pygraphviz, neither of which fits here;
Graphviz's ``dot`` program, when present, turns our DOT text into a PNG.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from vitco.workflow.compile import with_gates
from vitco.workflow.template import END, FlowSpec, Template

SHAPES = {"agent": ("([", "])"), "tool": ("[", "]"), "map": ("[[", "]]"), "gate": ("{{", "}}")}


def _label(edge_when: str | None, edge_max: int | str | None) -> str:
    parts = [p for p in (edge_when, f"max {edge_max}" if edge_max is not None else None) if p]
    return " / ".join(parts)


def _mermaid_flow(flow: FlowSpec, prefix: str, lines: list[str]) -> None:
    def ref(name: str) -> str:
        return f"{prefix}{name}".replace("-", "_")

    lines.append(f"  {ref('__start')}((start)) --> {ref(flow.start)}")
    for name, node in flow.nodes.items():
        left, right = SHAPES[node.type]
        detail = node.role or node.step or node.flow or "approval"
        lines.append(f'  {ref(name)}{left}"{name}<br/><small>{node.type}: {detail}</small>"{right}')
    lines.append(f"  {ref('__end')}((end))")
    for edge in flow.edges:
        target = ref("__end") if edge.to == END else ref(edge.to)
        label = _label(edge.when, edge.max)
        arrow = f"-- {label} -->" if label else "-->"
        lines.append(f"  {ref(edge.source)} {arrow} {target}")
        if edge.exhausted is not None:
            spent = ref("__end") if edge.exhausted == END else ref(edge.exhausted)
            lines.append(f"  {ref(edge.source)} -. {edge.when or ''} / max spent .-> {spent}")


def mermaid(template: Template) -> str:
    """A Mermaid flowchart of the template (gates spliced in, each map's flow as a subgraph)."""
    template = with_gates(template)
    lines = ["flowchart TD"]
    _mermaid_flow(template, "", lines)
    for name, node in template.nodes.items():
        if node.type == "map" and node.flow in template.flows:
            lines.append(f'  subgraph {node.flow}["{node.flow}: per ready task, in parallel"]')
            _mermaid_flow(template.flows[node.flow], f"{node.flow}_", lines)
            lines.append("  end")
            lines.append(f"  {name} -. each .-> {node.flow}___start")
    return "\n".join(lines) + "\n"


def _dot_flow(flow: FlowSpec, prefix: str, lines: list[str]) -> None:
    shapes = {"agent": "ellipse", "tool": "box", "map": "box3d", "gate": "diamond"}
    lines.append(f'  "{prefix}start" [shape=circle label="start" width=0.4];')
    lines.append(f'  "{prefix}end" [shape=doublecircle label="end" width=0.4];')
    lines.append(f'  "{prefix}start" -> "{prefix}{flow.start}";')
    for name, node in flow.nodes.items():
        detail = node.role or node.step or node.flow or "approval"
        label = f"{name}\\n({node.type}: {detail})"
        lines.append(f'  "{prefix}{name}" [shape={shapes[node.type]} label="{label}"];')
    for edge in flow.edges:
        target = f"{prefix}end" if edge.to == END else f"{prefix}{edge.to}"
        label = _label(edge.when, edge.max)
        lines.append(f'  "{prefix}{edge.source}" -> "{target}" [label="{label}"];')
        if edge.exhausted is not None:
            spent = f"{prefix}end" if edge.exhausted == END else f"{prefix}{edge.exhausted}"
            tail = f"{edge.when} / max spent" if edge.when else "max spent"
            lines.append(f'  "{prefix}{edge.source}" -> "{spent}" [style=dashed label="{tail}"];')


def dot(template: Template) -> str:
    """The same picture in Graphviz DOT."""
    template = with_gates(template)
    lines = [f'digraph "{template.name}" {{', "  rankdir=TB; fontname=Helvetica;"]
    _dot_flow(template, "", lines)
    for name, node in template.nodes.items():
        if node.type == "map" and node.flow in template.flows:
            lines.append(f'  subgraph "cluster_{node.flow}" {{ label="{node.flow} (per task)";')
            _dot_flow(template.flows[node.flow], f"{node.flow}.", lines)
            lines.append("  }")
            lines.append(f'  "{name}" -> "{node.flow}.start" [style=dashed label="each"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def png_renderer() -> str | None:
    """The path of Graphviz's ``dot``, if installed."""
    return shutil.which("dot")


def render_png(template: Template, out: Path) -> Path:
    """Write a PNG of the template with Graphviz; ``FileNotFoundError`` if it is missing."""
    program = png_renderer()
    if program is None:
        raise FileNotFoundError("dot")
    subprocess.run(
        [program, "-Tpng", "-o", str(out)], input=dot(template).encode(), check=True, timeout=60
    )
    return out
