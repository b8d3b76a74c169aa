"""analysis's layers by their imports: the model and the renderers never reach the building."""

from __future__ import annotations

import ast
from pathlib import Path

import analysis

PACKAGE = Path(analysis.__file__).parent


def imported(path: Path) -> set[str]:
    """Give the modules a file imports, at any depth of the file (TYPE_CHECKING included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_report_model_does_no_sql_and_builds_nothing() -> None:
    names = imported(PACKAGE / "model.py")
    assert not {n for n in names if n.split(".")[0] in {"sqlalchemy", "pandas"}}
    assert not {n for n in names if n.startswith(("analysis.build", "analysis.frames"))}


def test_the_renderers_read_the_model_not_the_building() -> None:
    for path in sorted((PACKAGE / "render").glob("*.py")):
        names = imported(path)
        assert not {n for n in names if n.startswith("analysis.build")}, path.name
        assert not {n for n in names if n.split(".")[0] == "sqlalchemy"}, path.name
