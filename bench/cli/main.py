"""The command line (contract in docs/design.md): the parser assembled from one module per command, and ``main``,
which turns what a command raises into one line and an exit code. Bad input of any kind: exit 2, no traceback.

Each command module (``bench/cli/run.py``, ``validate.py``, ...) defines ``register(sub)``, which adds its parser
and sets its handler; a module imports at its top only the standard library and ``bench.cli``, and everything
else inside its handler, so that a command loads no more than it uses.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from bench.cli import (
    check,
    compare,
    export,
    fetch,
    fsck,
    leaderboard,
    listing,
    merge,
    pretrain,
    report,
    run,
    runs,
    samples,
    score,
    validate,
    verify,
)
from bench.cli.errors import EXIT_BAD_INPUT, BadInput, one_line

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader closed the pipe

# In the order `bench --help` lists them.
COMMANDS = (
    run,
    validate,
    runs,
    verify,
    score,
    fetch,
    leaderboard,
    report,
    export,
    merge,
    pretrain,
    check,
    fsck,
    listing,
    samples,
    compare,
)


def _fail(message: str) -> int:
    print(f"bench: error: {one_line(message)}", file=sys.stderr)
    return EXIT_BAD_INPUT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench", description="collapse bench: self-consuming training loops, measured."
    )
    from bench import __version__

    parser.add_argument("--version", action="version", version=f"bench (collapse bench) {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    from bench.cli.help_format import show_defaults

    show_defaults(parser)  # every subcommand's --help shows its defaults
    return parser


def normalize_argv(argv: Sequence[str]) -> list[str]:
    """``bench SUITE.yaml [...]`` is ``bench run SUITE.yaml [...]`` (also the container's entrypoint form)."""
    argv = list(argv)
    if argv and argv[0].endswith((".yaml", ".yml")):
        return ["run", *argv]
    return argv


def quiet_libraries() -> None:
    """The harness never downloads and draws its own progress bars: silence the libraries' bars and notices."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _check_directories(args: argparse.Namespace) -> None:
    """Directory options that cannot be directories: one line now, not an OSError from the store later."""
    from bench.store.paths import directory_problem

    given = [(f"--{name}", getattr(args, name)) for name in ("results", "into") if getattr(args, name, None)]
    given += [("source", source) for source in getattr(args, "sources", None) or ()]
    for option, path in given:
        problem = directory_problem(path)
        if problem:
            raise BadInput(f"{option} {path}: {problem}")


def main(argv: Sequence[str] | None = None) -> int:
    quiet_libraries()
    args = build_parser().parse_args(normalize_argv(sys.argv[1:] if argv is None else argv))
    try:
        _check_directories(args)
        code = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at interpreter exit
        return code
    except BrokenPipeError:
        # `bench leaderboard | head`: the reader has gone. As the Python docs recommend (signal module, "Note on
        # SIGPIPE"), point stdout at devnull so the flush at exit cannot fail again, and exit quietly with the
        # shell's code for a writer whose pipe closed (128 + SIGPIPE).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except BadInput as error:
        return _fail(str(error))
    except RuntimeError as error:
        from bench.learners.transformer.train import TrainingDivergedError
        from bench.regimes import NoSamplesLeftError
        from bench.safe_io import UnsafePathError
        from bench.store.errors import StoreError

        # A busy, unreadable or missing database, or a link where bench writes a file: one line, exit 2.
        if isinstance(error, StoreError | UnsafePathError):
            return _fail(str(error))

        # A run that cannot go on (diverged training, nothing left to train on): one line, exit 1.
        if isinstance(error, TrainingDivergedError | NoSamplesLeftError):
            print(f"bench: error: {one_line(error)}", file=sys.stderr)
            return 1
        raise
    except KeyboardInterrupt:
        print("bench: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except BaseException as error:
        from bench.run.session import Terminated

        if isinstance(error, Terminated):
            print(
                "bench: terminated (SIGTERM); finished generations are saved, rerun the same command to resume",
                file=sys.stderr,
            )
            return 143
        raise


if __name__ == "__main__":
    sys.exit(main())
