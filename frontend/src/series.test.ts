// Unit tests of series.ts (run by `npm test`, see test.mjs).
// @ts-ignore -- node's types are not installed; the bundled test runs under node
import { test } from "node:test";
// @ts-ignore
import assert from "node:assert/strict";
import type { Row, Timeline } from "./api";
import {
  aroundStep,
  envelope,
  Flag,
  kthSmallest,
  gradientNorms,
  layerStat,
  hasSignal,
  inputMagnitudes,
  type LayerMatrix,
  logDecades,
  lossValues,
  lowerBound,
  mergeSteps,
  nonFiniteRegions,
  openingRange,
  updateRatios,
} from "./series";

function row(name: string, layer: string): Row {
  return { name, layer, layer_class: "Dense", activation: "relu", recurrent: false, depth: 0 };
}

/** A timeline from plain arrays: `values[stat][row][i]`. */
function timeline(steps: number[], rows: Row[], values: Record<string, number[][]>): Timeline {
  return {
    run: "run",
    kind: "gradients",
    steps,
    rows,
    stats: Object.keys(values),
    values: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.map((r) => Float64Array.from(r))])),
  };
}

function matrix(steps: number[], values: number[][], flags?: number[][]): LayerMatrix {
  return {
    steps,
    layers: values.map((_v, i) => `layer_${i}`),
    values: values.map((v) => Float64Array.from(v)),
    flags: values.map((v, i) => Uint8Array.from(flags?.[i] ?? v.map(() => Flag.None))),
  };
}

const close = (actual: ArrayLike<number>, expected: number[]) => {
  assert.equal(actual.length, expected.length);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) < 1e-9, `[${i}]: ${actual[i]} != ${e}`));
};

test("gradientNorms groups variables by layer, in order of first appearance", () => {
  const t = timeline([0, 10], [row("dense/kernel", "dense"), row("out/kernel", "out"), row("dense/bias", "dense")], {
    l2: [
      [3, 6],
      [1, 2],
      [4, 8],
    ],
  });
  const m = gradientNorms(t)!;
  assert.deepEqual(m.layers, ["dense", "out"]);
  assert.deepEqual(m.steps, [0, 10]);
  // The layer's norm is the norm of its concatenated tensors: sqrt(3² + 4²) = 5.
  close(m.values[0], [5, 10]);
  close(m.values[1], [1, 2]);
  assert.deepEqual([...m.flags[0]], [Flag.None, Flag.None]);
});

test("a row without a layer is a layer of its own, named after the row", () => {
  const t = timeline([0], [row("global_scale", ""), row("dense/kernel", "dense")], { l2: [[2], [1]] });
  assert.deepEqual(gradientNorms(t)!.layers, ["global_scale", "dense"]);
});

test("series are null when the stat they need was not sent", () => {
  const t = timeline([0], [row("a", "a")], { nan: [[0]] });
  assert.equal(gradientNorms(t), null);
  assert.equal(updateRatios(t), null);
  assert.equal(updateRatios(timeline([0], [row("a", "a")], { norm: [[1]] })), null);
  assert.equal(layerStat(t, "dead_frac"), null);
  assert.equal(lossValues(t), null);
  assert.equal(lossValues(timeline([0], [], { value: [] })), null);
});

test("NaN and Inf values are flagged, NaN before Inf", () => {
  const t = timeline([0, 1, 2, 3], [row("a/kernel", "a"), row("a/bias", "a")], {
    l2: [
      [1, NaN, Infinity, NaN],
      [1, 1, 1, Infinity],
    ],
  });
  const m = gradientNorms(t)!;
  assert.equal(m.values[0][0], Math.SQRT2);
  assert.ok(Number.isNaN(m.values[0][1]));
  assert.equal(m.values[0][2], Infinity);
  assert.deepEqual([...m.flags[0]], [Flag.None, Flag.NaN, Flag.Inf, Flag.NaN]);
});

test("nan/inf counts flag a step even when the decimated value is finite", () => {
  const t = timeline([0, 1, 2], [row("a/kernel", "a"), row("a/bias", "a")], {
    l2: [
      [1, 1, 1],
      [1, 1, 1],
    ],
    nan: [
      [0, 0, 0],
      [0, 2, 0],
    ],
    inf: [
      [0, 1, 1],
      [0, 0, 0],
    ],
  });
  assert.deepEqual([...gradientNorms(t)!.flags[0]], [Flag.None, Flag.NaN, Flag.Inf]);
});

test("a value the server masked (NaN) with only an Inf count is an Inf step", () => {
  const t = timeline([0, 1], [row("a/kernel", "a")], { l2: [[1, NaN]], nan: [[0, 0]], inf: [[0, 3]] });
  const m = gradientNorms(t)!;
  assert.deepEqual([...m.flags[0]], [Flag.None, Flag.Inf]);
  assert.ok(Number.isNaN(m.values[0][1])); // never a number to draw
});

