"""Weight-free baselines that every method should beat."""
