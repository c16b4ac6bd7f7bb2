"""The results store: finished runs found by the hash of their config, with provenance beside them.

Floor 1 of the house plan: it stores and loads files and knows nothing about training.
"""

from sslvid.store.errors import NotCachedError
from sslvid.store.runs import COMPLETE_MARKER, RunHandle, RunStore, collect_provenance, default_runs_root

__all__ = ["COMPLETE_MARKER", "NotCachedError", "RunHandle", "RunStore", "collect_provenance", "default_runs_root"]
