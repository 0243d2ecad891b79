"""The engine that runs tasks: registry, enqueue preparation, context, worker."""
