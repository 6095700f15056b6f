"""The text world: corpus task, pretrained models, generate-based continuation, text metrics, the text_smoke suite."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from bench.learners import LearnerSetup
from bench.learners.transformer.learner import TransformerConfig, TransformerLearner
from bench.metrics import compression_ratio, distinct_n, higher_is_better, ngram_diversity
from bench.run.pretrain import PretrainSettings, pretrain
from bench.settings import SamplingConfig, TrainingConfig
from bench.suite.config import SuiteError, load_suite, parse_suite
from bench.tasks.text import CorpusError, TextTask, chunk, read_documents, split_documents
from bench.text.metrics import mauve_scores, perplexity_summary, self_bleu

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpora" / "stdlib_docstrings.txt"
DOCS = [f"document {i} " + " ".join(f"word{i}x{j}" for j in range(40)) for i in range(30)]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny GPT-2 + BPE tokenizer pretrained on the committed corpus by the harness itself (seconds)."""
    folder = tmp_path_factory.mktemp("pretrained")
    documents = read_documents(CORPUS)[:150]  # a slice keeps the tokenizer's training to a fraction of a second
    corpus = write_txt(folder / "slice.txt", documents)
    pretrain(corpus, folder / "tiny", PretrainSettings(vocab_size=400, steps=4, batch_size=4))
    return folder / "tiny"


def write_txt(path: Path, documents: list[str]) -> Path:
    path.write_text("\n\n".join(documents) + "\n", encoding="utf-8")
    return path


def text_suite(corpus: Path, model_path: Path, **changes) -> dict:
    suite = {
        "suite": "t",
        "seeds": [0],
        "generations": 2,
        "task": {"name": "text", "params": {"corpus": str(corpus), "tokenizer": str(model_path), "chunk_tokens": 16}},
        "data": {"size": 20, "test_size": 5},
        "model": {"kind": "transformer", "pretrained": str(model_path), "init": "pretrained"},
        "training": {"max_iters": 2, "batch_size": 2, "block_size": 24, "warmup_iters": 0, "eval_interval": 1},
        "metrics": {"mauve": False},  # 20 samples: too few for MAUVE's k-means
        "scenarios": [{"name": "replace", "regime": {"kind": "replace"}}],
    }
    for key, value in changes.items():
        suite[key] = value
    return suite


# -- corpus ----------------------------------------------------------------------------------------------------


def test_three_corpus_formats_read_the_same_documents(tmp_path):
    txt = write_txt(tmp_path / "c.txt", ["first doc\nsecond line", "second doc", "third"])
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text("\n".join(json.dumps({"text": d}) for d in ["first doc\nsecond line", "second doc", "third"]))
    parquet = tmp_path / "c.parquet"
    pq.write_table(pa.table({"text": ["first doc\nsecond line", "second doc", "third", None]}), parquet)
    expected = ["first doc\nsecond line", "second doc", "third"]
    assert read_documents(txt) == read_documents(jsonl) == read_documents(parquet) == expected


def test_split_is_by_document_seeded_and_complete():
    parts = split_documents(DOCS, validation=0.1, test=0.2, seed=3)
    assert [len(parts[p]) for p in ("train", "validation", "test")] == [21, 3, 6]
    assert sorted(parts["train"] + parts["validation"] + parts["test"]) == sorted(DOCS)
    assert split_documents(DOCS, 0.1, 0.2, seed=3) == parts
    assert split_documents(DOCS, 0.1, 0.2, seed=4)["test"] != parts["test"]


def test_chunks_have_the_requested_token_length(model_dir):
    from bench.tasks.text import load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    chunks = chunk(["one two three four five six seven eight nine ten " * 3], tokenizer, 8)
    ids = tokenizer(["one two three four five six seven eight nine ten " * 3], add_special_tokens=False)["input_ids"]
    assert len(chunks) == len(ids[0]) // 8  # the short tail is dropped
    assert chunks[0] == tokenizer.decode(ids[0][:8])


