"""Pipelines compose steps; they hold no logic. ``PIPELINES`` is what ``run.py`` offers."""
