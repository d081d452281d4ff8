"""`tb-gradcause report LOGDIR`: what went wrong in each run, for people, as Markdown or as JSON.

Exit status: 0 = reported; 1 = `--fail-on` found an event that severe or worse;
2 = the logdir is missing or unreadable, holds no gradcause data, `--run` is unknown, or something
could not be read in full (a run in a newer format, a truncated or corrupt event file): what could
be read is still reported, and stderr says what was left out.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence

from tb_gradcause.analysis import causes, no_tensorflow
from tb_gradcause.analysis.causes import Cause, Evidence, RunDiagnosis
from tb_gradcause.analysis.integrity import Damage
from tb_gradcause.analysis.logdir import LogdirDiagnosis, UnusableLogdir, diagnose_logdir
from tb_gradcause.analysis.signals import wording
from tb_gradcause.cli.quiet import import_tensorflow_quietly

EXIT_FAIL_ON = 1
EXIT_UNUSABLE = 2
WIDTH = 100  # columns of the text report
FORMATS = ("text", "markdown", "json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Explain what went wrong in each run of LOGDIR that holds tb_gradcause data."
    parser.epilog = (
        "exit status: 0 reported; 1 --fail-on found an event that severe or worse; 2 the logdir is missing, "
        "unreadable or holds no gradcause data, --run is unknown, or something could not be read in full "
        "(a run in a newer format, a truncated or corrupt event file: the rest is still reported)"
    )
    parser.add_argument("logdir", help="directory of runs, as given to `tensorboard --logdir`")
    parser.add_argument("--run", help="report only this run (its path relative to LOGDIR, as TensorBoard names it)")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text for the terminal, markdown to paste into an issue or a CI summary, or json: "
        '{"runs": {RUN: {"events", "checked", "skipped"}}, "unreadable", "skipped_runs", "damaged"}',
    )
    parser.add_argument("--json", action="store_const", const="json", dest="format", help="the same as --format json")
    parser.add_argument(
        "--fail-on",
        choices=[s for s in causes.SEVERITIES if s != "info"],
        help="exit with status 1 when an event of this severity or worse was found",
    )
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Analyze the runs of `args.logdir` and print them; return the exit status."""
    if "://" in args.logdir:
        import_tensorflow_quietly()  # TensorBoard's loader reaches remote file systems through it
    else:
        no_tensorflow.use_stub()  # local files: seconds of TensorFlow's import saved
    try:
        found = diagnose_logdir(args.logdir, args.run)
    except UnusableLogdir as e:
        print(f"tb-gradcause report: {e}", file=sys.stderr)
        return EXIT_UNUSABLE
    if args.format == "json":
        # Causes are JSON-ready (`Cause.to_json`): NaN/Inf are already TensorBoard's strings.
        print(json.dumps(found.to_json(), indent=2, allow_nan=False))
    elif args.format == "markdown":
        print(format_markdown(args.logdir, found), end="")
    else:
        damaged = {run: [d for d in found.damaged if d.run == run] for run in found.runs}
        print("\n".join(format_run(run, result, damaged[run]) for run, result in found.runs.items()), end="")
        print("\n" + logdir_summary(args.logdir, found))
    for run, why in found.unreadable.items():
        print(f"tb-gradcause report: run {run!r} not reported: {why}", file=sys.stderr)
    for damage in found.damaged:
        print(f"tb-gradcause report: damaged event file {damage.describe()}", file=sys.stderr)
    tripped = _tripped(found, args.fail_on) if args.fail_on else []
    for run, event in tripped:
        print(
            f"tb-gradcause report: --fail-on {args.fail_on}: {event.severity} {event.kind} "
            f"in {event.layer or 'the run'} of run {run!r} at step {event.first_step}",
            file=sys.stderr,
        )
    if not found.complete:
        return EXIT_UNUSABLE
    return EXIT_FAIL_ON if tripped else 0


def _tripped(found: LogdirDiagnosis, severity: str) -> list[tuple[str, Cause]]:
    """(run, event) of every event at `severity` or worse."""
    return [
        (run, event) for run, result in found.runs.items() for event in result.causes if event.rank >= _rank(severity)
    ]


def run_summary(result: RunDiagnosis) -> str:
    """'2 events: 1 error, 1 warning; first error NaN/Inf values (nan_inf) in dense_1 at step 9' or 'no problems
    found'."""
    found = result.causes
    if not found:
        return "no problems found"
    counts = [
        f"{n} {severity}{'s' if n > 1 else ''}"
        for severity in reversed(causes.SEVERITIES)
        if (n := sum(e.severity == severity for e in found))
    ]
    text = f"{len(found)} event{'s' if len(found) > 1 else ''}: {', '.join(counts)}"
    worst = max(found, key=lambda e: (e.rank, -e.first_step))
    where = f"in {worst.layer or 'the run'} at step {worst.first_step}"
    return f"{text}; first {worst.severity} {_named(worst)} {where}"


