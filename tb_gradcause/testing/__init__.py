"""Test and benchmark support: synthetic runs written through the same record builders as the ops, an
in-process TensorBoard app, a loopback cluster of workers."""
