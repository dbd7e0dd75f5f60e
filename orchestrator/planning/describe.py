"""``orchestrate plan``: a node's plan as lines for people."""

from __future__ import annotations

from orchestrator.planning.nodeplan import NodePlan


def describe_plan(plan: NodePlan) -> list[str]:
    """Human-readable lines: key, image, parents, tags, files written and every command."""
    lines = [
        f"== {plan.node} ({plan.kind.value})",
        f"   key:     {plan.key}",
        f"   image:   {plan.image}",
    ]
    if plan.parents:
        lines.append(f"   after:   {', '.join(plan.parents)}")
    if plan.tags:
        lines.append(f"   tags:    {', '.join(plan.tags)}")
    for generated in plan.files:
        shown = (
            "(network settings; not shown)"
            if generated.secret
            else f"({len(generated.content.splitlines())} lines)"
        )
        lines.append(f"   writes:  {generated.path} {shown}")
    for package, origin in plan.origins:
        lines.append(f"   bindep:  {package} <- {origin}")
    for index, step in enumerate((*plan.steps, *plan.push, *plan.release), start=1):
        lines.append(f"   {index:2d}. [{step.name}] {step.display()}")
    return lines
