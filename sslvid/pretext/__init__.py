"""Pretext tasks: one registry, each task built from small parts (sampler, views/labels, head, loss).

Benchmark tasks (benchmark paper §3.1): RotNet and CVRL (spatial), VCOP and TDL (temporal),
PRP and RSPNet (spatio-temporal); the first of each pair non-contrastive, the second
contrastive. Image-study methods (lightweight study §3.3), on clips or single frames:
SimCLR, MoCo v2, BYOL, Split-Brain.
"""

from sslvid.pretext import (  # noqa: F401  (importing a task module registers it)
    byol,
    cvrl,
    moco,
    prp,
    rotnet,
    rspnet,
    simclr,
    splitbrain,
    tdl,
    vcop,
)
from sslvid.pretext.base import CATEGORIES, TASKS, PretextTask, TaskOutput, create_task, list_tasks

__all__ = ["CATEGORIES", "TASKS", "PretextTask", "TaskOutput", "create_task", "list_tasks"]
