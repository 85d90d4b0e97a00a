"""The ``glassbox`` command.

``glassbox run`` trains and evaluates the three-layer glass-box model on a dataset and writes a
report of what each layer does to class separability; ``glassbox compare`` measures AlexNet's
layers (equivariance, separability) beside the glass box's (needs torch); ``glassbox
preprocess`` streams a large image collection into an .npy file of features; ``glassbox
explain`` shows why a saved model classified an image as it did; ``glassbox tour``
walks through the kernels on synthetic images.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from .. import _core
from . import compare, explain, preprocess, run, tour

COMMANDS = (run, explain, compare, preprocess, tour)  # each: add_parser(subparsers), run(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``glassbox`` command: one sub-command per module of
    ``COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="glassbox", description="Glass-box CNN: an inspectable, exactly symmetric model."
    )
    parser.add_argument("--version", action="version", version=f"glassbox {_core.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C's KeyboardInterrupt so that every clean-up that
    Ctrl-C runs (temporary files removed, writer threads stopped) runs for them too."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


@contextlib.contextmanager
def signals_as_interrupts(signals=(signal.SIGTERM, signal.SIGHUP)):
    """While the command runs, ``signals`` interrupt it as Ctrl-C does.

    A signal that is ignored (``nohup`` ignores SIGHUP) stays ignored; after the first, further
    ones are ignored while the clean-up runs.  Only in the main thread (where Python delivers
    signals); elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = []

    def handler(signum, frame):
        if not fired:
            fired.append(signum)
            raise Interrupted(signum)

    previous = {}
    try:
        for sig in signals:
            if signal.getsignal(sig) is signal.SIG_DFL:
                previous[sig] = signal.signal(sig, handler)
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``glassbox`` command; returns the exit status.

    Errors are reported as ``glassbox COMMAND: error: ...`` with status 1; Ctrl-C, SIGTERM
    and SIGHUP stop the command with status 128 + the signal's number, after removing every
    temporary file it was writing."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for the report
    if args.command is None:
        parser.print_help()
        return 2
    try:
        with signals_as_interrupts():
            return _dispatch(args)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", int(signal.SIGINT))
        name = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
        print(f"\ninterrupted{name}", file=sys.stderr)
        return 128 + signum
    except MemoryError as exc:  # a last resort: every path estimates its memory beforehand
        print(f"glassbox {args.command}: error: out of memory ({exc})", file=sys.stderr)
        return 1
    except (ValueError, TypeError, FileNotFoundError, ImportError, OSError) as exc:
        print(f"glassbox {args.command}: error: {exc}", file=sys.stderr)
        return 1


def _dispatch(args) -> int:
    by_name = {c.__name__.rsplit(".", 1)[1]: c for c in COMMANDS}
    return by_name[args.command].run(args)


__all__ = ["COMMANDS", "Interrupted", "build_parser", "main", "signals_as_interrupts"]
