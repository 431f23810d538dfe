"""Every cache keyed by its arguments has a size bound, so visitors' data cannot pile up.

A cached function with parameters keeps one entry per distinct argument (a visitor's
uploaded dataset, a run id...): without `max_entries` (or an `lru_cache` maxsize) those
entries stay in memory after the visitors leave.
"""

import ast

import pytest

from core.settings import PROJECT_ROOT

SOURCES = sorted(
    [PROJECT_ROOT / "app.py"]
    + list((PROJECT_ROOT / "ui").glob("*.py"))
    + list((PROJECT_ROOT / "app_pages").glob("*.py"))
    + list((PROJECT_ROOT / "core").rglob("*.py"))
)
CACHES = {"cache_data", "cache_resource", "lru_cache", "cache"}


def _cache_name(decorator: ast.expr) -> str | None:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
    return name if name in CACHES else None


def _bounded(decorator: ast.expr) -> bool:
    if not isinstance(decorator, ast.Call):
        return False
    keywords = {keyword.arg: keyword.value for keyword in decorator.keywords}
    bound = keywords.get("max_entries", keywords.get("maxsize"))
    if bound is None and decorator.args:  # lru_cache(8)
        bound = decorator.args[0]
    return isinstance(bound, ast.Constant) and isinstance(bound.value, int)


def _unbounded_caches(path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        takes_arguments = bool(node.args.args or node.args.kwonlyargs or node.args.vararg)
        for decorator in node.decorator_list:
            if _cache_name(decorator) and takes_arguments and not _bounded(decorator):
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {node.name}")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_caches_with_arguments_have_a_size_bound(path):
    assert _unbounded_caches(path) == []
