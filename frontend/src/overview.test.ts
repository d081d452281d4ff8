// Unit tests of overview.ts's pure helpers and urlstate.ts's hash format (run by `npm test`, see test.mjs).
// @ts-ignore -- node's types are not installed; the bundled test runs under node
import { test } from "node:test";
// @ts-ignore
import assert from "node:assert/strict";
import type { OverviewRun, Severity } from "./api";
import { defaultSelection, panelOrder, problemsFirst, runColor, runFilter } from "./overview";
import { parseHash, withView } from "./urlstate";

function line(run: string, worst: Severity | null, damaged = 0): OverviewRun {
  return {
    run,
    events: worst ? 1 : 0,
    counts: { info: 0, warning: 0, error: 0, ...(worst ? { [worst]: 1 } : {}) },
    worst: worst && { id: `x:${run}:1`, severity: worst, kind: "nan_inf", layer: null, first_step: 1 },
    summary: "",
    damaged: Array.from({ length: damaged }, () => ({
      run,
      path: `${run}/events`,
      offset: 1,
      size: 2,
      problem: "truncated",
      last_step: 0,
      text: "t",
    })),
    color: 0,
    signature: "s",
  };
}

test("problemsFirst orders by worst severity, then damaged files, then name", () => {
  const runs = [
    line("b_ok", null),
    line("a_ok", null),
    line("z_warn", "warning"),
    line("c_info", "info"),
    line("y_err", "error"),
    line("d_damaged", null, 1),
    line("a_err", "error"),
  ];
  assert.deepEqual(
    problemsFirst(runs).map((l) => l.run),
    ["a_err", "y_err", "z_warn", "c_info", "d_damaged", "a_ok", "b_ok"],
  );
  assert.equal(runs[0].run, "b_ok", "the input is not reordered");
  assert.deepEqual(defaultSelection(runs), ["a_err"]);
  assert.deepEqual(defaultSelection([]), []);
  // While a run is still being checked, the worst may be among them: no default yet.
  assert.equal(defaultSelection([...runs, { ...line("z_new", null), pending: true }]), null);
});

test("panelOrder is by name whatever order runs were ticked in", () => {
  assert.deepEqual(panelOrder(["train/b", "a", "train/a", "B"]), ["B", "a", "train/a", "train/b"]);
});

test("runFilter is a case-insensitive regex; an invalid one filters nothing and says why", () => {
  const f = runFilter("^lr_1e-?3");
  assert.equal(f.error, null);
  assert.ok(f.matches("LR_1e-3/train") && f.matches("lr_1e3") && !f.matches("x_lr_1e-3"));
  assert.ok(runFilter("").matches("anything"));
  const bad = runFilter("(unclosed");
  assert.ok(bad.error && bad.matches("anything"));
});

test("runColor follows TensorBoard's palette by run index, its dark variant and grey for unlisted runs", () => {
  assert.equal(runColor(0, false), "#425066");
  assert.equal(runColor(0, true), "#8e98a3");
  assert.equal(runColor(1, false), "#12b5cb");
  assert.equal(runColor(6, false), "#e8710a");
  assert.equal(runColor(7, false), runColor(0, false), "the palette repeats after 7 colours");
  assert.equal(runColor(null, false), "#e0e0e0");
});

test("the view goes into TensorBoard's hash next to its own items and comes back unchanged", () => {
  const runs = ["a&b=c", "train/run #1", 'x<img src=x onerror="1">', "ü/%20"];
  const view = { runs, filter: "^a|b&c", heatmap: "update_ratio" as const };
  const hash = withView("#gradcause&tagFilter=loss", view);
  assert.ok(hash.startsWith("gradcause&tagFilter=loss&p.gradcause.runs="), hash);
  assert.ok(hash.endsWith("&p.gradcause.heatmap=update_ratio"), hash);
  assert.ok(!/[#\s"<>]/.test(hash), `every special character is encoded: ${hash}`);
  assert.deepEqual(parseHash("#" + hash), view);
  // Replacing the view keeps TensorBoard's items and drops the old view; an empty filter and the
  // default heatmap are left out.
  const next = withView(hash, { runs: [], filter: "", heatmap: "gradient_norm" });
  assert.equal(next, "gradcause&tagFilter=loss&p.gradcause.runs=%5B%5D");
  assert.deepEqual(parseHash(next), { runs: [], filter: "", heatmap: "gradient_norm" });
});

test("a hash without a view, or with a malformed one, gives no selection and the default heatmap", () => {
  const none = { runs: null, filter: "", heatmap: "gradient_norm" };
  assert.deepEqual(parseHash(""), none);
  assert.deepEqual(parseHash("#gradcause"), none);
  assert.deepEqual(parseHash("#gradcause&p.gradcause.runs=%5Bnot-json"), none);
  assert.deepEqual(parseHash("#gradcause&p.gradcause.runs=%5B1%2C2%5D"), none);
  assert.deepEqual(parseHash("#gradcause&p.gradcause.runs=%E0%A4%A"), none);
  assert.deepEqual(parseHash("#gradcause&p.gradcause.heatmap=nonsense"), none);
});
