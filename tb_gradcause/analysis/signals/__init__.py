"""Signals the detectors share: per-layer views of rows, trends over steps, flow along depth, wording."""
