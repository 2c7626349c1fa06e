"""``golsp-leaks``: check Go code for leaks, list the rules, or run the language server.

Exit status of ``check``: 0 when no reported finding is at or above the
``--fail-on`` severity (default ``warning``: hints and information never fail
a build), 1 when one is, 2 on a usage or configuration error (unknown option
or rule id, a path that does not exist, a config file that cannot be read).
Files that cannot be read, or are binary, are reported on stderr and skipped.
An internal error also exits 2, with a one-line message
(``GOLSP_LEAKS_DEBUG=1`` prints the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence

from golsp_leaks import __version__
from golsp_leaks.cli import cache
from golsp_leaks.cli import run as runner
from golsp_leaks.cli.files import CliError, Scope, discover, scope_base
from golsp_leaks.config import ConfigProblems, Settings, find_config_path, merge, read_config_file
from golsp_leaks.severity import Severity

# A run that takes every file from the result cache loads what is imported above, and
# nothing heavier (dataclasses, pathlib, typing, the analysis): the rest is imported where
# it is used.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn, TextIO

    from golsp_leaks.rules import Rule

#: The rule ids, once known (see rule_ids()).
_known_rules: tuple[str, ...] | None = None


def rule_ids() -> tuple[str, ...]:
    """The ids of the rules.  With the result cache they come from its note of them: loading every
    rule (and with them the analysis) costs more than a run that takes every file from the cache."""
    global _known_rules
    if _known_rules is None:
        from golsp_leaks.rules import rule_ids as load

        _known_rules = load()
    return _known_rules

PROG = "golsp-leaks"
FAIL_ON = ("error", "warning", "information", "hint", "never")
DEFAULT_FAIL_ON = "warning"


def _columns() -> int:
    """The terminal's width, as :func:`shutil.get_terminal_size` has it (shutil is slow to import)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class _Width(argparse.HelpFormatter):
    """A help formatter that is given the terminal's width: argparse makes one for every
    argument added, and each would import shutil to find it."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, width if width is not None else _columns() - 2)


class _RawDescription(_Width, argparse.RawDescriptionHelpFormatter):
    pass


_FORMATTERS: dict[object, type[argparse.HelpFormatter]] = {
    argparse.HelpFormatter: _Width,
    argparse.RawDescriptionHelpFormatter: _RawDescription,
}


class _Parser(argparse.ArgumentParser):
    """An argument parser that reports errors by raising, so that ``main`` returns 2 instead of exiting."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        given = kwargs.get("formatter_class", argparse.HelpFormatter)
        kwargs["formatter_class"] = _FORMATTERS.get(given, given)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise CliError(message)


def _rule_list(values: Sequence[str] | None, option: str) -> list[str]:
    ids: list[str] = []
    for value in values or ():
        ids.extend(part.strip() for part in value.split(",") if part.strip())
    known = set(rule_ids())
    unknown = [rid for rid in ids if rid not in known]
    if unknown:
        names = ", ".join(repr(u) for u in unknown)
        raise CliError(
            f"unknown rule {names} in {option} (known rules: {', '.join(sorted(known))})"
        )
    return ids


