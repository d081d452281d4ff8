"""`tb-gradcause report LOGDIR`: what went wrong in each run, for people or as JSON.

Exit status: 0 = reported; 1 = `--fail-on` found an event that severe or worse;
2 = the logdir is missing or unreadable, holds no gradcause data, `--run` is unknown, or a run
could not be read (the other runs are still reported).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from typing import Any

from tensorboard import errors

from tb_gradcause.analysis import causes, engine, reader

EXIT_FAIL_ON = 1
EXIT_UNUSABLE = 2
WIDTH = 100  # columns of the text report


class UnusableInput(Exception):
    """The logdir or `--run` cannot be reported on; the message says why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Explain what went wrong in each run of LOGDIR that holds tb_gradcause data."
    parser.epilog = (
        "exit status: 0 reported; 1 --fail-on found an event that severe or worse; 2 the logdir is missing, "
        "unreadable or holds no gradcause data, --run is unknown, or a run could not be read"
    )
    parser.add_argument("logdir", help="directory of runs, as given to `tensorboard --logdir`")
    parser.add_argument("--run", help="report only this run (its path relative to LOGDIR, as TensorBoard names it)")
    parser.add_argument(
        "--json", action="store_true", help='print {"runs": {RUN: {"events", "checked", "skipped"}}} instead of text'
    )
    parser.add_argument(
        "--fail-on",
        choices=[s for s in causes.SEVERITIES if s != "info"],
        help="exit with status 1 when an event of this severity or worse was found",
    )
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Analyze the runs of `args.logdir` and print them; return the exit status."""
    try:
        results, failures = analyze_logdir(args.logdir, args.run)
    except UnusableInput as e:
        print(f"tb-gradcause report: {e}", file=sys.stderr)
        return EXIT_UNUSABLE
    if args.json:
        # Causes are JSON-ready (`Cause.to_json`): NaN/Inf are already TensorBoard's strings.
        print(json.dumps({"runs": results}, indent=2, allow_nan=False))
    else:
        print("\n".join(format_run(run, result) for run, result in results.items()), end="")
    for run, why in failures.items():
        print(f"tb-gradcause report: run {run!r} not reported: {why}", file=sys.stderr)
    if failures:
        return EXIT_UNUSABLE
    if args.fail_on and any(_rank(e["severity"]) >= _rank(args.fail_on) for r in results.values() for e in r["events"]):
        return EXIT_FAIL_ON
    return 0


def analyze_logdir(logdir: str, run: str | None = None) -> tuple[dict[str, dict], dict[str, str]]:
    """`({run: engine.analyze result}, {run: why it could not be read})` for every gradcause run."""
    if not os.path.isdir(logdir):
        raise UnusableInput(f"logdir {logdir!r} does not exist or is not a directory")
    if not os.access(logdir, os.R_OK | os.X_OK):
        raise UnusableInput(f"logdir {logdir!r} is not readable")
    failures: dict[str, str] = {}
    try:
        runs = reader.read_logdir(logdir, run, failures=failures)
    except errors.NotFoundError as e:
        raise UnusableInput(str(e)) from None
    if not runs and not failures:
        raise UnusableInput(f"no gradcause data under {logdir!r} (was GradCauseCallback given this log_dir?)")
    return {name: engine.analyze(data) for name, data in runs.items()}, failures


def format_run(run: str, result: dict[str, Any]) -> str:
    """A run's events in step order, each with its evidence, cause chain and advice."""
    found = result["events"]
    lines = [f"== {run}: " + (f"{len(found)} event(s)" if found else "no problems found")]
    by_id = {event["id"]: event for event in found}
    for event in found:
        steps = f"step {event['first_step']}"
        if event["last_step"] != event["first_step"]:
            steps = f"steps {event['first_step']}-{event['last_step']}"
        lines.append(f"\n{event['severity'].upper():7} {event['kind']} in {event['layer'] or 'the run'}, {steps}")
        lines.append(_field("", event["title"]))
        lines += [_field("evidence: ", _evidence(item)) for item in event["evidence"]]
        chain = _chain(event, by_id)
        if len(chain) > 1:
            lines.append(_field("cause chain: ", " -> ".join(_short(e) for e in chain)))
        lines += [_field("also caused by: ", _short(by_id[c])) for c in event["caused_by"][1:] if c in by_id]
        lines.append(_field("advice: ", event["advice"]))
    lines.append("\n" + _field("checked: ", ", ".join(result["checked"]) or "nothing"))
    lines += [_field("not checked: ", f"{kind}: {why}") for kind, why in result["skipped"].items()]
    return "\n".join(lines) + "\n"


def _field(label: str, text: str) -> str:
    """`  label: text`, wrapped to 100 columns under the text's start."""
    indent = " " * (2 + len(label))
    return textwrap.fill(
        text,
        WIDTH,
        initial_indent="  " + label,
        subsequent_indent=indent,
        break_long_words=False,  # keep ids, paths and numbers whole
        break_on_hyphens=False,
    )


def _chain(event: dict, by_id: dict[str, dict]) -> list[dict]:
    """The event's root cause first, following each event's first cause."""
    chain = [event]
    while chain[0]["caused_by"] and chain[0]["caused_by"][0] in by_id:
        cause = by_id[chain[0]["caused_by"][0]]
        if cause in chain:
            break
        chain.insert(0, cause)
    return chain


def _short(event: dict) -> str:
    return f"{event['kind']} ({event['layer'] or 'run'}, step {event['first_step']})"


def _evidence(item: dict) -> str:
    text = f"{item['metric']} = {_number(item['value'])} {item['op']} {_number(item['threshold'])}"
    if item.get("step") is not None:
        text += f" at step {item['step']}"
    return text + (f" ({item['note']})" if item.get("note") else "")


def _number(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _rank(severity: str) -> int:
    return causes.SEVERITIES.index(severity)
