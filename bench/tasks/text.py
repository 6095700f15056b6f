"""The ``text`` task: a local corpus cut into fixed-length token chunks (Shumailov et al., Nature 2024).

A corpus is a UTF-8 ``.txt`` file (documents separated by blank lines), a ``.jsonl`` file (one object a line with a
``text`` field) or a ``.parquet`` file (a ``text`` column). Its documents are split into train, validation and test
parts with ``split_seed``, by document, so no document feeds two parts; or ``corpus`` names one file per part
(``{train: ..., validation: ..., test: ...}``, as wikitext ships). Each part is tokenized with the model's tokenizer
(``tokenizer``: a ``save_pretrained`` folder) and cut into chunks of ``chunk_tokens`` tokens, per document, or, with
``concatenate: true``, after joining the part's rows as lines of one text (wikitext's rows are lines, not
documents; Shumailov et al. cut the joined text into blocks). A chunk is stored as its decoded text. The train part's
chunks are R: ``generate`` draws them without replacement; ``held_out`` draws the test part (T*, for ``real_ppl``)
and the validation part; ``continuations`` cuts the true continuations of held-out prompts (MAUVE's reference).

Text has no verdict: there is nothing to call correct, so ``has_verdicts`` is ``False`` and the loop records no
correct/incorrect/invalid shares (and a ``verifier_filter`` on this task is a validation error).
"""

from __future__ import annotations

import functools
import json
import os
import random
from pathlib import Path
from typing import Literal

from transformers import PreTrainedTokenizerFast

from bench.lines import split_lines
from bench.tasks import TASKS
from bench.tasks.base import Verdict

SUFFIXES = (".txt", ".jsonl", ".parquet")
Part = Literal["train", "validation", "test"]
PARTS: tuple[Part, ...] = ("train", "validation", "test")


class CorpusError(ValueError):
    """A corpus that cannot be used; the message names the file and the problem."""


MAX_CORPUS_BYTES = 1 << 30  # read whole, then split: a bigger file would need several times its size in memory
MAX_DOCUMENT_CHARS = 16 << 20  # one document is tokenized at once (a book is about 1 MB)
TOKENIZE_BATCH_CHARS = 1 << 20  # documents are tokenized in batches of about this much text: bounded memory


def looked_in(path: Path) -> str:
    """`` (looked in DIR)`` for a relative path: the folder it names, seen from here (a suite's relative paths are
    already the suite file's folder's, bench.suite.paths)."""
    if path.is_absolute():
        return ""
    return f" (looked in {os.path.normpath(Path.cwd() / path.parent)})"


