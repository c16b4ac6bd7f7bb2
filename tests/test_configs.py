"""The run configs built from shared parts: one home for a profile's numbers, coercion and
validation derived from the fields, a ``replace`` that keeps no stale numbers, and building a
config that reads nothing (no run store, no environment)."""

from __future__ import annotations

import dataclasses
import os

import pytest

from sslvid import paths
from sslvid.confighash import HashedConfig
from sslvid.distill.config import DistillConfig, TeacherRef
from sslvid.engine.config import PretrainConfig
from sslvid.engine.configparts import Clips, Data, Runtime, Training
from sslvid.engine.optim import OPTIMIZERS, SCHEDULES
from sslvid.errors import ConfigError
from sslvid.evaluate.config import USED_BY, EvalConfig, PretrainedSource
from sslvid.profiles import get_profile, list_profiles
from sslvid.store.runs import RunStore

BACKBONE = "r3d_18"
CONFIGS = (PretrainConfig, EvalConfig, DistillConfig)


def _pretrain(profile: str = "micro", **overrides) -> PretrainConfig:
    return PretrainConfig.for_profile(profile, "vcop", BACKBONE, **overrides)


def test_hashes_are_those_of_the_configs_before_they_were_built_from_parts():
    """Building the configs from shared parts changed no number and no hash (values computed before)."""
    pretrain = _pretrain()
    finetune = EvalConfig.for_profile("smoke", backbone=BACKBONE, dataset="digits-motion", lr=1, crop_scale=[0.3, 1])
    # RotNet's micro numbers before it had its own recipe
    old_recipe = {"optimizer": "sgd", "lr": 0.01, "batch_size": 32, "warmup_epochs": 0}
    old_recipe |= {"epochs": 4, "checkpoint_every": 1}  # and its length, before the recipe had its own
    assert PretrainConfig.for_profile("micro", "rotnet", BACKBONE, **old_recipe).config_hash() == "dd05f63c6db80793"
    assert PretrainConfig.for_profile("paper", "cvrl", BACKBONE).config_hash() == "b2ab6233a8f0b5fe"
    assert EvalConfig.for_profile("micro", source=pretrain, protocol="linear").config_hash() == "38088a8348bf64de"
    assert EvalConfig.for_profile("paper", backbone=BACKBONE, protocol="retrieval").config_hash() == "0ec9ccf9b52f8145"
    assert finetune.config_hash() == "94417a71421ad336"
    teacher = TeacherRef(finetune=EvalConfig.for_profile("micro", source=pretrain), pretrain=pretrain)
    distill = DistillConfig.for_profile(
        "micro", "aekd", student=BACKBONE, teachers=[teacher, teacher], method_kwargs={"temperature": 4.0}
    )
    assert distill.config_hash() == "2f102bb87e06845b"


def test_the_hash_leaves_out_exactly_the_runtime_fields():
    runtime = {f.name for f in dataclasses.fields(Runtime)}
    assert PretrainConfig.UNHASHED == runtime | {"channels_last", "torch_compile"}
    assert DistillConfig.UNHASHED == runtime | {"eval_batch_size"}
    assert EvalConfig.UNHASHED == runtime | {"eval_batch_size", "checkpoint"}, "a file source is hashed by its sha256"
    config = _pretrain()
    assert not set(config.hashed_dict()) & config.UNHASHED
    assert (
        config.replace(device="cpu", threads=1, num_workers=2, torch_compile=True).config_hash() == config.config_hash()
    )


@pytest.mark.parametrize("kind", CONFIGS, ids=lambda k: k.__name__)
def test_every_config_has_the_shared_parts_and_hashes_by_its_config_hash(kind):
    names = {f.name for f in dataclasses.fields(kind)}
    for part in (Data, Clips, Training, Runtime):
        assert {f.name for f in dataclasses.fields(part)} <= names, part.__name__
    assert kind.__hash__ is HashedConfig.__hash__, "no config has to remember its __hash__ line"


@pytest.mark.parametrize("profile", ["smoke", "micro", "paper"])
def test_numbers_are_coerced_from_the_field_types(profile):
    config = _pretrain(profile, lr=1, epochs=3.0, cache_size=[128, 171], seed=2.0)
    assert (type(config.lr), type(config.epochs), config.cache_size, type(config.seed)) == (float, int, (128, 171), int)
    assert config == _pretrain(profile, lr=1.0, epochs=3, cache_size=(128, 171), seed=2)
    evaluation = EvalConfig.for_profile(
        profile, backbone=BACKBONE, crop_scale=[1, 1], dropout=0, data_root=paths.data_dir()
    )
    assert evaluation.crop_scale == (1.0, 1.0) and type(evaluation.dropout) is float
    assert evaluation.data_root == str(paths.data_dir())
    distill = DistillConfig.for_profile(profile, "independent", student=BACKBONE, method_kwargs={})
    assert distill.replace(student_kwargs={"b": (1, 2), "a": 4.0}).student_kwargs == {"a": 4, "b": [1, 2]}


