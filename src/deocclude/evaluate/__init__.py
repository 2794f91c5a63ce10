"""Evaluation protocols behind ``deocclude eval`` (each module: ``add_arguments(parser)``, ``run(args) -> dict``)."""
