"""The TensorBoard plugin: its import-light loader, the HTTP routes and the built tab (`static/`)."""