#: The commands, in the order of the help.
COMMANDS = ("check", "clean", "rules", "scan", "serve")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; with ``command``, only that one's options are added (the
    others are listed by name, as in the help): building them all costs more than a re-run."""
    every = command not in COMMANDS
    parser = _Parser(
        prog=PROG,
        description="Find goroutine, resource and request-scope leaks in Go code.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  golsp-leaks check ./...                  check the module in this directory\n"
            "  golsp-leaks check --fix ./...            apply the quick fixes\n"
            "  golsp-leaks check --format sarif . > golsp-leaks.sarif\n"
            "  golsp-leaks rules lost-cancel            what a rule finds, and why\n"
            "  golsp-leaks serve                        the language server, for an editor\n"
            "\n"
            "Run 'golsp-leaks COMMAND --help' for a command's options."
        ),
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = commands.add_parser(
        "check",
        help="check Go files and directories",
        description=(
            "Check Go files, and the *.go files under directories (skipping vendor, testdata, "
            "node_modules and hidden directories; ./... works too), for leaks.  Settings come "
            "from the nearest .golsp-leaks.toml above each PATH."
        ),
        epilog=(
            "exit status: 0 no finding at or above --fail-on, 1 some, 2 usage or configuration error. "
            "With --fix the status reflects the findings left after fixing; --diff writes nothing, "
            "so it reflects the findings as they are."
        ),
    )
    if every or command == "check":
        _check_options(check)

    clean = commands.add_parser(
        "clean",
        help="remove the result cache",
        description="Remove the result cache directory of 'golsp-leaks check'.",
    )
    if every or command == "clean":
        clean.add_argument("--cache-dir", metavar="DIR", help="the cache directory (default: as check)")

    rules = commands.add_parser(
        "rules",
        help="list the rules, or print one rule's documentation",
        description="List the rules.",
    )
    if every or command == "rules":
        rules.add_argument("rule", nargs="?", metavar="RULE", help="print this rule's documentation")
        rules.add_argument(
            "--format", choices=("text", "json"), default="text", help="output format (default: text)"
        )

    from golsp_leaks.cli import scan_options

    scan_options.add_parser(commands, every or command == "scan")

    serve = commands.add_parser(
        "serve",
        help="run the language server",
        description="Run the language server (stdio by default).",
    )
    if every or command == "serve":
        transport = serve.add_mutually_exclusive_group()
        transport.add_argument(
            "--stdio", action="store_true", help="talk over stdin/stdout (the default)"
        )
        transport.add_argument("--tcp", metavar="HOST:PORT", help="listen on a TCP address instead")
        serve.add_argument("--log-file", metavar="PATH", help="write the server's log to this file")
        serve.add_argument("-v", "--verbose", action="store_true", help="log more")
    return parser


def _check_options(check: argparse.ArgumentParser) -> None:
    check.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: .)")
    check.add_argument(
        "--format",
        choices=("text", "json", "sarif"),
        default=None,
        help="report format (default: text)",
    )
    check.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default=DEFAULT_FAIL_ON,
        help=f"exit 1 when a finding is at least this severe (default: {DEFAULT_FAIL_ON})",
    )
    edit = check.add_mutually_exclusive_group()
    edit.add_argument("--fix", action="store_true", help="apply every safe quick fix in place")
    edit.add_argument(
        "--diff",
        action="store_true",
        help="print the fixes as a unified diff instead of a report; write nothing",
    )
    check.add_argument(
        "--unsafe-fixes",
        action="store_true",
        help="with --fix or --diff, also apply the fixes that change behaviour (a finding's safe fix still comes first)",
    )
    check.add_argument(
        "--config",
        metavar="FILE",
        help="use this config file (default: the nearest .golsp-leaks.toml above each PATH)",
    )
    check.add_argument(
        "--select", action="append", metavar="RULE,...", help="check only these rules"
    )
    check.add_argument(
        "--ignore", action="append", metavar="RULE,...", help="do not check these rules"
    )
    check.add_argument(
        "--no-progress", action="store_true", help="no progress indication on stderr"
    )
    check.add_argument(
        "-j",
        "--jobs",
        type=int,
        metavar="N",
        help="worker processes for large runs (default: the number of CPUs)",
    )
    check.add_argument(
        "--stats", action="store_true", help="print files, lines and lines per second on stderr"
    )
    check.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the result cache (the results of unchanged files)",
    )
    check.add_argument(
        "--cache-dir",
        metavar="DIR",
        help=f"the result cache directory (default: ${cache.ENV}, else "
        "$XDG_CACHE_HOME/golsp-leaks, else ~/.cache/golsp-leaks)",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(words[0] if words else None)
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version
            return exc.code if isinstance(exc.code, int) else 0
        if args.command == "check":
            return _check(args)
        if args.command == "rules":
            return _rules(args)
        if args.command == "clean":
            return _clean(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "scan":
            from golsp_leaks.cli import scan  # httpx and the scanner: only for a scan

            return scan.run(args, sys.stdout)
        parser.print_help(sys.stderr)
        return 2
    except CliError as exc:
        _error(str(exc))
        return 2
    except KeyboardInterrupt:
        _clear_line()
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, without a second error at exit.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except Exception as exc:  # a bug: say so in one line, not with a traceback
        _clear_line()
        if os.environ.get("GOLSP_LEAKS_DEBUG"):
            import traceback

            traceback.print_exc()
        _error(f"internal error: {exc!r} (set GOLSP_LEAKS_DEBUG=1 to see where)")
        return 2


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _warning(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _clear_line() -> None:
    try:
        if sys.stderr.isatty():
            sys.stderr.write("\r\x1b[K")
    except (OSError, ValueError):
        pass


# --------------------------------------------------------------------------- check


class _Scopes:
    """One :class:`Scope` per config file (or per checked directory without one), loaded once."""

    def __init__(
        self, explicit: str | None, select: list[str], ignore: list[str], problems: ConfigProblems
    ) -> None:
        self.explicit = explicit
        self.select = select
        self.ignore = ignore
        self.problems = problems
        self._settings: dict[str | None, Settings] = {}
        self._scopes: dict[tuple[str | None, str], Scope] = {}

    def __call__(self, path: str) -> Scope:
        config = self.explicit if self.explicit is not None else find_config_path(path)
        base = scope_base(path, config)
        key = (str(config) if config is not None else None, base if config is None else "")
        scope = self._scopes.get(key)
        if scope is None:
            scope = self._scopes[key] = Scope(self._load(config), base)
        return scope

    def _load(self, config: str | None) -> Settings:
        name = str(config) if config is not None else None
        settings = self._settings.get(name)
        if settings is not None:
            return settings
        settings = Settings()
        if config is not None:
            problems = ConfigProblems()
            raw = read_config_file(config, problems)
            if raw is None:
                raise CliError(
                    "; ".join(problems.messages) or f"{config}: cannot read configuration"
                )
            settings = merge(settings, raw, str(config), rule_ids(), self.problems)
        rules = dict(settings.rules)
        if self.select:
            rules.update({rid: rid in self.select for rid in rule_ids()})
        rules.update({rid: False for rid in self.ignore})
        settings = settings.replaced(rules=rules)
        self._settings[name] = settings
        return settings


def _check(args: argparse.Namespace) -> int:
    if args.diff and args.format not in (None, "text"):
        raise CliError(
            f"--diff prints a diff, not a report: it cannot be combined with --format {args.format}"
        )
    if args.jobs is not None and args.jobs < 1:
        raise CliError("--jobs must be at least 1")
    global _known_rules
    mode = runner.Mode.FIX if args.fix else runner.Mode.DIFF if args.diff else runner.Mode.CHECK
    cache_dir = None if args.no_cache or mode is not runner.Mode.CHECK else _cache_dir(args)
    if cache_dir is not None and _known_rules is None:
        _known_rules = cache.known_rules(cache_dir)
    select = _rule_list(args.select, "--select")
    ignore = _rule_list(args.ignore, "--ignore")
    explicit: str | None = None
    if args.config is not None:
        explicit = args.config
        if not os.path.isfile(explicit):
            raise CliError(f"{args.config}: configuration file not found")
    problems = ConfigProblems()
    paths: list[str] = args.paths or ["."]
    started = time.perf_counter()
    found = discover(paths, _Scopes(explicit, select, ignore, problems))
    for message in problems.messages:
        _warning(message)
    for message in found.warnings:
        _warning(message)

    progress = None
    if not args.no_progress and _is_tty(sys.stderr):
        progress = runner.ProgressLine(sys.stderr)
    try:
        outcome = runner.check_targets(
            mode,
            found.targets,
            found.scopes,
            jobs=args.jobs,
            progress=progress,
            cache_dir=cache_dir,
            unsafe=args.unsafe_fixes,
            listings=found.listings,
        )
    finally:
        if progress is not None:
            progress.clear()
    elapsed = time.perf_counter() - started
    for message in outcome.warnings:
        _warning(message)

    fmt = args.format or "text"
    out = sys.stdout
    if mode is runner.Mode.DIFF:
        for result in outcome.files:
            if result.diff:
                _write_bytes(out, result.diff)
    elif fmt == "json":
        from golsp_leaks.cli.report import json_document

        _write_json(out, json_document(outcome))
    elif fmt == "sarif":
        from golsp_leaks.cli.sarif import sarif_document
        from golsp_leaks.rules import all_rules

        _write_json(out, sarif_document(outcome, all_rules()))
    else:
        from golsp_leaks.cli.report import render_text

        _write_text(out, render_text(outcome))

    if mode is not runner.Mode.CHECK or fmt == "text":
        from golsp_leaks.cli.report import fix_summary, summary
    if mode is not runner.Mode.CHECK:
        print(fix_summary(outcome, mode is runner.Mode.DIFF, args.unsafe_fixes), file=sys.stderr)
    if fmt == "text" and mode is not runner.Mode.DIFF:
        print(summary(outcome), file=sys.stderr)
    if args.stats:
        rate = outcome.lines / elapsed if elapsed > 0 else 0.0
        print(
            f"checked {outcome.files_checked} files, {outcome.lines} lines in {elapsed:.2f} s ({rate:,.0f} lines/s)",
            file=sys.stderr,
        )
        if cache_dir is not None:
            print(f"{outcome.cached} of them from the cache in {cache_dir}", file=sys.stderr)
    return _status(outcome, args.fail_on)


def _cache_dir(args: argparse.Namespace) -> str | None:
    """The cache directory, created; None (with a warning) when it cannot be."""
    directory = args.cache_dir or cache.default_dir()
    try:
        cache.prepare(directory)
    except OSError as exc:
        _warning(f"cannot use the cache directory {directory}: {exc.strerror or exc}; running without it")
        return None
    return str(directory)


def _clean(args: argparse.Namespace) -> int:
    directory = args.cache_dir or cache.default_dir()
    try:
        removed = cache.clean(directory)
    except OSError as exc:
        raise CliError(str(exc)) from exc
    print(f"removed {directory}" if removed else f"no cache at {directory}", file=sys.stderr)
    return 0


def _write_bytes(out: TextIO, data: bytes) -> None:
    out.flush()
    buffer = getattr(out, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        out.write(data.decode("utf-8", errors="replace"))
        out.flush()


def _write_text(out: TextIO, text: str) -> None:
    """Text in the stream's encoding; what it cannot encode (or a file name's stray bytes) is replaced."""
    encoding = getattr(out, "encoding", None) or "utf-8"
    _write_bytes(out, text.encode(encoding, errors="replace"))


def _write_json(out: TextIO, document: object) -> None:
    """JSON is UTF-8, whatever the terminal's encoding."""
    from golsp_leaks.cli.report import to_json

    text = to_json(document) + "\n"
    _write_bytes(out, text.encode("utf-8", errors="replace"))


