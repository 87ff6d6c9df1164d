"""Workflow diagrams as Mermaid or Graphviz DOT text (no graphviz install needed)."""

from __future__ import annotations

from csflow.workflows._definition import STAY, WorkflowDef

FORMATS = ("mermaid", "dot")


def _edges(wf: WorkflowDef) -> list[tuple[str, str, str]]:
    """(source, dest, label) with sources expanded; '*' edges collapse to one per state."""
    out = []
    for t in wf.transitions:
        label = t.trigger + (" [" + t.guard.decision + "]" if t.guard else "")
        for src in t.sources:
            out.append((src, src if t.dest == STAY else t.dest, label))
    return out


def diagram(wf: WorkflowDef, fmt: str = "mermaid") -> str:
    if fmt == "mermaid":
        lines = ["stateDiagram-v2", f"    [*] --> {wf.initial}"]
        lines += [f"    {s} --> {d} : {label}" for s, d, label in _edges(wf)]
        lines += [f"    {n} --> [*]" for n in wf.states if wf.states[n].terminal]
        lines += [
            f"    note right of {n} : SLA {s.sla.target}" for n, s in wf.states.items() if s.sla
        ]
        return "\n".join(lines) + "\n"
    if fmt == "dot":
        lines = [
            f'digraph "{wf.name}" {{',
            "    rankdir=LR;",
            "    node [shape=box, style=rounded];",
            "    __start [shape=point];",
            f'    __start -> "{wf.initial}";',
        ]
        for n, s in wf.states.items():
            attrs = ["peripheries=2"] if s.terminal else []
            if s.sla:
                attrs.append(f'xlabel="SLA {s.sla.target}"')
            if attrs:
                lines.append(f'    "{n}" [{", ".join(attrs)}];')
        lines += [f'    "{s}" -> "{d}" [label="{label}"];' for s, d, label in _edges(wf)]
        return "\n".join([*lines, "}"]) + "\n"
    raise ValueError(f"unknown diagram format {fmt!r}; use one of {', '.join(FORMATS)}")