def test_optimiser_and_schedule_names_come_from_the_registries(monkeypatch):
    with pytest.raises(ConfigError, match="unknown optimizer 'lamb'; valid: adam, adamw, sgd"):
        _pretrain(optimizer="lamb")
    monkeypatch.setitem(OPTIMIZERS._builders, "lamb", OPTIMIZERS.get("sgd"))
    monkeypatch.setitem(SCHEDULES._builders, "step", SCHEDULES.get("constant"))
    assert _pretrain(optimizer="lamb", scheduler="step").optimizer == "lamb"
    assert EvalConfig.for_profile("micro", backbone=BACKBONE, optimizer="lamb").optimizer == "lamb"


@pytest.mark.parametrize("profile", ["smoke", "micro", "paper"])
def test_every_number_comes_from_the_profile(profile):
    """Each config of each profile takes every number it leaves None from ``Profile.defaults``."""
    numbers = get_profile(profile)
    pretrain = _pretrain(profile)
    for name in ("epochs", "checkpoint_every", "subset_per_class", "scheduler", "dataset", "frames", "width"):
        assert getattr(pretrain, name) == numbers.defaults("pretrain")[name], name
    for protocol in USED_BY:
        evaluation = EvalConfig.for_profile(profile, backbone=BACKBONE, protocol=protocol)
        table = numbers.defaults("evaluate", protocol)
        assert all(getattr(evaluation, name) == table[name] for name in USED_BY[protocol] & set(table)), protocol
    distill = DistillConfig.for_profile(profile, "independent", student=BACKBONE)
    assert all(getattr(distill, name) == value for name, value in numbers.defaults("distill").items())
    assert {f.name for f in dataclasses.fields(distill) if getattr(distill, f.name) is None} <= {"threads", "data_root"}


def test_replace_of_the_protocol_keeps_no_stale_numbers():
    finetune = EvalConfig.for_profile("micro", backbone=BACKBONE, protocol="finetune", momentum=0.5)
    linear = finetune.replace(protocol="linear")
    expected = EvalConfig.for_profile("micro", backbone=BACKBONE, protocol="linear", momentum=0.5)
    assert linear == expected and linear.config_hash() == expected.config_hash()
    assert (linear.epochs, linear.lr, linear.momentum) == (30, 0.1, 0.5), "the profile's numbers, the caller's momentum"
    assert linear.replace(protocol="finetune") == finetune
    assert finetune.replace(dataset="digits-motion").flip is False
    assert _pretrain("micro").replace(profile="smoke") == _pretrain("smoke")


def test_building_an_evaluation_reads_no_run_store(monkeypatch, tmp_path):
    def no_store(*args, **kwargs):
        raise AssertionError("the run store was read while building a config")

    monkeypatch.setattr(RunStore, "run", no_store)
    with pytest.raises(ConfigError, match="bare run hash"):
        EvalConfig.for_profile("micro", source="0123456789abcdef")
    source = PretrainedSource("0123456789abcdef", BACKBONE, 0.25)
    assert EvalConfig.for_profile("micro", source=source).source == "0123456789abcdef"


def test_a_study_leaves_the_environment_alone(tmp_path, monkeypatch):
    from sslvid.experiments.study import Study

    monkeypatch.delenv("SSLVID_CACHE_DIR", raising=False)
    before = dict(os.environ)
    Study("smoke", cache_dir=str(tmp_path), store=RunStore(tmp_path / "runs"))
    assert dict(os.environ) == before
    outside = paths.cache_dir()
    with paths.using_cache_dir(tmp_path):
        assert paths.cache_dir() == tmp_path.resolve()
    assert paths.cache_dir() == outside


def test_unknown_fields_are_named_with_the_valid_ones():
    for kind, build in (
        (PretrainConfig, lambda: _pretrain(learning_rate=0.1)),
        (EvalConfig, lambda: EvalConfig.for_profile("micro", backbone=BACKBONE, learning_rate=0.1)),
        (DistillConfig, lambda: DistillConfig.for_profile("micro", "independent", learning_rate=0.1)),
    ):
        with pytest.raises(ConfigError, match=f"unknown {kind.__name__} fields: learning_rate; valid: .*lr"):
            build()
    assert set(list_profiles()) == {"smoke", "micro", "paper"}
