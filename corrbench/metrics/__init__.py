"""Metrics: PCK for keypoints, mask IoU/precision, TSS flow accuracy."""
