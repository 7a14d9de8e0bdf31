"""Dataset loaders: one module per benchmark over a shared base (``base``).

``synthetic`` (the embedded offline benchmark) is generated from photos shipped inside
scikit-image: ``shapes`` builds the canonical objects, ``warps`` the invertible geometry,
``render`` one image with exact ground truth; ``preview`` draws a few pairs for a human look.
"""