def test_task_draws_r_and_held_out_parts_disjointly(tmp_path, model_dir):
    task = TextTask(str(write_txt(tmp_path / "c.txt", DOCS)), str(model_dir), chunk_tokens=16, test_fraction=0.2)
    r = task.generate(10, seed=1)
    assert r == task.generate(10, seed=1) and len(set(r)) == 10
    assert set(r) <= set(task.parts["train"])
    assert not set(task.held_out("test", 5, seed=1)) & set(task.parts["train"])
    with pytest.raises(CorpusError, match="too small: the train part has"):
        task.check_sizes(train=10_000, test=1, validation=0)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("missing.txt", None, "no such corpus file"),
        ("c.csv", b"a,b\n", "unsupported corpus format"),
        ("c.txt", b"caf\xe9 au lait\n", "not valid UTF-8"),
        ("c.txt", b"\n\n  \n", "holds no text"),
        ("c.jsonl", b'{"text": "ok"}\n{"body": "no text"}\n', "line 2 has no string field 'text'"),
        ("c.jsonl", b'{"text": "ok"}\nnot json\n', "line 2 is not JSON"),
        ("c.parquet", b"PAR1 not really", "not a readable Parquet file"),
    ],
)
def test_bad_corpus_is_one_clear_error(tmp_path, name, content, problem):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CorpusError, match=problem) as error:
        read_documents(path)
    assert str(path) in str(error.value)


def test_parquet_without_text_column(tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"body": ["x"]}), path)
    with pytest.raises(CorpusError, match="no 'text' column"):
        read_documents(path)


def test_bad_corpus_and_sizes_fail_validation(tmp_path, model_dir):
    small = write_txt(tmp_path / "c.txt", DOCS)
    with pytest.raises(SuiteError, match=r"task: .*too small: the train part has \d+ chunks of 16 tokens, 500 needed"):
        parse_suite(text_suite(small, model_dir, data={"size": 500, "test_size": 5}))
    with pytest.raises(SuiteError, match="no such corpus file"):
        parse_suite(text_suite(tmp_path / "nope.txt", model_dir))


@pytest.mark.slow  # a fresh interpreter imports torch and transformers
def test_bad_corpus_exits_2_with_one_line(tmp_path, model_dir):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe broken")
    suite = tmp_path / "s.yaml"
    suite.write_text(json.dumps(text_suite(bad, model_dir)))  # JSON is YAML
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "run", str(suite), "--results", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"bench: error: {suite}: task.params: {bad}: not valid UTF-8 (byte 0)"]
    assert not (tmp_path / "r").exists()


def test_text_refuses_verifier_filter_and_logic_refuses_text_sampling(tmp_path, model_dir):
    corpus = write_txt(tmp_path / "c.txt", DOCS)
    filtered = [{"name": "f", "regime": {"kind": "replace"}, "mitigations": [{"name": "verifier_filter"}]}]
    with pytest.raises(SuiteError, match="verifier_filter needs verdicts, and task 'text' has none"):
        parse_suite(text_suite(corpus, model_dir, scenarios=filtered))
    logic = {
        "suite": "l",
        "seeds": [0],
        "generations": 1,
        "model": {"preset": "tiny"},
        "sampling": {"num_beams": 5},
        "scenarios": [{"name": "r", "regime": {"kind": "replace"}}],
    }
    with pytest.raises(SuiteError, match="sampling.num_beams applies to the text task only"):
        parse_suite(logic)
    with pytest.raises(SuiteError, match="sampling.mode 'continue' needs a text task"):
        parse_suite({**logic, "sampling": {"mode": "continue"}})


@pytest.mark.parametrize("name", ["text_smoke.yaml", "text_cpu.yaml", "shumailov.yaml"])
def test_shipped_text_suites_validate(name, model_dir):
    """The text suites as shipped, with their model folder pointed at a freshly built one (and shumailov.yaml's
    wikitext-2 sizes scaled to the committed corpus)."""
    import yaml

    from bench.suite.paths import resolve_suite_paths

    # Relative paths in a suite file are its folder's (what load_suite does before parsing).
    data = resolve_suite_paths(yaml.safe_load((ROOT / "suites" / name).read_text()), ROOT / "suites" / name)
    data["task"]["params"]["tokenizer"] = data["model"]["pretrained"] = str(model_dir)
    if name == "shumailov.yaml":
        data["task"]["params"]["corpus"] = str(CORPUS)
        data["data"] = {"size": 1000, "test_size": 100}
        data["metrics"]["mauve_texts"] = 100  # the committed corpus's test part is smaller than wikitext-2's
        data["sampling"]["prompt_tokens"] = 32  # the stand-in model has 128 positions, OPT-125m 2,048
    suite = parse_suite(data, name)
    assert all(s.model.init == "pretrained" for s in suite.resolved_scenarios())
    assert suite.resolved_scenarios()[0].sampling.resolved_mode(True) == "continue"