test("a layer is missing its gradient only when every one of its variables is", () => {
  const t = timeline([0, 1, 2], [row("a/kernel", "a"), row("a/bias", "a"), row("b/kernel", "b")], {
    l2: [
      [0, 0, 1],
      [0, 1, 1],
      [NaN, 0, 0],
    ],
    missing: [
      [1, 1, 0],
      [1, 0, 0],
      [1, 1, 0],
    ],
  });
  const m = gradientNorms(t)!;
  assert.deepEqual([...m.flags[0]], [Flag.Missing, Flag.None, Flag.None]);
  // Missing wins over the NaN the reader fills a missing gradient with.
  assert.deepEqual([...m.flags[1]], [Flag.Missing, Flag.Missing, Flag.None]);
});

test("updateRatios is ‖Δw‖ / ‖w‖ over all of a layer's variables", () => {
  const t = timeline([0, 5], [row("a/kernel", "a"), row("a/bias", "a"), row("b/kernel", "b")], {
    norm: [
      [3, 30],
      [4, 40],
      [2, 0],
    ],
    update_norm: [
      [0.3, 6],
      [0.4, 8],
      [1, 1],
    ],
  });
  const m = updateRatios(t)!;
  assert.deepEqual(m.layers, ["a", "b"]);
  close(m.values[0], [0.1, 0.2]);
  assert.equal(m.values[1][0], 0.5);
  // A zero weight norm makes an infinite ratio: flagged, not silently drawn.
  assert.equal(m.values[1][1], Infinity);
  assert.deepEqual([...m.flags[1]], [Flag.None, Flag.Inf]);
});

test("layerStat takes each layer's row; lossValues the single loss row", () => {
  const acts = timeline([0, 1], [row("dense", "dense"), row("out", "out")], {
    dead_frac: [
      [0.1, 0.9],
      [0, 0],
    ],
    nan: [
      [0, 0],
      [0, 3],
    ],
  });
  const dead = layerStat(acts, "dead_frac")!;
  assert.deepEqual(dead.layers, ["dense", "out"]);
  close(dead.values[0], [0.1, 0.9]);
  assert.deepEqual([...dead.flags[1]], [Flag.None, Flag.NaN]);

  const loss = lossValues(timeline([0, 1, 2], [row("loss", "")], { value: [[2.5, NaN, 1]] }))!;
  assert.deepEqual(loss.layers, ["loss"]);
  assert.equal(loss.values[0][0], 2.5);
  assert.deepEqual([...loss.flags[0]], [Flag.None, Flag.NaN, Flag.None]);
});

test("hasSignal is false only for an all-zero, all-finite series", () => {
  assert.equal(hasSignal(Float64Array.from([0, 0, 0]), Uint8Array.from([0, 0, 0])), false);
  assert.equal(hasSignal(Float64Array.from([0, 1e-12, 0]), Uint8Array.from([0, 0, 0])), true);
  assert.equal(hasSignal(Float64Array.from([0, 0]), Uint8Array.from([0, Flag.Missing])), true);
  assert.equal(hasSignal(new Float64Array(0), new Uint8Array(0)), false);
});

test("nonFiniteRegions spans consecutive NaN/Inf steps over all series", () => {
  const steps = [0, 10, 20, 30, 40, 50, 60];
  const a = Uint8Array.from([0, Flag.NaN, Flag.NaN, 0, Flag.Inf, Flag.Inf, Flag.Missing]);
  const b = Uint8Array.from([0, 0, Flag.Inf, 0, Flag.Inf, Flag.NaN, 0]);
  assert.deepEqual(nonFiniteRegions(steps, [a, b]), [
    { from: 10, to: 20, flag: Flag.NaN },
    { from: 40, to: 40, flag: Flag.Inf },
    // NaN in any series wins over Inf in another, and a change of kind starts a new region.
    { from: 50, to: 50, flag: Flag.NaN },
  ]);
  assert.deepEqual(nonFiniteRegions(steps, []), []);
  assert.deepEqual(nonFiniteRegions([5, 6], [Uint8Array.from([Flag.Missing, 0])]), []);
  assert.deepEqual(nonFiniteRegions([5, 6], [Uint8Array.from([Flag.Inf, Flag.Inf])]), [
    { from: 5, to: 6, flag: Flag.Inf },
  ]);
});

test("inputMagnitudes is each feature's largest |value|, flagged where the batch held NaN/Inf", () => {
  const inputs = timeline([0, 1], [row("input/feature_0", ""), row("input/feature_1", "")], {
    min: [
      [-3, -0.5],
      [-2000, 1],
    ],
    max: [
      [2, 0.25],
      [1500, 4],
    ],
    nan: [
      [0, 1],
      [0, 0],
    ],
  });
  const m = inputMagnitudes(inputs)!;
  assert.deepEqual(m.layers, ["input/feature_0", "input/feature_1"]);
  close(m.values[0], [3, 0.5]);
  close(m.values[1], [2000, 4]);
  assert.deepEqual([...m.flags[0]], [Flag.None, Flag.NaN]);
  assert.equal(inputMagnitudes(timeline([0], [row("input/feature_0", "")], { mean: [[1]] })), null);
});

