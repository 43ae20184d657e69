"""`python -m bench NAME [--db sqlite|postgres] [...]`, or `python -m bench --list`.

Figures go to stdout, one JSON object per line; progress and errors go to stderr. Exit status:
0 done, 1 a server stopped during the run, 2 a server could not be started (or a wrong command
line), 130 interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from bench import benchmarks
from bench.harness import DATABASES, DEFAULT_WARMUP_SECONDS, DEFAULT_WORKERS, Options, log


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run one eventapp benchmark: it builds its own data, starts what it needs, "
                    "measures, stops everything and prints one JSON object per figure.")
    parser.add_argument("name", nargs="?", metavar="NAME", help="the benchmark (see --list)")
    parser.add_argument("--list", action="store_true", help="name the benchmarks and stop")
    parser.add_argument("--db", choices=DATABASES, default="sqlite",
                        help="database to run on: a SQLite file or a throwaway PostgreSQL "
                             "server with production durability (default: sqlite)")
    parser.add_argument("--workers", type=_positive_int, default=DEFAULT_WORKERS,
                        help=f"gunicorn sync workers (default: {DEFAULT_WORKERS})")
    parser.add_argument("--clients", type=_positive_int,
                        help="concurrent clients (default: the benchmark's own)")
    parser.add_argument("--duration", type=_positive_float, metavar="SECONDS",
                        help="seconds each measured phase runs (default: the benchmark's own)")
    parser.add_argument("--requests", type=_positive_int, metavar="N",
                        help="requests each measured phase sends, instead of a duration")
    parser.add_argument("--warmup", type=float, default=DEFAULT_WARMUP_SECONDS,
                        metavar="SECONDS", help="seconds of unmeasured load before each phase "
                                                f"(default: {DEFAULT_WARMUP_SECONDS:g}; 0: none)")
    return parser


def _stop_on_sigterm(_signal: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the benchmark named on it."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    available = benchmarks()
    if arguments.list:
        for name, module in available.items():
            print(f"{name:<10} {module.DESCRIPTION}")
        return 0
    if arguments.name is None:
        parser.error("name a benchmark (python -m bench --list names them)")
    if arguments.name not in available:
        parser.error(f"no benchmark {arguments.name!r}; there are: {', '.join(available)}")

    from bench.load import ServerGone
    from eventapp.testing.services import ServiceUnavailable

    options = Options(db=arguments.db, workers=arguments.workers, clients=arguments.clients,
                      duration=arguments.duration, requests=arguments.requests,
                      warmup=max(arguments.warmup, 0.0))
    # Ctrl-C and a plain `kill` both unwind through every `finally`, even when the shell that
    # started us in the background had set SIGINT to be ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        available[arguments.name].run(options)
    except KeyboardInterrupt:
        log("interrupted; what the benchmark started has been stopped")
        return 130
    except ServiceUnavailable as error:
        log(f"a server could not be started: {error}")
        return 2
    except ServerGone as error:
        log(f"stopped: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
