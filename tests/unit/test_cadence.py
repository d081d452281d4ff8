"""The default cadence: dense early, then a fixed number of full captures per power of ten of steps."""

import pytest
import tensorflow as tf

from tb_gradcause.capture.cadence import Cadence, HostSchedule, Mode, is_full


def captured(start: int, stop: int, every_n_steps: int | None = None) -> list[int]:
    return [s for s in range(start, stop) if is_full(s, every_n_steps)]


def test_default_schedule_by_phase():
    assert captured(0, 100) == list(range(0, 100, 10))
    assert captured(100, 1000) == list(range(100, 1000, 25))
    assert captured(1000, 1500) + captured(99_000, 100_500) == [1000, 1100, 1200, 1300, 1400, 99_000, 99_100] + [
        99_200, 99_300, 99_400, 99_500, 99_600, 99_700, 99_800, 99_900, 100_000,
    ]  # fmt: skip
    assert captured(100_000, 103_001) == [100_000, 101_000, 102_000, 103_000]
    assert captured(999_000, 1_020_001) == [999_000, 1_000_000, 1_010_000, 1_020_000]
    assert is_full(10**18, None) and not is_full(10**18 + 10**15, None) and is_full(10**18 + 10**16, None)


def test_a_long_run_gets_900_captures_per_power_of_ten_past_step_100000():
    """1,000,000 steps: 1936 captures (10,036 with every 100 after step 1000); the logs of a
    run ten times longer grow by 900 captures, not by ten times."""
    assert len(captured(0, 100)) + sum(is_full(s, None) for s in range(100, 1_000_000, 25)) == 1936
    for k in range(5, 18):
        start = 10**k
        assert sum(is_full(s, None) for s in range(start, 10 * start, start // 100)) == 900


def test_in_graph_cadence_equals_the_host_one():
    """The graph (several steps per call, custom loops) and the host (one step per call) capture
    the same steps, also under XLA."""
    cases = {0: True, 5: False, 10: True, 99: False, 100: True, 110: False, 125: True, 999: False, 1000: True}
    cases |= {1050: False, 1100: True, 99_999: False, 100_000: True, 100_100: False, 101_000: True}
    cases |= {999_000: True, 1_000_000: True, 1_005_000: False, 1_010_000: True, 10**17 - 10**15: True}
    cases |= {10**17: True, 10**17 + 10**14: False, 10**17 + 10**15: True, 2**62: False}
    cadence = Cadence()
    assert [cadence.is_full(s) for s in cases] == list(cases.values())
    graph = tf.function(lambda s: cadence.in_graph(Mode.IN_GRAPH, s))
    xla = tf.function(lambda s: cadence.in_graph(Mode.IN_GRAPH, s), jit_compile=True)
    for fn in (graph, xla):
        assert [bool(fn(tf.constant(s, tf.int64))) for s in cases] == list(cases.values())


def test_fixed_cadence_and_modes():
    cadence = Cadence(7)
    assert captured(0, 30, 7) == [0, 7, 14, 21, 28]
    assert bool(cadence.in_graph(Mode.IN_GRAPH, tf.constant(21, tf.int64)))
    assert bool(cadence.in_graph(Mode.FULL, tf.constant(1, tf.int64)))
    assert not bool(cadence.in_graph(Mode.LEAN, tf.constant(0, tf.int64)))
    with pytest.raises(ValueError, match="every_n_steps"):
        Cadence(0)


def test_host_schedule_follows_the_cadence_from_any_step():
    """A model trained before the callback starts off the cadence: its first step is lean (its loss
    row is held with the next ones, whose summary carries the metadata)."""
    schedule = HostSchedule(Cadence())
    schedule.next_step = 95
    assert [schedule.next_is_full() for _ in range(10)] == [False] * 5 + [True] + [False] * 4
    assert schedule.next_step == 105
