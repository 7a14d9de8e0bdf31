"""The official TSS evaluation kit (Taniai et al., CVPR'16), reimplemented.

The kit ships two tools that disagree in details (see ``docs`` of :mod:`corrbench.tss.kit`):
the C++ tool (``kit="cpp"``, OpenCV 3.1; it wrote the scores distributed with the kit's sample
results, and is our default) and the MATLAB tool (``kit="matlab"``).  Modules: ``resize``
(each tool's image resizing), ``kit`` (per-pair scores and averages), ``kit_csv`` (the
``scores.csv`` writer), ``folder`` (reading/writing a predictions folder in the kit layout),
``convert`` (corrbench predictions to kit arrays) and ``evaluate`` (running a method).
"""
