"""Dataset loaders (one module per benchmark, declared as ``corrbench.datasets`` entry points)."""