# -- pretrained models -----------------------------------------------------------------------------------------


def setup_for(task: TextTask) -> LearnerSetup:
    from bench.device import make_accelerator

    training = TrainingConfig(max_iters=2, batch_size=2, block_size=24, warmup_iters=0, eval_interval=1)
    return LearnerSetup(task=task, training=training, accelerator=make_accelerator("no"))


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_init_modes(tmp_path, model_dir):
    from bench.learners.transformer.model import load_model

    task = TextTask(str(write_txt(tmp_path / "c.txt", DOCS)), str(model_dir), chunk_tokens=16)
    setup = setup_for(task)
    original = load_model(model_dir)
    pretrained = TransformerConfig(pretrained=str(model_dir), init="pretrained").create(setup, seed=1)
    assert same_weights(pretrained.model, original)
    scratch = TransformerConfig(pretrained=str(model_dir), init="scratch").create(setup, seed=1)
    assert scratch.model.config.n_embd == original.config.n_embd and not same_weights(scratch.model, original)
    again = TransformerConfig(pretrained=str(model_dir), init="scratch").create(setup, seed=1)
    assert same_weights(scratch.model, again.model)  # fresh weights depend only on the seed
    # warm: generation 0 starts from the pretrained weights, later generations from the previous checkpoint
    warm = TransformerConfig(pretrained=str(model_dir), init="warm")
    assert warm.warm_start and same_weights(warm.create(setup, seed=1).model, original)
    pretrained.fit(task.generate(10, seed=0), task.held_out("validation", 2, seed=0), seed=0, progress=None)
    pretrained.save(tmp_path / "gen0")
    continued = warm.create(setup, seed=1, warm_from=tmp_path / "gen0")
    assert same_weights(continued.model, pretrained.model) and not same_weights(continued.model, original)


def test_pretrained_folder_checks(tmp_path, model_dir):
    corpus = write_txt(tmp_path / "c.txt", DOCS)
    with pytest.raises(SuiteError, match="model.pretrained: .*no such folder"):
        parse_suite(text_suite(corpus, model_dir, model={"kind": "transformer", "pretrained": str(tmp_path / "x")}))
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (no_weights / name).write_bytes((model_dir / name).read_bytes())
    with pytest.raises(SuiteError, match="no .safetensors weights"):
        parse_suite(text_suite(corpus, model_dir, model={"kind": "transformer", "pretrained": str(no_weights)}))
    with pytest.raises(SuiteError, match="model.init 'pretrained' needs model.pretrained"):
        parse_suite(text_suite(corpus, model_dir, model={"kind": "transformer", "init": "pretrained"}))
    suite = parse_suite(text_suite(corpus, model_dir))
    assert suite.resolved_scenarios()[0].model.pretrained == str(model_dir)


def test_truncated_texts_fit_the_block_even_when_cut_inside_a_character(tmp_path, model_dir):
    task = TextTask(str(write_txt(tmp_path / "c.txt", DOCS)), str(model_dir), chunk_tokens=16)
    learner = TransformerConfig(pretrained=str(model_dir), init="pretrained").create(setup_for(task), seed=0)
    texts = ["aé€𝄞 " * 20, "é" * 50, "€b" * 40, "short"]
    limit = learner.setup.training.block_size - 2
    cut = learner.truncated(texts)
    assert cut[-1] == "short"
    for text in cut:
        assert len(learner.tokenizer(text, add_special_tokens=False)["input_ids"]) <= limit


# -- sampling --------------------------------------------------------------------------------------------------


def test_free_sampling_decodes_greedily_and_continue_mode_is_seeded(tmp_path, model_dir):
    task = TextTask(str(write_txt(tmp_path / "c.txt", DOCS)), str(model_dir), chunk_tokens=16)
    learner = TransformerConfig(pretrained=str(model_dir), init="pretrained").create(setup_for(task), seed=0)
    tokenizer = learner.tokenizer
    prompts = task.generate(3, seed=0)
    settings = SamplingConfig(mode="free", do_sample=False, max_new_tokens=5)  # free mode may stop at <eos>
    samples = learner.sample(3, seed=0, settings=settings, progress=None)
    ids = [tokenizer.bos_token_id]
    continuation: list[int] = []
    with torch.no_grad():
        for _ in range(5):  # greedy decoding by hand: the argmax of the next-token logits
            token = int(learner.model(torch.tensor([ids + continuation])).logits[0, -1].argmax())
            if token == tokenizer.eos_token_id:
                break
            continuation.append(token)
    assert samples == [tokenizer.decode(continuation)] * 3  # forced length in continue mode: test_text_protocol
    sampled = SamplingConfig(mode="continue", prompt_tokens=4, temperature=1.0, max_new_tokens=5)
    first = learner.sample(3, seed=7, settings=sampled, progress=None, prompts=prompts)
    assert first == learner.sample(3, seed=7, settings=sampled, progress=None, prompts=prompts)
    free = learner.sample(4, seed=7, settings=SamplingConfig(mode="free", max_new_tokens=5), progress=None)
    assert len(free) == 4


