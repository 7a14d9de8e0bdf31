"""Getting files from the outside world: resumable verified HTTP, Google Drive, offline mirrors.

One path for every download corrbench makes (dataset archives, official checkpoints, ImageNet
backbones), so that resume, checksums, the mirror variable and the error messages behave the same
everywhere.
"""
