"""Leaderboards: tables from runs (``tables``), keeping them honest (``check``), pictures (``plots``)."""
