"""The shape of the code: dependencies point one way.

Built with grimp from the source (every import, those inside functions included), so a
lazy import that closes a loop counts as a cycle too.
"""

from __future__ import annotations

import grimp
import pytest

APPS = ("accounts", "digests", "imports", "ops", "patterns", "postmortems", "timeline")
PACKAGES = (*APPS, "config", "core")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iteratively)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_module_imports_itself_through_others(graph):
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("a", "a.tasks", "a.services", "a.models"):
        graph.add_module(module)
    graph.add_import(importer="a.tasks", imported="a.services")
    graph.add_import(importer="a.services", imported="a.tasks")
    graph.add_import(importer="a.services", imported="a.models")

    assert cycles(graph) == [["a.services", "a.tasks"]]


def test_core_imports_no_app(graph):
    for app in (*APPS, "config"):
        assert not graph.chain_exists(importer="core", imported=app, as_packages=True), app


def test_no_app_reaches_into_another_apps_views(graph):
    reaching = [
        (importer, imported)
        for app in APPS
        for importer in graph.find_descendants(app) | {app}
        for imported in graph.find_modules_directly_imported_by(importer)
        if ".views" in f".{imported.partition('.')[2]}"
        and imported.split(".")[0] != app
        and imported.split(".")[0] in APPS
    ]
    assert reaching == []


def test_services_never_import_tasks(graph):
    importing = [
        (importer, imported)
        for importer in graph.modules
        if importer.split(".")[-1] in ("services", "sending", "polling", "delivery")
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.endswith(".tasks")
    ]
    assert importing == []