def _status(outcome: runner.Outcome, fail_on: str) -> int:
    if fail_on == "never":
        return 0
    threshold = Severity.parse(fail_on)
    return 1 if any(report.severity >= threshold for _, report in outcome.reports) else 0


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# --------------------------------------------------------------------------- rules


def rule_json(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": type(rule).__name__,
        "summary": rule.summary,
        "default_severity": rule.default_severity.label,
        "fixable": rule.fixable,
        "documentation": rule.documentation(),
    }


def _rules(args: argparse.Namespace) -> int:
    from golsp_leaks.docs import documented_rule, documented_rules

    out = sys.stdout
    if args.rule is not None:
        rule = documented_rule(args.rule)
        if rule is None:
            raise CliError(f"unknown rule {args.rule!r} (known rules: {', '.join(r.id for r in documented_rules())})")
        if args.format == "json":
            _write_json(out, rule_json(rule))
        else:
            fixable = ", fixable" if rule.fixable else ""
            title = f"{rule.id} ({rule.default_severity.label}{fixable}): {rule.summary}"
            _write_text(out, f"{title}\n\n{rule.documentation() or rule.summary}\n")
        return 0
    rules = documented_rules()
    if args.format == "json":
        _write_json(out, [rule_json(r) for r in rules])
        return 0
    header = ("RULE", "SEVERITY", "FIXABLE", "SUMMARY")
    rows = [
        (r.id, r.default_severity.label, "yes" if r.fixable else "no", r.summary) for r in rules
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + f"  {row[3]}\n"
        for row in [header, *rows]
    ]
    _write_text(out, "".join(lines))
    return 0


