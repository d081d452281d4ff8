// Unit tests of evidence.ts (run by `npm test`, see test.mjs).
// @ts-ignore -- node's types are not installed; the bundled test runs under node
import { test } from "node:test";
// @ts-ignore
import assert from "node:assert/strict";
import type { CauseEvent, Evidence } from "./api";
import { citedKinds, namedRows } from "./evidence";

function cause(title: string, metrics: string[], notes: string[] = [], advice = ""): CauseEvent {
  const evidence: Evidence[] = metrics.map((metric, i) => ({
    metric,
    label: "",
    value: 1,
    threshold: 1,
    op: ">=",
    step: null,
    note: notes[i] ?? "",
  }));
  return {
    id: title,
    kind: "k",
    severity: "warning",
    layer: "input",
    first_step: 0,
    last_step: 1,
    title,
    evidence,
    advice,
    caused_by: [],
  };
}

const features = (input: string, n: number) => Array.from({ length: n }, (_v, i) => `${input}/feature_${i}`);

test("citedKinds: the evidence kinds a run's causes cite, nothing for the charts every run has", () => {
  assert.deepEqual(
    [...citedKinds([cause("a", ["magnitude_gap", "loss_progress"]), cause("b", ["backward_time_ratio"])])].sort(),
    ["backward_time", "inputs"],
  );
  assert.deepEqual([...citedKinds([cause("c", ["backward_signal_depth_ratio"])])], ["backward"]);
  assert.deepEqual([...citedKinds([cause("d", ["gradient_rms_growth", "dead_frac"])])], []);
});

test("namedRows reads input_scale's 'features 5–7' of the only input", () => {
  const event = cause("In the input, features 5–7 are at least 976x larger than every other feature", [
    "magnitude_gap",
  ]);
  assert.deepEqual(namedRows(event, features("input", 12)), ["input/feature_5", "input/feature_6", "input/feature_7"]);
  const some = cause("In the input, features 0, 3–4, 10 are ~1e3x the input's median feature scale", []);
  assert.deepEqual(namedRows(some, features("input", 12)), [
    "input/feature_0",
    "input/feature_3",
    "input/feature_4",
    "input/feature_10",
  ]);
  assert.deepEqual(namedRows(cause("In the input, feature 2 is ...", []), features("input", 4)), ["input/feature_2"]);
});

test("namedRows: whole row names (nan_inf lists them), never a prefix of a longer one; the named input only", () => {
  const event = cause(
    "NaN/Inf in the input batch",
    ["inputs.nan+inf"],
    [],
    "holds NaN/Inf (input/feature_1, input/feature_12)",
  );
  assert.deepEqual(namedRows(event, features("input", 13)), ["input/feature_1", "input/feature_12"]);
  const rows = [...features("image", 3), ...features("meta", 3)];
  assert.deepEqual(namedRows(cause("In input meta, features 1–2 are ...", []), rows), [
    "meta/feature_1",
    "meta/feature_2",
  ]);
  assert.deepEqual(namedRows(cause("dense_1 explodes", ["gradient_rms_growth"]), features("input", 3)), []);
});