def read_documents(path: str | Path) -> list[str]:
    """The corpus's non-empty documents, in file order. Raises ``CorpusError`` naming the file and the problem."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise CorpusError(f"{path}: unsupported corpus format {path.suffix!r} (use {', '.join(SUFFIXES)})")
    try:
        info = os.stat(path)  # a symlink loop or an unreadable folder is one line here
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such corpus file{looked_in(path)}") from None
    except OSError as error:
        raise CorpusError(f"{path}: cannot be read ({error.strerror or error})") from None
    if not path.is_file():
        raise CorpusError(f"{path}: no such corpus file{looked_in(path)}")
    if info.st_size > MAX_CORPUS_BYTES:
        raise CorpusError(f"{path}: {info.st_size:,} bytes; corpora are limited to {MAX_CORPUS_BYTES:,} bytes")
    try:
        if path.suffix == ".parquet":
            documents = _parquet_documents(path)
        else:
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise CorpusError(f"{path}: not valid UTF-8 (byte {error.start})") from None
            documents = _jsonl_documents(path, text) if path.suffix == ".jsonl" else _txt_documents(text)
    except OSError as error:
        raise CorpusError(f"{path}: cannot read: {error.strerror or error}") from None
    documents = [d for d in documents if d.strip()]
    if not documents:
        raise CorpusError(f"{path}: the corpus holds no text")
    longest = max(range(len(documents)), key=lambda i: len(documents[i]))
    if len(documents[longest]) > MAX_DOCUMENT_CHARS:
        raise CorpusError(
            f"{path}: document {longest + 1} has {len(documents[longest]):,} characters, more than "
            f"{MAX_DOCUMENT_CHARS:,}; separate documents with blank lines"
        )
    return documents


def _txt_documents(text: str) -> list[str]:
    paragraphs: list[str] = []
    current: list[str] = []
    for line in split_lines(text):
        if line.strip():
            current.append(line.rstrip())
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return paragraphs


def _jsonl_documents(path: Path, text: str) -> list[str]:
    documents = []
    for number, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CorpusError(f"{path}: line {number} is not JSON ({error.msg})") from None
        except RecursionError:
            raise CorpusError(f"{path}: line {number} is nested too deeply") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise CorpusError(f"{path}: line {number} has no string field 'text'")
        documents.append(record["text"])
    return documents


def _parquet_documents(path: Path) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, pa.ArrowException) as error:
        reason = str(error).partition("\n")[0]  # Arrow's first line names the problem; the rest is context
        raise CorpusError(f"{path}: not a readable Parquet file ({reason})") from None
    if "text" not in table.column_names:
        raise CorpusError(f"{path}: no 'text' column (columns: {', '.join(table.column_names)})")
    column = table.column("text")
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise CorpusError(f"{path}: column 'text' is {column.type}, not a string column")
    return [value for value in column.to_pylist() if value is not None]


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """A model folder's fast tokenizer (``tokenizer.json``; nothing downloaded), with a pad token for packing."""
    from transformers import AutoTokenizer

    path = Path(path)
    if not path.is_dir():
        raise CorpusError(f"{path}: no such model or tokenizer folder{looked_in(path)}")
    if not (path / "tokenizer.json").is_file() and not (path / "tokenizer_config.json").is_file():
        raise CorpusError(f"{path}: not a model or tokenizer folder (no tokenizer.json; build one with bench pretrain)")
    from bench.model_folder import ModelFolderError, check_no_remote_code

    try:  # a model folder's own code never runs (no auto_map, trust_remote_code=False)
        check_no_remote_code(path)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, use_fast=True, trust_remote_code=False)
    except ModelFolderError as error:
        raise CorpusError(str(error)) from None
    except Exception as error:  # noqa: BLE001 - a malformed tokenizer.json/config.json raises anything
        reason = str(error).strip().partition("\n")[0] or type(error).__name__
        raise CorpusError(f"{path}: the tokenizer cannot be loaded ({reason})") from None
    if tokenizer.bos_token_id is None or tokenizer.eos_token_id is None:
        raise CorpusError(f"{path}: the tokenizer defines no bos/eos token")
    if tokenizer.pad_token_id is None:  # GPT-2-style tokenizers have none; padding is never scored, so eos serves
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def split_documents(documents: list[str], validation: float, test: float, seed: int) -> dict[Part, list[str]]:
    """Shuffle the documents with ``seed`` and cut them into test, validation and train parts (at least one each)."""
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    n = len(order)
    n_test = max(1, round(test * n))
    n_validation = max(1, round(validation * n))
    if n_test + n_validation >= n:
        raise ValueError(f"{n} document(s) cannot be split into train, validation and test parts")
    pick = [documents[i] for i in order]
    return {
        "test": pick[:n_test],
        "validation": pick[n_test : n_test + n_validation],
        "train": pick[n_test + n_validation :],
    }


def chunk(documents: list[str], tokenizer: PreTrainedTokenizerFast, length: int) -> list[str]:
    """Each document's tokens cut into consecutive ``length``-token chunks (a shorter tail is dropped), decoded."""
    return windows(tokenizer(documents, add_special_tokens=False)["input_ids"], tokenizer, length)


def windows(ids: list[list[int]], tokenizer: PreTrainedTokenizerFast, length: int) -> list[str]:
    """Consecutive ``length``-token windows of each token row (a shorter tail is dropped), decoded."""
    pieces = [row[start : start + length] for row in ids for start in range(0, len(row) - length + 1, length)]
    if not pieces:  # batch_decode([]) reads the empty list as one empty sequence and returns [""]
        return []
    return tokenizer.batch_decode(pieces, clean_up_tokenization_spaces=False)