# --------------------------------------------------------------------------- serve


def parse_tcp(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[::1]:PORT`` or just ``PORT`` (on 127.0.0.1)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not host or not 0 <= number <= 65535:
        raise CliError(f"--tcp expects HOST:PORT, got {text!r}")
    return host, number


def _serve(args: argparse.Namespace) -> int:
    tcp = parse_tcp(args.tcp) if args.tcp else None
    try:
        from golsp_leaks import server
    except ImportError as exc:
        raise CliError(f"the language server is not available: {exc}") from exc
    run: Callable[..., object] | None = getattr(server, "run", None)
    if run is None:
        raise CliError("the language server is not available in this installation")
    import inspect
    import logging

    try:
        params = inspect.signature(run).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    kwargs: dict[str, object] = {}
    if args.log_file and "log_file" in params:
        kwargs["log_file"] = args.log_file
    elif args.log_file:
        logging.basicConfig(
            filename=args.log_file,
            level=logging.DEBUG if args.verbose else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    if args.verbose and "verbose" in params:
        kwargs["verbose"] = True
    try:
        run(tcp, **kwargs)
    except OSError as exc:
        if tcp is None:
            raise
        raise CliError(f"cannot listen on {tcp[0]}:{tcp[1]}: {exc.strerror or exc}") from exc
    return 0