# -- metrics ---------------------------------------------------------------------------------------------------


def test_perplexity_summary_by_hand():
    nlls = [math.log(v) for v in (2.0, 4.0, 6.0, 8.0, 10.0)]
    summary = perplexity_summary(nlls)
    assert summary["sample_ppl_ref_mean"] == pytest.approx(6.0)
    assert summary["sample_ppl_ref_p50"] == pytest.approx(6.0)
    assert summary["sample_ppl_ref_p5"] == pytest.approx(2.0 + 0.05 * 4 * 2.0)  # linear: rank 0.2 between 2 and 4
    assert summary["sample_ppl_ref_p95"] == pytest.approx(8.0 + 0.8 * 2.0)
    assert perplexity_summary([]) == {}


def test_nll_each_matches_the_model_loss(tmp_path, model_dir):
    task = TextTask(str(write_txt(tmp_path / "c.txt", DOCS)), str(model_dir), chunk_tokens=16)
    learner: TransformerLearner = TransformerConfig(pretrained=str(model_dir), init="pretrained").create(
        setup_for(task), seed=0
    )
    texts = ["a short one", "a somewhat longer text than the first"]
    got = learner.nll_each(texts)
    for text, value in zip(texts, got, strict=True):
        ids = torch.tensor([[1, *learner.tokenizer(text, add_special_tokens=False)["input_ids"], 2]])
        with torch.no_grad():
            assert value == pytest.approx(float(learner.model(ids, labels=ids).loss), rel=1e-5)


def test_self_bleu_by_hand():
    assert self_bleu(["the cat sat on the mat"] * 3, seed=0) == pytest.approx(1.0)
    assert self_bleu(["a b c d", "e f g h"], seed=0) == pytest.approx(0.0)
    # "a b c d" vs "a b c e": precisions 3/4, 2/3, 1/2 and 0/1, smoothed (exp) to 1/2; brevity penalty 1.
    assert self_bleu(["a b c d", "a b c e"], seed=0) == pytest.approx((3 / 4 * 2 / 3 * 1 / 2 * 1 / 2) ** 0.25, abs=1e-4)
    assert self_bleu(["one"], seed=0) is None


def test_distinct_compression_and_ngram_diversity_on_text_by_hand():
    samples = ["the cat sat", "the cat ran"]
    assert distinct_n(samples, 1) == pytest.approx(4 / 6)  # the cat sat ran / 6 words
    assert distinct_n(samples, 2) == pytest.approx(3 / 4)  # (the cat) (cat sat) (cat ran) / 4 bigrams
    assert distinct_n(samples, 3) == pytest.approx(2 / 2)
    assert distinct_n(samples, 4) == 0.0  # no 4-grams inside a 3-word sample
    joined = "the cat sat the cat ran".split()  # ngram_diversity joins the samples
    expected = sum(len(set(zip(*(joined[i:] for i in range(n)), strict=False))) / (6 - n + 1) for n in (1, 2, 3, 4))
    assert ngram_diversity(samples) == pytest.approx(round(expected, 3))  # diversity 0.3.1 rounds to 3 decimals
    assert compression_ratio(["abc abc abc abc"] * 20) > compression_ratio(["the cat sat", "a dog ran far"])


def test_mauve_separates_same_from_different_features():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(60, 8)).astype(np.float32)
    assert mauve_scores(p, p.copy(), seed=1)["mauve"] == pytest.approx(1.0, abs=1e-6)  # identical distributions
    assert mauve_scores(p, p + 50.0, seed=1)["mauve"] < 0.05  # disjoint clusters


def test_text_metrics_have_declared_directions():
    assert higher_is_better("self_bleu") is False and higher_is_better("mauve") is True
    assert higher_is_better("real_ppl") is False
    for name in ("sample_ppl_ref_mean", "sample_ppl_ref_p5", "sample_ppl_ref_p50", "sample_ppl_ref_p95"):
        assert higher_is_better(name) is None


