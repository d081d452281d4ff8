"""TensorBoard entry point (`tensorboard_plugins` group). Imports nothing heavy and never fails.

An ImportError in this module would take down all of TensorBoard at start-up, so the plugin
itself is imported only in `load`, when TensorBoard asks for it.
"""

from __future__ import annotations

from tensorboard.plugins import base_plugin

from tb_gradcause.metadata import PLUGIN_NAME


class GradCauseLoader(base_plugin.TBLoader):
    """Registers the "Gradient Causes" tab and keeps every logged step of its series."""

    def fix_flags(self, flags) -> None:
        # TensorBoard keeps 10 (Python loader) or 100 (RustBoard) samples of an unknown plugin's
        # series; 0 means all. A user's own --samples_per_plugin=gradcause=N still wins.
        samples = getattr(flags, "samples_per_plugin", None)
        if isinstance(samples, dict):
            samples.setdefault(PLUGIN_NAME, 0)

    def load(self, context: base_plugin.TBContext) -> base_plugin.TBPlugin:
        from tb_gradcause.plugin.gradcause_plugin import GradCausePlugin

        return GradCausePlugin(context)