def logdir_summary(logdir: str, found: LogdirDiagnosis) -> str:
    """One line for the whole logdir: runs by worst severity, and what was left out."""
    worst = [r.worst for r in found.runs.values()]
    parts = [f"{len(found.runs)} run{'s' if len(found.runs) != 1 else ''} reported"]
    by = [f"{worst.count(s)} with {s}s" for s in reversed(causes.SEVERITIES) if worst.count(s)]
    by += [f"{worst.count(None)} without problems"] if worst.count(None) else []
    parts[0] += f" ({', '.join(by)})" if by else ""
    if found.unreadable:
        parts.append(f"{len(found.unreadable)} not readable ({', '.join(found.unreadable)})")
    if found.damaged:
        parts.append(f"{len(found.damaged)} damaged event file{'s' if len(found.damaged) > 1 else ''}")
    if found.skipped:
        parts.append(f"skipped without gradcause data: {', '.join(found.skipped)}")
    return f"== {logdir}: " + "; ".join(parts)


def format_run(run: str, result: RunDiagnosis, damaged: Sequence[Damage] = ()) -> str:
    """A run's events in step order, each with its evidence, cause chain and advice; first, the
    damaged event files that may have cut it short."""
    found = result.causes
    lines = [f"== {run}: {run_summary(result)}"]
    lines += [_field("DAMAGED: ", damage.describe()) for damage in damaged]
    by_id = {event.id: event for event in found}
    for event in found:
        lines.append(f"\n{event.severity.upper():7} {_named(event)} in {event.layer or 'the run'}, {_steps(event)}")
        lines.append(_field("", event.title))
        lines += [_field("evidence: ", _evidence(item)) for item in event.evidence]
        chain = _chain(event, by_id)
        if len(chain) > 1:
            lines.append(_field("cause chain: ", " -> ".join(_short(e) for e in chain)))
        lines += [_field("also caused by: ", _short(by_id[c])) for c in event.caused_by[1:] if c in by_id]
        lines.append(_field("advice: ", event.advice))
    lines.append("\n" + _field("checked: ", ", ".join(result.checked) or "nothing"))
    lines += [_field("not checked: ", f"{kind}: {why}") for kind, why in result.skipped.items()]
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


def _chain(event: Cause, by_id: dict[str, Cause]) -> list[Cause]:
    """The event's root cause first, following each event's first cause."""
    chain = [event]
    while chain[0].caused_by and chain[0].caused_by[0] in by_id:
        cause = by_id[chain[0].caused_by[0]]
        if cause in chain:
            break
        chain.insert(0, cause)
    return chain


def _named(event: Cause) -> str:
    """'exploding gradients (exploding_gradient)': the cause in words, its kind id kept for grep and --fail-on."""
    return f"{wording.CAUSE_WORDS[event.kind]} ({event.kind})"


def _short(event: Cause) -> str:
    return f"{wording.CAUSE_WORDS[event.kind]} ({event.layer or 'run'}, step {event.first_step})"


def _evidence(item: Evidence) -> str:
    """'share of the ReLU units dead = 1 >= 0.9 (median over steps 0–250)': the plain label, the
    rule that held with its figures written as titles and advice write them, then the note."""
    text = f"{item.label} = {wording.num(item.value)} {item.op} {wording.num(item.threshold)}"
    if item.step is not None:
        text += f" at step {item.step}"
    return text + (f" ({item.note})" if item.note else "")


def _rank(severity: str) -> int:
    return causes.SEVERITIES.index(severity)


def format_markdown(logdir: str, found: LogdirDiagnosis) -> str:
    """The report as GitHub-flavoured Markdown: a table of every run's events, then each event's
    evidence, cause chain and advice."""
    lines = [f"## tb-gradcause report: {_md(logdir)}", "", _md(logdir_summary(logdir, found).split(": ", 1)[1]), ""]
    lines += [f"> **Damaged event file** {_md(d.describe())}" for d in found.damaged]
    lines += [f"> **Not reported**: run {_md(run)}: {_md(why)}" for run, why in found.unreadable.items()]
    for run, result in found.runs.items():
        lines += ["", f"### Run {_md(run)}: {_md(run_summary(result))}", ""]
        events = result.causes
        if events:
            lines += ["| severity | cause | layer | steps | what |", "|---|---|---|---|---|"]
            # Kind ids are identifiers (nothing to escape): kept as is, greppable in the Markdown too.
            lines += [
                f"| {e.severity} | {_md(wording.CAUSE_WORDS[e.kind])} ({e.kind}) | {_md(e.layer or '(run)')} "
                f"| {_steps(e)} | {_md(e.title)} |"
                for e in events
            ]
        by_id = {event.id: event for event in events}
        for e in events:
            words = _md(wording.CAUSE_WORDS[e.kind])
            lines += ["", f"**{words}** ({e.kind}) in {_md(e.layer or 'the run')}, {_steps(e)}", ""]
            lines += [f"- evidence: {_md(_evidence(item))}" for item in e.evidence]
            chain = _chain(e, by_id)
            if len(chain) > 1:
                lines.append(f"- cause chain: {_md(' -> '.join(_short(c) for c in chain))}")
            lines.append(f"- advice: {_md(e.advice)}")
        lines += [""] if events else []
        lines.append(f"Checked: {', '.join(result.checked) or 'nothing'}.")
        lines += [f"Not checked: {kind} ({_md(why)})." for kind, why in result.skipped.items()]
    return "\n".join(lines) + "\n"


def _steps(event: Cause) -> str:
    first, last = event.first_step, event.last_step
    return f"step {first}" if first == last else f"steps {first}-{last}"


def _md(text: str) -> str:
    """`text` safe inside a Markdown table cell or paragraph: no table breaks, no markup, no HTML."""
    for char in "\\`*_[]<>|#":
        text = text.replace(char, "\\" + char)
    return text.replace("\n", " ")
