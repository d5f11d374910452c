"""The compile-time check that every value a template places goes through an emitter (see templating/__init__.py)."""

from __future__ import annotations

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError


LAYOUT = ("indent", "trim")


def check_placements(tree: nodes.Template, name: str, emitters: dict) -> None:
    """Raise TemplateSyntaxError at the first `{{ ... }}` whose value does not end in an emitter."""
    macros = {macro.name for macro in tree.find_all(nodes.Macro)} | {"caller"}
    imports = {node.target for node in tree.find_all(nodes.Import)}
    for output in tree.find_all(nodes.Output):
        for node in output.nodes:
            if not _placed_safely(node, macros, imports, emitters):
                raise TemplateSyntaxError(
                    f"a value is placed without an emitter; end the expression in one of: {', '.join(emitters)} "
                    "(templating/__init__.py says which fits where)", node.lineno, name)


def _placed_safely(node: nodes.Node, macros: set[str], imports: set[str], emitters: dict) -> bool:
    if isinstance(node, nodes.TemplateData):
        return True
    if isinstance(node, nodes.Const):  # a literal written in the template itself
        return isinstance(node.value, str) or node.value is None
    if isinstance(node, nodes.Filter):
        if node.name in LAYOUT:  # re-indenting what is already safe keeps it safe
            return node.node is not None and _placed_safely(node.node, macros, imports, emitters)
        return node.name in emitters
    if isinstance(node, nodes.Call):
        target = node.node
        if isinstance(target, nodes.Name):
            return target.name in macros
        return isinstance(target, nodes.Getattr) and isinstance(target.node, nodes.Name) and target.node.name in imports
    if isinstance(node, nodes.CondExpr):
        return all(_placed_safely(part, macros, imports, emitters)
                   for part in (node.expr1, node.expr2) if part is not None)
    if isinstance(node, nodes.Concat):
        return all(_placed_safely(part, macros, imports, emitters) for part in node.nodes)
    return False
