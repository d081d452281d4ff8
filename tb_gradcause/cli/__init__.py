"""`tb-gradcause` command line: `report` reviews event files, `demo` shows the tab on demo runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tb-gradcause", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    from tb_gradcause.cli import demo_command, report

    report.add_arguments(commands.add_parser("report", help="explain what went wrong in the runs of a logdir"))
    demo_command.add_arguments(
        commands.add_parser("demo", help="write the demo scenarios' runs and open TensorBoard on them")
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
