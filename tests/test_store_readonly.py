"""Read-only stores: they read what is held and raise NotCachedError instead of computing or writing."""

import pytest
import torch

from sslvid.evaluate.features import ClipFeatures, FeatureCache
from sslvid.store import NotCachedError, RunStore
from sslvid.store.errors import not_cached_cause
from sslvid.store.results import ResultsStore


def test_read_only_run_store_hands_out_complete_runs_only(tmp_path):
    store = RunStore(tmp_path, read_only=True)
    with pytest.raises(NotCachedError, match="not complete"):
        store.run("abc123")
    assert store.find("abc123") is None
    assert "read_only=True" in repr(store)


def test_read_only_feature_cache_never_extracts(tmp_path):
    spec = {"what": "test"}
    features = ClipFeatures(torch.zeros(2, 3), torch.tensor([0, 1]), torch.tensor([0, 1]))
    FeatureCache(tmp_path).save(spec, features)
    reader = FeatureCache(tmp_path, read_only=True)
    assert torch.equal(reader.get_or_compute(spec, lambda: pytest.fail("extracted")).features, features.features)
    with pytest.raises(NotCachedError, match="not cached"):
        reader.get_or_compute({"what": "other"}, lambda: pytest.fail("extracted"))


def test_read_only_results_store_refuses_writes(tmp_path):
    store = ResultsStore(tmp_path / "r.csv", read_only=True)
    assert store.table().empty
    with pytest.raises(NotCachedError):
        store.delete("a")


def test_not_cached_cause_walks_the_chain():
    try:
        try:
            raise NotCachedError("run x")
        except NotCachedError as inner:
            raise RuntimeError("job failed") from inner
    except RuntimeError as outer:
        assert isinstance(not_cached_cause(outer), NotCachedError)
    assert not_cached_cause(ValueError("bug")) is None