def _version(path: Path) -> tuple[int, int] | None:
    stat = path.stat() if path.is_file() else None
    return None if stat is None else (stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _tokenized_parts(
    files: tuple[tuple[str, Path, tuple[int, int] | None], ...],
    tokenizer_path: Path,
    concatenate: bool,
    validation_fraction: float,
    test_fraction: float,
    split_seed: int,
) -> dict[Part, list[list[int]]]:
    """Each part's token rows: one per document, or one for the whole part when ``concatenate`` (wikitext-style
    corpora, whose rows are lines, not documents). Cached per process (validation and every cell of a run build
    the same task), keyed by each file's modification time and size so that an edited corpus is read again."""
    if len(files) == 1:
        shown = files[0][1]
        try:
            parts = split_documents(read_documents(shown), validation_fraction, test_fraction, split_seed)
        except ValueError as error:
            if isinstance(error, CorpusError):
                raise
            raise CorpusError(f"{shown}: {error}") from None
    else:
        parts = {part: read_documents(path) for part, path, _ in files}  # type: ignore[misc]
    tokenizer = load_tokenizer(tokenizer_path)
    out: dict[Part, list[list[int]]] = {}
    for part, documents in parts.items():
        if concatenate:  # the rows joined as lines of one text, then cut (Shumailov et al.'s wikitext2 blocks)
            documents = ["\n".join(documents)]
        out[part] = tokenizer(documents, add_special_tokens=False)["input_ids"]
    return out


_last_chunks: list[tuple[dict[Part, list[list[int]]], Path, int, dict[Part, list[str]]]] = []


def _chunked(rows: dict[Part, list[list[int]]], tokenizer_path: Path, length: int) -> dict[Part, list[str]]:
    """Each part's decoded chunks; the last result is kept with the very token rows it was cut from."""
    for cached_rows, cached_path, cached_length, chunks in _last_chunks:
        if cached_rows is rows and cached_path == tokenizer_path and cached_length == length:
            return chunks
    tokenizer = load_tokenizer(tokenizer_path)
    chunks = {part: windows(ids, tokenizer, length) for part, ids in rows.items()}
    _last_chunks[:] = [(rows, tokenizer_path, length, chunks)]
    return chunks


@TASKS.register("text")
class TextTask:
    """Chunks of a local corpus; see the module docstring."""

    name = "text"
    has_verdicts = False

    def __init__(
        self,
        corpus: str | dict[str, str],
        tokenizer: str,
        chunk_tokens: int = 64,
        validation_fraction: float = 0.05,
        test_fraction: float = 0.05,
        split_seed: int = 0,
        concatenate: bool = False,
    ) -> None:
        if not isinstance(chunk_tokens, int) or not 4 <= chunk_tokens <= 8192:
            raise ValueError(f"chunk_tokens must be an integer in [4, 8192], got {chunk_tokens!r}")
        for label, share in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
            if not 0.0 < share < 0.5:
                raise ValueError(f"{label} must be in (0, 0.5), got {share!r}")
        if isinstance(corpus, dict):  # separate files per part: no split of ours
            if sorted(corpus) != sorted(PARTS):
                raise ValueError(f"corpus: name exactly the files {', '.join(PARTS)} (got {', '.join(corpus)})")
            paths = {part: Path(corpus[part]) for part in PARTS}
        else:
            paths = {"corpus": Path(corpus)}
        self.corpus = Path(corpus) if isinstance(corpus, str) else paths["train"]
        self.tokenizer_path = Path(tokenizer)
        for path in (self.corpus, self.tokenizer_path):
            try:  # before resolve(), which raises RuntimeError on a symlink loop
                os.stat(path)
            except FileNotFoundError:
                pass  # named below by the reader that needs it
            except OSError as error:
                raise CorpusError(f"{path}: cannot be read ({error.strerror or error})") from None
        self.chunk_tokens = chunk_tokens
        self.tokenizer = load_tokenizer(self.tokenizer_path)
        files = tuple((name, path, _version(path)) for name, path in paths.items())
        self.token_rows = _tokenized_parts(
            files, self.tokenizer_path.resolve(), concatenate, validation_fraction, test_fraction, split_seed
        )
        self.parts = _chunked(self.token_rows, self.tokenizer_path.resolve(), chunk_tokens)
        for part, chunks in self.parts.items():
            if not chunks:
                where = paths.get(part, self.corpus)
                raise CorpusError(f"{where}: the {part} part has no chunk of {chunk_tokens} tokens")

    def continuations(self, part: Part, n: int, seed: int, prompt_tokens: int, new_tokens: int) -> list[str]:
        """The true continuations of ``n`` held-out prompts: windows of ``prompt_tokens + new_tokens`` tokens of the
        part's documents, seeded, each without its first ``prompt_tokens`` tokens (the reference P of MAUVE, with
        the same length budget as the samples)."""
        pool = self.window_count(part, prompt_tokens, new_tokens)
        if n > pool:
            raise ValueError(
                f"{self.corpus}: the {part} part has {pool} windows of {prompt_tokens} + {new_tokens} tokens, "
                f"{n} needed"
            )
        length = prompt_tokens + new_tokens
        rows = self.token_rows[part]
        pieces = [
            row[start + prompt_tokens : start + length]
            for row in rows
            for start in range(0, len(row) - length + 1, length)
        ]
        chosen = random.Random(seed).sample(range(len(pieces)), n)
        return self.tokenizer.batch_decode([pieces[i] for i in chosen], clean_up_tokenization_spaces=False)

    def prefixes(self, texts: list[str], prompt_tokens: int) -> list[str]:
        """The first ``prompt_tokens`` tokens of each text, decoded: the prompt part of a continue-mode sample."""
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        return self.tokenizer.batch_decode([ids[:prompt_tokens] for ids in encoded], clean_up_tokenization_spaces=False)

    def window_count(self, part: Part, prompt_tokens: int, new_tokens: int) -> int:
        length = prompt_tokens + new_tokens
        return sum(max(0, len(row) // length) for row in self.token_rows[part])

    def check_sizes(self, train: int, test: int, validation: int) -> None:
        """Refuse sizes the corpus cannot supply without repeating chunks (called at validation time)."""
        for part, needed in (("train", train), ("test", test), ("validation", validation)):
            have = len(self.parts[part])  # type: ignore[index]
            if needed > have:
                raise CorpusError(
                    f"{self.corpus}: too small: the {part} part has {have} chunks of {self.chunk_tokens} tokens, "
                    f"{needed} needed"
                )

    def _draw(self, part: Part, n: int, seed: int, exclude: frozenset[str] = frozenset()) -> list[str]:
        pool = [c for c in self.parts[part] if c not in exclude]
        if n > len(pool):
            raise ValueError(f"{self.corpus}: the {part} part has {len(pool)} usable chunks, {n} needed")
        return random.Random(seed).sample(pool, n)

    def generate(self, n: int, seed: int, exclude: frozenset[str] = frozenset()) -> list[str]:
        """``n`` distinct chunks of the train part (R, or fresh real data), seeded."""
        return self._draw("train", n, seed, exclude)

    def held_out(self, part: Literal["validation", "test"], n: int, seed: int) -> list[str]:
        """``n`` chunks of the validation or test part, seeded."""
        return self._draw(part, n, seed)

    def verify(self, text: str) -> Verdict:
        raise TypeError("the text task has no verdicts")

    def depth(self, text: str) -> int | None:
        return None

    def build_tokenizer(self) -> PreTrainedTokenizerFast:
        return self.tokenizer

    def max_tokens(self) -> int:
        return self.chunk_tokens

    def describe(self) -> str:
        sizes = ", ".join(f"{p} {len(c)}" for p, c in self.parts.items())
        return f"{self.corpus}: chunks of {self.chunk_tokens} tokens ({sizes})"
