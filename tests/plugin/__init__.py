"""A platform shipped outside the tool: `toy_directory` is registered only through the
``reconciler.providers`` entry point, to prove a plugin needs no edit of the core."""
