"""Leaderboards: tables from runs (``tables``), published numbers beside them (``reported``, ``reported_tables``), keeping them honest (``check``), pictures (``plots``, ``gallery``)."""
