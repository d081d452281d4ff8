// Unit tests of heatscale.ts, the heatmap's fixed colour scales (run by `npm test`, see test.mjs).
// @ts-ignore -- node's types are not installed; the bundled test runs under node
import { test } from "node:test";
// @ts-ignore
import assert from "node:assert/strict";
import { HEAT_STAT_NAMES, HEAT_STATS, isHeatStat, legendTicks, scalePosition } from "./heatscale";

const near = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-12, `${actual}`);

test("a log scale places a value by its decade, absolutely: the same value, the same place", () => {
  const scale = HEAT_STATS.gradient_norm.scale;
  near(scalePosition(scale, 1e-8), 0);
  near(scalePosition(scale, 1e4), 1);
  near(scalePosition(scale, 1e-2), 0.5);
  // 40.7 and 59.8 are a sixth of a decade apart: next to each other, not darkest and brightest.
  assert.ok(scalePosition(scale, 59.8) - scalePosition(scale, 40.7) < 0.02);
  // Beyond the ends: the end's colour; zero and negatives at the bottom.
  assert.equal(scalePosition(scale, 1e9), 1);
  assert.equal(scalePosition(scale, 1e-20), 0);
  assert.equal(scalePosition(scale, 0), 0);
  assert.equal(scalePosition(scale, -3), 0);
});

test("fractions get a linear scale on [0, 1]", () => {
  for (const name of ["dead_frac", "saturated_frac"] as const) {
    const scale = HEAT_STATS[name].scale;
    assert.equal(scale.log, false);
    near(scalePosition(scale, 0.5), 0.5);
    assert.equal(scalePosition(scale, 0), 0);
    assert.equal(scalePosition(scale, 1), 1);
  }
});

test("legend ticks: decades (every other one over 12 decades), ends marked as shared by values beyond", () => {
  assert.deepEqual(
    legendTicks(HEAT_STATS.gradient_norm.scale).map((t) => t.label),
    ["≤ 1e-8", "1e-6", "1e-4", "0.01", "1", "100", "≥ 1e4"],
  );
  const ratio = legendTicks(HEAT_STATS.update_ratio.scale);
  assert.equal(ratio.length, 9);
  assert.equal(ratio[4].label, "0.001");
  near(ratio[4].position, 0.5);
  assert.deepEqual(
    legendTicks(HEAT_STATS.dead_frac.scale).map((t) => [t.position, t.label]),
    [
      [0, "0"],
      [0.25, "0.25"],
      [0.5, "0.5"],
      [0.75, "0.75"],
      [1, "1"],
    ],
  );
});

test("isHeatStat accepts exactly the heatmap's statistics", () => {
  for (const name of HEAT_STAT_NAMES) assert.ok(isHeatStat(name));
  assert.ok(!isHeatStat("l2"));
  assert.ok(!isHeatStat(""));
});
