"""sslvid: self-supervised learning for video, one codebase for a reproducible study book.

Floors, each importing only from those under it: ``sslvid.data`` and ``sslvid.backbones``
(and the results store); pretext tasks and analysis; the training engine; evaluation and
distillation; experiments; the command line and the notebooks.
"""

__version__ = "0.1.0"  # the one place of the version: pyproject.toml reads it at build time
