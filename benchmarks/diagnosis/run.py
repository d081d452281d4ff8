"""Diagnosis benchmark: train every case with the default `GradCauseCallback`, report, score.

    python benchmarks/diagnosis/run.py [--cases NAME ...] [--jobs N] [--out DIR] [--json FILE] [--score-only]
                                       [--timeout SECONDS] [--threads N] [--list]

Each case (`benchmarks/diagnosis/cases/<name>.py`, interface in `cases/__init__.py`) trains in
its own subprocess (`_worker.py`: fresh Keras state) with the callbacks
`[GradCauseCallback(OUT/<name>), <a per-batch loss and global-step recorder>]`. A case that
crashes or runs past --timeout is reported as such. Then `python -m tb_gradcause.cli report OUT
--json` reads every run, and the events are scored against the cases' labels (definitions in
README.md). Prints a table per case and the totals; writes everything to --json
(default OUT/results.json).
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import importlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CASES_DIR = os.path.join(HERE, "cases")
WORKER = os.path.join(HERE, "_worker.py")
ALARM = ("warning", "error")
ACTIVE: set = set()  # worker processes running now (killed if the runner is interrupted)

TARGETS = {"recall": 0.90, "right_layer": 0.85, "precision": 0.80, "healthy_alarmed": 0}

# Their figures, on their own benchmarks -- not comparable one to one with ours (other programs,
# other label sets), printed for orientation only. Sources: docs in /work/shared/notes and the papers.
PUBLISHED = [
    ("DeepFD (ISSTA'22)", "52 programs (DeepFD set)", "47/52 detected, 27/52 diagnosed (52 %), 22/52 localized (42 %)"),
    ("DEFault (ICSE'25)", "52 programs (DEFault set)", "~94 % detection recall, ~63 % diagnosis recall"),
    ("DeepDiagnosis (ICSE'22)", "53 programs (DeepDiagnosis set)", "46/53 detected, 34/53 localized, 28 fix locations"),
    ("DeepLocalize (ICSE'21)", "DeepLocalize set", "45 detected, 26 localized"),
]


# --------------------------------------------------------------------------------------------
# cases


def documented_kinds() -> set[str]:
    """The cause kinds docs/causes.md describes (its "## <kind> (severity)" headings)."""
    import re

    path = os.path.join(os.path.dirname(os.path.dirname(HERE)), "docs", "causes.md")
    try:
        text = open(path).read()
    except OSError:
        return set()
    return set(re.findall(r"^## ([a-z_]+) \(", text, flags=re.M))


def discover() -> list[str]:
    return sorted(f[:-3] for f in os.listdir(CASES_DIR) if f.endswith(".py") and not f.startswith("_"))


def load_labels(name: str) -> dict:
    """The case's labels: its module-level constants, read from the source as literals (no Keras
    import in the runner); a label that is not a literal is read by importing the module."""
    path = os.path.join(CASES_DIR, f"{name}.py")
    labels = {"SOURCE": "", "URL": "", "FIX": "", "MECHANISM": "", "HEALTHY": None, "EXPECTED": None, "ACCEPTABLE": []}

    tree = ast.parse(open(path).read(), path)
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name) and target.id in labels:
                try:
                    labels[target.id] = ast.literal_eval(value)
                except ValueError:
                    labels.setdefault("_computed", []).append(target.id)
    if labels.pop("_computed", None):
        if HERE not in sys.path:
            sys.path.insert(0, HERE)
        module = importlib.import_module(f"cases.{name}")
        for key in list(labels):
            if hasattr(module, key):
                labels[key] = getattr(module, key)
    problems = labels.setdefault("problems", [])
    if labels["HEALTHY"] is None:
        problems.append("HEALTHY missing")
    if labels["EXPECTED"] is None:
        problems.append("EXPECTED missing")
        labels["EXPECTED"] = []
    if labels["HEALTHY"] and labels["EXPECTED"]:
        problems.append("healthy case with EXPECTED causes")
    if labels["HEALTHY"] is False and not labels["EXPECTED"]:
        problems.append("buggy case without EXPECTED causes")
    kinds = documented_kinds()
    for cause in labels["EXPECTED"]:
        if not isinstance(cause, dict) or "kind" not in cause:
            problems.append(f"bad EXPECTED entry {cause!r}")
        elif kinds and cause["kind"] not in kinds:
            # allowed (a fault the tool has no detector for is a miss, and should be counted), but said
            problems.append(f"expected kind {cause['kind']!r} is no documented cause kind")
    return labels


# --------------------------------------------------------------------------------------------
# running


def run_case(name: str, out: str, timeout: float, threads: int) -> dict:
    run_dir = os.path.join(out, name)
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(os.path.join(out, "_records"), exist_ok=True)
    record_path = os.path.join(out, "_records", f"{name}.json")
    log_path = os.path.join(out, "_records", f"{name}.log")
    if os.path.exists(record_path):
        os.remove(record_path)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, WORKER, name, run_dir, record_path, "--threads", str(threads)]
    started = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        ACTIVE.add(proc)
        try:
            proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the worker's own process group (started by us)
            proc.wait()
            timed_out = True
        finally:
            ACTIVE.discard(proc)
    wall = round(time.perf_counter() - started, 1)
    record: dict = {}
    if os.path.exists(record_path):
        with open(record_path) as f:
            record = json.load(f)
    if timed_out:
        record["status"] = "timeout"
        record["error"] = f"no result after {timeout:.0f} s"
    elif not record:
        record = {"status": "crashed", "error": f"worker exited {proc.returncode} without a record"}
    if record.get("seconds") is None:
        record["seconds"] = wall
    if record.get("status") == "crashed" and record.get("error") is None:
        record["error"] = f"worker exited {proc.returncode}"
    record["wall_seconds"] = wall
    record["log"] = log_path
    return record


def report(out: str) -> tuple[dict, str | None]:
    cmd = [sys.executable, "-m", "tb_gradcause.cli", "report", out, "--json"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    try:
        return json.loads(proc.stdout), None
    except json.JSONDecodeError:
        return {"runs": {}}, f"report exited {proc.returncode}: {proc.stderr.strip()[-2000:]}"


# --------------------------------------------------------------------------------------------
# scoring


def case_runs(runs: dict, name: str) -> dict | None:
    """The report's runs of one case merged: the callback writes OUT/<case>/train (like Keras'
    TensorBoard callback), so the report names it "<case>/train"; any run under OUT/<case> counts."""
    mine = [run for key, run in sorted(runs.items()) if key == name or key.startswith(name + "/")]
    if not mine:
        return None
    return {
        "events": [e for run in mine for e in run.get("events", [])],
        "checked": sorted({c for run in mine for c in run.get("checked", [])}),
        "skipped": {k: v for run in mine for k, v in (run.get("skipped") or {}).items()},
    }


def _finite_losses(values) -> list[float]:
    out = []
    for v in values or []:
        if isinstance(v, (int, float)) and math.isfinite(v):
            out.append(float(v))
    return out


def score_case(name: str, labels: dict, record: dict, run: dict | None) -> dict:
    events = (run or {}).get("events", [])
    alarms = [e for e in events if e.get("severity") in ALARM]
    nan_step = record.get("first_nonfinite_step")
    onset = nan_step if nan_step is not None else 0
    epoch_losses = record.get("epoch_losses") or []
    batch_losses = record.get("batch_losses") or []
    first_loss = _finite_losses(batch_losses[:1])[0] if _finite_losses(batch_losses[:1]) else None
    last_loss = _finite_losses(epoch_losses[-1:])[0] if _finite_losses(epoch_losses[-1:]) else None
    result = {
        "case": name,
        "healthy": bool(labels["HEALTHY"]),
        "status": record.get("status"),
        "error": record.get("error"),
        "seconds": record.get("seconds"),
        "cpu_seconds": record.get("cpu_seconds"),
        "wall_seconds": record.get("wall_seconds"),
        "steps": record.get("steps"),
        "first_nonfinite_step": nan_step,
        "onset": onset,
        "epoch_losses": epoch_losses,
        "loss_first_batch": first_loss,
        "loss_last_epoch": last_loss,
        # the History's last epoch loss below the loss of the first batch (the untrained model)
        "loss_fell": (last_loss < first_loss) if first_loss is not None and last_loss is not None else None,
        "in_report": run is not None,
        "events": [
            {k: e.get(k) for k in ("kind", "severity", "layer", "first_step", "last_step", "title")} for e in events
        ],
        "skipped_detectors": (run or {}).get("skipped") or {},
        "label_problems": labels.get("problems", []),
        "expected": [],
    }
    first_alarm = min((e["first_step"] for e in alarms if e.get("first_step") is not None), default=None)
    result["first_alarm_step"] = first_alarm
    if nan_step is not None and first_alarm is not None:
        result["lead"] = nan_step - first_alarm  # > 0: warned that many steps before the first NaN
    else:
        result["lead"] = None
    if labels["HEALTHY"]:
        result["alarms"] = [f"{e['kind']}@{e.get('layer')}: {e.get('title')}" for e in alarms]
        return result
    allowed = {c["kind"] for c in labels["EXPECTED"]} | set(labels.get("ACCEPTABLE") or [])
    result["alarms_total"] = len(alarms)
    result["alarms_allowed"] = sum(1 for e in alarms if e.get("kind") in allowed)
    result["false_alarms"] = [f"{e['kind']}@{e.get('layer')}" for e in alarms if e.get("kind") not in allowed]
    for cause in labels["EXPECTED"]:
        kind, layer = cause["kind"], cause.get("layer")
        matching = [e for e in events if e.get("kind") == kind]
        right = [e for e in matching if layer is None or e.get("layer") == layer]
        steps = [e["first_step"] for e in matching if e.get("first_step") is not None]
        first = min(steps) if steps else None
        result["expected"].append(
            {
                "kind": kind,
                "layer": layer,
                "found": bool(matching),
                "found_alarm": any(e.get("severity") in ALARM for e in matching),
                "right_layer": bool(right),
                "layers_named": sorted({str(e.get("layer")) for e in matching}),
                "delay": (first - onset) if first is not None else None,
            }
        )
    return result


def totals(scored: list[dict]) -> dict:
    buggy = [s for s in scored if not s["healthy"]]
    healthy = [s for s in scored if s["healthy"]]
    ok_buggy = [s for s in buggy if s["status"] == "ok"]
    ok_healthy = [s for s in healthy if s["status"] == "ok"]
    exp = [c for s in ok_buggy for c in s["expected"]]
    exp_all = sum(len(s["expected"]) for s in buggy)
    found = sum(c["found"] for c in exp)
    right = sum(c["right_layer"] for c in exp)
    alarms = sum(s["alarms_total"] for s in ok_buggy)
    allowed = sum(s["alarms_allowed"] for s in ok_buggy)
    delays = [c["delay"] for c in exp if c["delay"] is not None]
    nan_runs = [s for s in scored if s["status"] == "ok" and s["first_nonfinite_step"] is not None]
    leads = [s["lead"] for s in nan_runs if s["lead"] is not None]
    alarmed = [s["case"] for s in ok_healthy if s["alarms"]]
    ratio = lambda a, b: (a / b) if b else None  # noqa: E731
    return {
        "cases": len(scored),
        "buggy": len(buggy),
        "healthy": len(healthy),
        "not_completed": [f"{s['case']} ({s['status']})" for s in scored if s["status"] != "ok"],
        "expected_causes": len(exp),
        "found": found,
        "found_only_at_info": sum(c["found"] and not c["found_alarm"] for c in exp),
        "recall": ratio(found, len(exp)),
        "recall_counting_crashes_as_misses": ratio(found, exp_all),
        "right_layer": right,
        "right_layer_rate": ratio(right, len(exp)),
        "cases_all_found": sum(all(c["found"] for c in s["expected"]) for s in ok_buggy),
        "cases_all_right_layer": sum(all(c["right_layer"] for c in s["expected"]) for s in ok_buggy),
        "buggy_alarms": alarms,
        "buggy_alarms_allowed": allowed,
        "precision": ratio(allowed, alarms),
        "healthy_completed": len(ok_healthy),
        "healthy_alarmed": alarmed,
        "healthy_loss_not_falling": [s["case"] for s in ok_healthy if s["loss_fell"] is False],
        "delay_median": statistics.median(delays) if delays else None,
        "delay_max": max(delays) if delays else None,
        "nan_runs": len(nan_runs),
        "nan_runs_warned_before_nan": sum(1 for v in leads if v > 0),
        "lead_median": statistics.median(leads) if leads else None,
        "lead_min": min(leads) if leads else None,
        "lead_max": max(leads) if leads else None,
    }


# --------------------------------------------------------------------------------------------
# printing


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.0f} %"


def print_table(scored: list[dict], tot: dict, seconds: float, report_error: str | None) -> None:
    print()
    head = f"{'case':34} {'kind':7} {'status':8} {'s':>5} {'steps':>5} {'NaN@':>5}  {'expected -> found / right layer (delay)':44} alarms"
    print(head)
    print("-" * len(head))
    for s in scored:
        nan = "" if s["first_nonfinite_step"] is None else str(s["first_nonfinite_step"])
        secs = "" if s.get("seconds") is None else f"{s['seconds']:.0f}"
        if s["healthy"]:
            exp = "(healthy)"
            if s["loss_first_batch"] is not None and s["loss_last_epoch"] is not None:
                exp += f" loss {s['loss_first_batch']:.3g} -> {s['loss_last_epoch']:.3g}"
            exp += "" if s["loss_fell"] is not False else " DID NOT FALL"
            alarms = "; ".join(s["alarms"]) or "none"
        else:
            parts = []
            for c in s["expected"]:
                mark = ("found" if c["found"] else "MISSED") + (
                    ""
                    if not c["found"]
                    else (" / layer ok" if c["right_layer"] else f" / layer {','.join(c['layers_named'])}")
                )
                delay = "" if c["delay"] is None else f" ({c['delay']:+d})"
                parts.append(f"{c['kind']}@{c['layer']}: {mark}{delay}")
            exp = "; ".join(parts) or "(no labels)"
            alarms = f"{s['alarms_allowed']}/{s['alarms_total']} allowed"
            if s["false_alarms"]:
                alarms += " other: " + ", ".join(s["false_alarms"])
        if s["lead"] is not None:
            alarms += f" | lead {s['lead']}"
        if s["status"] != "ok":
            alarms = (s.get("error") or "").strip().splitlines()[-1][:120] if s.get("error") else ""
        if s["label_problems"]:
            alarms += " | LABELS: " + "; ".join(s["label_problems"])
        print(
            f"{s['case'][:34]:34} {'healthy' if s['healthy'] else 'buggy':7} {s['status']:8} {secs:>5} {s.get('steps') or '':>5} {nan:>5}  {exp:44} {alarms}"
        )
    t = tot
    print()
    print(f"Totals ({t['cases']} cases: {t['buggy']} buggy, {t['healthy']} healthy; {seconds / 60:.1f} min wall)")
    if report_error:
        print(f"  REPORT FAILED: {report_error}")
    if t["not_completed"]:
        print(f"  not completed (crash/timeout): {', '.join(t['not_completed'])}")
    rows = [
        (
            "recall of expected causes",
            f"{t['found']}/{t['expected_causes']} = {_pct(t['recall'])}"
            f" ({t['found_only_at_info']} only at info; counting crashed cases as misses: {_pct(t['recall_counting_crashes_as_misses'])})",
            "target >= 90 %",
        ),
        ("right layer", f"{t['right_layer']}/{t['expected_causes']} = {_pct(t['right_layer_rate'])}", "target >= 85 %"),
        (
            "cases fully diagnosed / localized",
            f"{t['cases_all_found']} / {t['cases_all_right_layer']} of {t['buggy'] - sum(1 for s in scored if not s['healthy'] and s['status'] != 'ok')}",
            "",
        ),
        (
            "precision (warning/error, buggy runs)",
            f"{t['buggy_alarms_allowed']}/{t['buggy_alarms']} = {_pct(t['precision'])}",
            "target >= 80 %",
        ),
        (
            "healthy runs with a warning/error",
            f"{len(t['healthy_alarmed'])}/{t['healthy_completed']}"
            + (f" ({', '.join(t['healthy_alarmed'])})" if t["healthy_alarmed"] else ""),
            "target 0",
        ),
        ("detection delay (steps after onset)", f"median {t['delay_median']}, max {t['delay_max']}", ""),
        (
            "runs whose loss went NaN/Inf",
            f"{t['nan_runs']}; warned before the NaN in {t['nan_runs_warned_before_nan']};"
            f" lead median {t['lead_median']}, min {t['lead_min']}, max {t['lead_max']} steps",
            "",
        ),
    ]
    if t["healthy_loss_not_falling"]:
        rows.append(("healthy cases whose loss did not fall", ", ".join(t["healthy_loss_not_falling"]), "case bug"))
    for label, value, target in rows:
        print(f"  {label:40} {value:60} {target}")
    print()
    print("Published figures -- THEIR tools on THEIR benchmarks, not ours (orientation only):")
    for tool, bench, figures in PUBLISHED:
        print(f"  {tool:26} {bench:34} {figures}")


# --------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", metavar="NAME", help="case names (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="cases trained at once (default 2)")
    parser.add_argument(
        "--out",
        default=os.path.join(tempfile.gettempdir(), "tb_gradcause-diagnosis"),
        help="logdir for the runs (default: %(default)s)",
    )
    parser.add_argument("--json", help="results file (default OUT/results.json)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per case (default 300)")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow threads per case (default: cores / jobs)")
    parser.add_argument("--list", action="store_true", help="list the cases and their labels, run nothing")
    parser.add_argument(
        "--score-only",
        action="store_true",
        help="train nothing: report and score the runs (and their records) already in --out, e.g. after a "
        "detector change",
    )
    args = parser.parse_args(argv)

    names = discover()
    if args.cases:
        unknown = sorted(set(args.cases) - set(names))
        if unknown:
            parser.error(f"unknown cases: {', '.join(unknown)}")
        names = [n for n in names if n in args.cases]
    labels = {n: load_labels(n) for n in names}
    if args.list:
        for n in names:
            lab = labels[n]
            kind = "healthy" if lab["HEALTHY"] else "buggy"
            exp = ", ".join(f"{c.get('kind')}@{c.get('layer')}" for c in lab["EXPECTED"] if isinstance(c, dict))
            print(f"{n:40} {kind:8} {exp}  {'; '.join(lab['problems'])}")
        return 0

    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    threads = args.threads or max(1, (os.cpu_count() or 2) // max(1, args.jobs))
    started = time.perf_counter()
    records: dict[str, dict] = {}
    if args.score_only:
        for n in names:
            with open(os.path.join(out, "_records", f"{n}.json")) as f:
                records[n] = json.load(f)
        names_to_train: list[str] = []
    else:
        names_to_train = names
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs))
    try:
        futures = {pool.submit(run_case, n, out, args.timeout, threads): n for n in names_to_train}
        for future in concurrent.futures.as_completed(futures):
            n = futures[future]
            records[n] = future.result()
            r = records[n]
            print(
                f"[{time.perf_counter() - started:6.0f} s] {n}: {r['status']} "
                f"({r.get('seconds')} s, {r.get('cpu_seconds')} CPU s)",
                flush=True,
            )
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in list(ACTIVE):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        raise
    pool.shutdown()
    # only the runs of this invocation are scored; a report of OUT may list older runs too
    rep, report_error = report(out)
    runs = rep.get("runs", {})
    scored = [score_case(n, labels[n], records[n], case_runs(runs, n)) for n in names]
    seconds = time.perf_counter() - started
    tot = totals(scored)
    print_table(scored, tot, seconds, report_error)
    result = {
        "seconds": round(seconds, 1),
        "jobs": args.jobs,
        "threads_per_case": threads,
        "out": out,
        "report_error": report_error,
        "targets": TARGETS,
        "published": [{"tool": t, "benchmark": b, "figures": f} for t, b, f in PUBLISHED],
        "totals": tot,
        "cases": [dict(s, labels={k: v for k, v in labels[s["case"]].items() if k != "problems"}) for s in scored],
        "report": {k: v for k, v in runs.items() if k.split("/")[0] in names},
    }
    json_path = args.json or os.path.join(out, "results.json")
    with open(json_path, "w") as f:
        json.dump(result, f, indent=1, default=str)
    print(f"\nwrote {json_path}")
    return 1 if report_error else 0


if __name__ == "__main__":
    sys.exit(main())
