"""Dataset loaders (one module per benchmark) and their shared base."""
