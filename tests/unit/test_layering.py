"""The layering of the repository, read from the imports (ast, infra/import_graph.py):

- the data path (ingest, stream, lake, lakesql, reports, and the settings, contract and
  kinesis modules they share) and the Dagster code location never import the stand-ins for
  AWS (`streaming.local`) or the tooling (`streaming.tools`), not even through another module;
- no module imports itself back through others (no import cycles);
- every CLICKSTREAM_* variable is read in streaming/settings.py and nowhere else.
"""

import ast
import graphlib

import pytest
from import_graph import ROOT, closure, import_graph, module_files

GRAPH = import_graph()
OFF_PATH = ("streaming.local", "streaming.tools")
ON_PATH = ("streaming.ingest", "streaming.stream", "streaming.lake", "streaming.lakesql",
           "streaming.reports", "streaming.settings", "streaming.contract", "streaming.kinesis",
           "clickstream_assets")


def within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(f"{package}.") for package in packages)


def test_the_graph_sees_every_stage():
    for package in (*ON_PATH, *OFF_PATH):
        assert package in GRAPH, package


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if within(m, ON_PATH)))
def test_the_data_path_and_dagster_never_reach_local_or_tools(module):
    reached = sorted(m for m in closure(GRAPH, module) if within(m, OFF_PATH))
    assert reached == [], f"{module} imports {reached}"


def test_no_import_cycles():
    try:
        graphlib.TopologicalSorter(GRAPH).prepare()
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_the_cycle_check_would_see_one():
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter({"a": {"b"}, "b": {"c"}, "c": {"a"}}).prepare()


def environment_reads(tree: ast.AST) -> list[str]:
    """CLICKSTREAM_* names read from the environment: os.environ[...], os.environ.get(...),
    os.getenv(...)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            key = node.slice
        elif isinstance(node, ast.Call) and node.args:
            key = node.args[0]
            if not (isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "getenv")):
                continue
        else:
            continue
        if isinstance(key, ast.Constant) and str(key.value).startswith("CLICKSTREAM_"):
            found.append(key.value)
    return found


def test_clickstream_variables_are_read_in_settings_only():
    readers = {str(path.relative_to(ROOT)): names for path in module_files().values()
               if (names := environment_reads(ast.parse(path.read_text())))}
    assert readers == {}
