"""Dataset loaders.

``synthetic`` (the embedded offline benchmark) is generated from photos shipped inside
scikit-image: ``shapes`` builds the canonical objects, ``warps`` the invertible geometry,
``render`` one image with exact ground truth, ``synthetic`` the ``Dataset``; ``preview``
draws a few pairs for a human look.
"""
