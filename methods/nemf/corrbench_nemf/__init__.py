"""NeMF (Neural Matching Fields, NeurIPS'22) as a corrbench method plugin.

Nothing is imported here: corrbench loads ``corrbench_nemf.method`` through the entry point.
"""
