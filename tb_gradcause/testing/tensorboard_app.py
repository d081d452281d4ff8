"""TensorBoard's WSGI app in-process, for tests and benchmarks of the plugin's routes without a server."""

from __future__ import annotations

import os
from typing import Any


def wsgi_app(logdir: str | os.PathLike, load_fast: str = "false") -> tuple[Any, Any]:
    """TensorBoard's WSGI app with only the core and gradcause plugins, configured like
    `tensorboard --logdir LOGDIR --load_fast MODE`, with the data loaded once.

    Returns `(app, multiplexer)`: the Python loader's multiplexer (call `Reload()` to pick up new
    data), None for RustBoard, which loads in the background in its own process.
    """
    from tensorboard import program
    from tensorboard.backend import application
    from tensorboard.plugins.core import core_plugin

    from tb_gradcause.plugin.loader import GradCauseLoader

    tensorboard = program.TensorBoard(plugins=[core_plugin.CorePluginLoader(), GradCauseLoader()])
    tensorboard.configure(
        [
            "",
            "--logdir",
            os.fspath(logdir),
            "--load_fast",
            load_fast,
            "--reload_interval",
            "0",
            "--reload_task",
            "blocking",
        ]
    )
    provider, multiplexer = tensorboard._make_data_provider()  # as TensorBoard's own server does
    app = application.TensorBoardWSGIApp(tensorboard.flags, tensorboard.plugin_loaders, provider, None, multiplexer)
    return app, multiplexer
