"""Schedules of the momentum (EMA) rate of target networks.

The EMA copy and its update live in ``sslvid.pretext.heads`` (``frozen_copy``,
``momentum_update``, ``MomentumEncoder``): ``theta_t <- m theta_t + (1 - m) theta_online``
(He et al. 2020, MoCo Eq. 2; Grill et al. 2020, BYOL §3.1). This module adds how ``m``
changes over a run.
"""

from __future__ import annotations

import math


def cosine_momentum(base: float, step: int, total_steps: int) -> float:
    """BYOL's schedule (Grill et al. 2020 §3.2): ``1 - (1 - base) * (cos(pi k / K) + 1) / 2``.

    Rises from ``base`` at step ``k = 0`` to 1 at ``k = K = total_steps`` (and stays 1 past it).

    Args:
        base: tau_base (0.996 in BYOL).
        step: k, optimiser steps taken.
        total_steps: K, optimiser steps of the run.

    Raises:
        ValueError: if ``total_steps`` < 1 or ``base`` is outside [0, 1].
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if not 0.0 <= base <= 1.0:
        raise ValueError(f"base must lie in [0, 1], got {base}")
    progress = min(max(step, 0), total_steps) / total_steps
    return 1.0 - (1.0 - base) * (math.cos(math.pi * progress) + 1.0) / 2.0