def test_a_text_suites_run_id_does_not_depend_on_the_working_directory(tmp_path, model_dir):
    """The run id hashes input paths spelt from the suite file's folder and the inputs' contents, so `bench run
    suites/t.yaml` from the checkout and `bench run /abs/.../t.yaml` from anywhere else are one run."""
    from conftest import bench, write_suite

    project = tmp_path / "project"
    (project / "corpora").mkdir(parents=True)
    shutil.copy(CORPUS, project / "corpora" / "c.txt")
    shutil.copytree(model_dir, project / "models" / "tiny")
    (project / "suites").mkdir()
    path = write_suite(project / "suites" / "t.yaml", text_suite(Path("../corpora/c.txt"), Path("../models/tiny")))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def run_id(suite: str, cwd: Path, *options: str) -> str:
        done = bench("validate", suite, *options, cwd=cwd)
        assert done.returncode == 0, done.stderr
        return done.stdout.split("run id ")[1].split()[0]

    first = run_id("suites/t.yaml", project)
    assert run_id(str(path), elsewhere) == first
    assert run_id("t.yaml", project / "suites") == first
    # A --set path is typed relative to where the user is, and names the same file from any folder.
    assert run_id("suites/t.yaml", project, "--set", "task.params.corpus=corpora/c.txt") == first
    # Generation 0's cache key too: a run resumed from another folder finds generation 0's learner (its reference).
    from bench.run.loop import generation_zero_key_of

    keys = set()
    for cwd, spelling in ((project, "suites/t.yaml"), (elsewhere, str(path))):
        with contextlib.chdir(cwd):
            keys.add(generation_zero_key_of(load_suite(spelling).resolved_scenarios()[0], 0))
    assert len(keys) == 1
    config = load_suite(path).resolved_config()
    assert config["task"]["params"]["corpus"] == "../corpora/c.txt"
    assert config["model"]["pretrained"] == "../models/tiny"
    assert {"../corpora/c.txt", "../models/tiny/config.json"} <= set(config["inputs"])
    # The contents still count: an edited corpus is another run, wherever it runs from.
    with (project / "corpora" / "c.txt").open("a", encoding="utf-8") as corpus:
        corpus.write("\n\nOne more document, long enough to be a document of its own.\n")
    assert run_id(str(path), elsewhere) != first


# -- end to end ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_text_smoke_suite_end_to_end(tmp_path):
    """suites/text_smoke.yaml as written, in a checkout-shaped directory holding the corpus and a model built by bench
    pretrain (the suite's relative paths are read from the suite file's folder: ../corpora, ../models)."""
    (tmp_path / "corpora").symlink_to(ROOT / "corpora")
    (tmp_path / "suites").mkdir()
    shutil.copy(ROOT / "suites" / "text_smoke.yaml", tmp_path / "suites" / "text_smoke.yaml")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}

    def bench(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "bench", *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)

    built = bench("pretrain", "--corpus", "corpora/stdlib_docstrings.txt", "--out", "models/text-tiny", "--steps", "10")
    assert built.returncode == 0, built.stderr
    run = bench("run", "suites/text_smoke.yaml", "--results", "results", "--quiet")
    assert run.returncode == 0, run.stderr
    board = json.loads(
        bench("leaderboard", "--results", "results", "--format", "json", "--metrics", "real_ppl,mauve").stdout
    )
    assert {row["scenario"] for row in board} == {"replace", "fixed_real_0.1"}
    import duckdb

    with duckdb.connect(str(tmp_path / "results" / "bench.duckdb"), read_only=True) as con:
        metrics = {r[0] for r in con.execute("SELECT DISTINCT metric FROM metrics").fetchall()}
    assert {"real_ppl", "sample_ppl_ref_p95", "self_bleu", "mauve", "distinct_4", "compression_ratio"} <= metrics
    assert not metrics & {"correct", "incorrect", "invalid", "depth_mean"}
    report = bench("report", "--results", "results", "--out", "report")
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "report" / "sample_ppl_hist.png").stat().st_size > 0
    assert "verdicts.png" not in report.stdout  # no verdicts, no verdict figure
    page = (tmp_path / "report" / "index.html").read_text()
    assert '<span class="prompt">' in page  # each continuation is shown beside its prompt
