"""The `reservoir triage` command line: one subcommand per module.

Each module named in COMMAND_MODULES (inside this package) exports
  NAME                  the subcommand's name
  HELP                  one line for the command list
  add_arguments(parser) adds its options to an argparse parser
  main(args) -> int     runs it; args also carries `root` (the repository)
Bad usage exits 2 with one line `reservoir triage: <reason>`.
"""
import argparse
import importlib
import sys

from .util import PROG, TriageError, fail, repo_root

# Subcommand modules, in the order `--help` lists them.
COMMAND_MODULES = [
    "parse",
    "signature",
    "store",
    "reproduce",
    "minimise",
    "report",
    "regress",
    "run",
]


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error and exit status 2."""

    def error(self, message):
        fail(f"{self.prog.replace(PROG, '').strip() or 'usage'}: {message}"
             f" (see {self.prog} --help)")


def build_parser():
    parser = ArgumentParser(
        prog=PROG,
        description="Triage crashes from Reservoir's fuzz targets, replays "
                    "and sanitizer builds: parse logs, sign and "
                    "deduplicate them, remember findings across runs.",
        epilog="Every command accepts --help. Exit status: 0 on success, "
               "1 when a job found a failure, 2 on bad usage or unreadable "
               "input.")
    parser.add_argument("--root", default=repo_root(),
                        help="the repository root (default: the one this "
                             "script lives in)")
    sub = parser.add_subparsers(dest="command", metavar="<command>",
                                parser_class=ArgumentParser)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f".{name}", __package__)
        p = sub.add_parser(module.NAME, help=module.HELP,
                           description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_main=module.main)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if getattr(args, "_main", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args._main(args) or 0)
    except TriageError as e:
        fail(str(e))
    except BrokenPipeError:
        return 1
    except KeyboardInterrupt:
        fail("interrupted", status=130)