test("lowerBound finds the first step at or after a step", () => {
  const steps = [0, 10, 20, 20, 30];
  assert.equal(lowerBound(steps, -5), 0);
  assert.equal(lowerBound(steps, 0), 0);
  assert.equal(lowerBound(steps, 1), 1);
  assert.equal(lowerBound(steps, 20), 2);
  assert.equal(lowerBound(steps, 25), 4);
  assert.equal(lowerBound(steps, 30), 4);
  assert.equal(lowerBound(steps, 31), 5);
  assert.equal(lowerBound([], 3), 0);
  const many = Float64Array.from({ length: 100_001 }, (_v, i) => 2 * i);
  for (const i of [0, 1, 777, 50_000, 100_000]) {
    assert.equal(lowerBound(many, 2 * i), i);
    assert.equal(lowerBound(many, 2 * i - 1), i);
  }
});

test("envelope summarises many layers per step: max, median and min of the finite values", () => {
  const m = matrix(
    [0, 1, 2],
    [
      [1, NaN, 5],
      [3, 2, 100],
      [2, Infinity, 7],
      [-1, 8, 0],
    ],
    [
      [0, Flag.NaN, 0],
      [0, 0, Flag.Missing],
      [0, Flag.Inf, 0],
      [0, 0, 0],
    ],
  );
  const e = envelope(m);
  assert.deepEqual(e.layers, ["max over layers", "median over layers", "min over layers"]);
  assert.deepEqual(e.steps, [0, 1, 2]);
  // Step 0: [-1, 1, 2, 3]; step 1: [2, 8] (NaN, Inf out); step 2: [0, 5, 7] (the missing 100 out).
  assert.deepEqual([...e.values[0]], [3, 8, 7]);
  assert.deepEqual([...e.values[1]], [2, 8, 5]);
  assert.deepEqual([...e.values[2]], [-1, 2, 0]);
  assert.deepEqual(
    e.flags.map((f) => [...f]),
    [
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ],
  );
});

test("envelope is NaN at a step without any finite value", () => {
  const e = envelope(matrix([0, 1], [[NaN, 1]], [[Flag.NaN, 0]]));
  assert.ok(e.values.every((v) => Number.isNaN(v[0]) && v[1] === 1));
});

test("logDecades: the decades of the positive values, null with a negative one", () => {
  assert.equal(logDecades([0.5, 5, 5e3, NaN, Infinity, 0]), 4);
  assert.equal(logDecades([2, 2]), 0);
  assert.equal(logDecades([0, NaN]), 0);
  assert.equal(logDecades([1, -0.1, 100]), null);
  assert.equal(logDecades([1, -Infinity, 100]), 2); // -Inf is a non-finite step, drawn as a marker
});

test("mergeSteps is the sorted union", () => {
  assert.deepEqual(mergeSteps([[0, 5, 10], [1, 5], []]), [0, 1, 5, 10]);
});

test("openingRange stops a little past the first non-finite step, else shows the whole run", () => {
  const steps = Array.from({ length: 1000 }, (_v, i) => i);
  // NaN from step 300 of 1000: open on 0-330 (a tenth of the 300 steps before it).
  assert.deepEqual(openingRange(steps, [0, 999], 300), [0, 330]);
  // Early NaN: at least three logged steps past it.
  assert.deepEqual(openingRange(steps, [0, 999], 10), [0, 13]);
  // No NaN, or NaN near the end: the whole run.
  assert.deepEqual(openingRange(steps, [0, 999], null), [0, 999]);
  assert.deepEqual(openingRange(steps, [0, 999], 950), [0, 999]);
  // A sparse cadence: logged steps, not step numbers.
  assert.deepEqual(openingRange([0, 100, 200, 300, 400, 500, 600, 700, 800, 900], [0, 900], 100), [0, 400]);
});

test("aroundStep spans k logged steps either side, clamped to the run", () => {
  const steps = [0, 10, 20, 30, 40, 50];
  assert.deepEqual(aroundStep(steps, 30, 2), [10, 50]);
  assert.deepEqual(aroundStep(steps, 0, 2), [0, 20]);
  assert.deepEqual(aroundStep(steps, 50, 1), [40, 50]);
  assert.deepEqual(aroundStep([7], 7, 3), [6, 8]);
});

test("kthSmallest is the k-th value of the sorted array, with ties and any order", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 10 - 5;
  for (const n of [1, 2, 3, 10, 201]) {
    for (const ties of [false, true]) {
      const values = Float64Array.from({ length: n }, () => (ties ? Math.round(random()) : random()));
      const sorted = Float64Array.from(values).sort();
      for (const k of new Set([0, n >> 1, n - 1])) assert.equal(kthSmallest(Float64Array.from(values), k), sorted[k]);
      // Of the first `length` values only: what follows them (another step's leftovers) is never read.
      const longer = Float64Array.from([...values, -100, 100, -100]);
      for (const k of new Set([0, n >> 1, n - 1])) assert.equal(kthSmallest(longer, k, n), sorted[k]);
    }
  }
});
