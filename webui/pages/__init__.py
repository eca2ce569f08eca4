"""One module per page; each has ``register()`` adding its routes (called by webui.main.build)."""
