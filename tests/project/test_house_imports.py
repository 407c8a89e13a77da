"""The package's import structure, read from the source (ast), so a new module cannot quietly break it.

- `cunet.kernels` is a leaf: it imports nothing from `cunet.model`, not even inside a function
  (callers hand it the model or block it works on).
- No import cycle between cunet modules. Only imports that run when a module is imported count
  (module-level statements, including under `if`/`try`, but not `if TYPE_CHECKING:`): an import
  inside a function runs after every module has loaded, so it cannot fail as a cycle.
- A function-local cunet import is the exception: each one says why on its line or on the comment
  lines just above its import group (TensorFlow, Keras or JAX kept out of `import cunet`, `cunet
  --help` or the LiteRT path). The command modules of `cunet/cli/` are exempt as a whole: by design
  a command imports the library inside `run`, so that `cunet --help` loads no NumPy or TensorFlow.
"""

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "cunet"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _cunet_targets(node) -> list:
    """The cunet modules an import statement loads (`from a.b import c` loads a.b.c when that is a module)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif node.level == 0 and node.module:
        names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    else:
        names = []
    return [n for n in names if n in MODULES and n.split(".")[0] == "cunet"]


def _is_type_checking(node) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _import_time_imports(statements) -> list:
    """Import statements run at import time: module level, descending into if/try/with blocks."""
    found = []
    for node in statements:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, (ast.If, ast.Try, ast.With)) and not _is_type_checking(node):
            for field in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, field, []):
                    found += _import_time_imports(child.body if isinstance(child, ast.ExceptHandler) else [child])
    return found


def _function_imports(tree) -> list:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)) and n is not node]
    return found


TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}
GRAPH = {
    name: sorted({t for node in _import_time_imports(tree.body) for t in _cunet_targets(node)} - {name})
    for name, tree in TREES.items()
}


def test_kernels_import_nothing_from_the_model():
    offending = [
        f"{name}:{node.lineno}"
        for name, tree in TREES.items()
        if name.startswith("cunet.kernels")
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for target in _cunet_targets(node)
        if target.startswith("cunet.model")
    ]
    assert not offending, f"cunet.kernels must not import cunet.model: {offending}"


def _cycle(graph) -> list:
    """One import cycle of `graph` as a list of modules, or [] (depth-first search)."""
    state, stack = {}, []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in graph.get(module, []):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[module] = "done"
        return []

    for module in graph:
        if module not in state and (found := visit(module)):
            return found
    return []


def test_no_import_cycle_between_cunet_modules():
    assert GRAPH["cunet.model.parts"]  # the graph is read at all
    assert _cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]  # the search finds one
    cycle = _cycle(GRAPH)
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def _has_reason(lines, lineno) -> bool:
    """A comment (beyond a bare noqa) on the import's line, or on the comment, import and blank
    lines just above it."""
    for i in range(lineno - 1, -1, -1):
        line = lines[i].strip()
        comment = line.split("#", 1)[1] if "#" in line else ""
        if re.sub(r"noqa(: ?[A-Z]+[0-9]+)?", "", comment).strip():
            return True
        if i < lineno - 1 and line and not line.startswith(("#", "import ", "from ")):
            return False
    return False


def test_function_local_cunet_imports_say_why():
    unexplained = []
    for name, tree in TREES.items():
        if name.startswith("cunet.cli"):
            continue
        lines = MODULES[name].read_text().splitlines()
        for node in _function_imports(tree):
            if _cunet_targets(node) and not _has_reason(lines, node.lineno):
                unexplained.append(f"{MODULES[name].relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not unexplained, (
        "function-local cunet imports without a reason (hoist them, or say which "
        f"framework they keep out of which path): {unexplained}"
    )
