"""The command line's shape: one module per command, nothing below the command line importing it, and each
command loading only what it uses (in a fresh interpreter, since this one has imported everything)."""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys

from conftest import MICRO, ROOT, write_suite

from bench.cli.main import build_parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    return dict(actions[0].choices)


def test_each_command_lives_in_a_module_of_its_own():
    modules = {}
    for name, parser in _subparsers(build_parser()).items():
        handler = parser.get_default("handler")
        assert handler is not None, name
        module = handler.__module__
        assert module.startswith("bench.cli.") and module != "bench.cli.main", (name, module)
        modules.setdefault(module, []).append(name)
    assert all(len(names) == 1 for names in modules.values()), modules


def _imports(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_nothing_below_the_command_line_imports_it():
    allowed = {ROOT / "bench" / "__main__.py"}
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "bench").rglob("*.py"))
        if path.parent != ROOT / "bench" / "cli"
        and path not in allowed
        and any(name == "bench.cli" or name.startswith("bench.cli.") for name in _imports(path))
    ]
    assert offenders == []


def _loaded_after(*args: str, cwd) -> set[str]:
    """The modules ``bench ARGS`` has loaded when it returns, in an interpreter of its own."""
    code = (
        "import json, sys\n"
        "from bench.cli.main import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.__stderr__)\n"
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=environment, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_help_loads_no_heavy_library(tmp_path):
    loaded = _loaded_after("--help", cwd=tmp_path)
    heavy = {"torch", "transformers", "duckdb", "pyarrow", "pydantic", "numpy", "ray", "matplotlib"}
    assert not heavy & loaded


def test_validate_loads_no_model_code_no_runner_and_no_ray(tmp_path):
    suite = write_suite(tmp_path / "micro.yaml", MICRO)
    loaded = _loaded_after("validate", str(suite), cwd=tmp_path)
    assert "bench.suite.config" in loaded  # it did validate
    # Building a transformers config imports torch (docs/design.md §9, "Suite loading"); the model's code, the
    # runner, Ray and the report's plotting are another matter.
    unwanted = {
        "bench.learners.transformer.model",
        "bench.learners.transformer.train",
        "bench.run.sequential",
        "transformers.models.gpt2.modeling_gpt2",
        "ray",
        "matplotlib",
    }
    assert not unwanted & loaded
