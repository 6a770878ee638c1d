"""TrainConfig's groups (issue 31): every field in one group, the resumable fields are the
runtime group plus epochs, nested files load, and a run's identity is the one it had before
the grouping and before the fields added since (finished runs are found again)."""

import dataclasses
import hashlib
import json

import pytest

from wsol_tf.runs.config import GROUPS, TrainConfig


def test_every_field_is_in_exactly_one_group_and_every_group_has_fields():
    by_group = {group: TrainConfig.fields_of(group) for group in GROUPS}
    names = [name for fields in by_group.values() for name in fields]
    assert sorted(names) == sorted(f.name for f in dataclasses.fields(TrainConfig))
    assert len(names) == len(set(names))
    assert all(by_group.values())
    assert {"lr", "optimizer", "epochs"} <= set(by_group["optimization"])
    assert {"precision", "sync_batch_norm"} == set(by_group["numerics"])


def test_what_may_change_on_resume_is_the_runtime_group_plus_epochs():
    from wsol_tf.training.workdir import RESUMABLE_FIELDS

    assert set(RESUMABLE_FIELDS) == {"epochs", *TrainConfig.fields_of("runtime")}
    # Nothing that changes what a step computes is resumable.
    assert not {"lr", "precision", "sync_batch_norm", "seed", "batch_size"} & set(RESUMABLE_FIELDS)


def test_group_views_and_nested_round_trip(tmp_path):
    config = TrainConfig(lr=0.5, log_every=3, image_size=(40, 56))
    assert config.group("optimization")["lr"] == 0.5
    assert config.nested()["runtime"]["log_every"] == 3
    with pytest.raises(ValueError, match="unknown config group 'optimisation'"):
        config.group("optimisation")
    (tmp_path / "config.json").write_text(json.dumps(config.nested(), default=list))
    assert TrainConfig.load(str(tmp_path)) == config


def test_a_config_json_written_before_the_new_fields_loads_with_their_defaults(tmp_path):
    old = json.loads(TrainConfig(lr=0.3).to_json())
    del old["optimizer"], old["freeze_through"]  # fields added by issue 27
    (tmp_path / "config.json").write_text(json.dumps(old))
    loaded = TrainConfig.load(str(tmp_path))
    assert loaded.lr == 0.3 and loaded.optimizer == "sgd" and loaded.freeze_through is None


# sha256 (first 16 hex digits) of runner.identity(config)["config"] as the code before the
# grouping and the issue-27 fields computed it (94244c6; bench-free, exact: JSON text).
# "cub_recipe_adl": the CUB fine-tuning recipe of then (`pretrained_recipe.COMMON` + ADL).
IDENTITIES_BEFORE = {"default": "415c3347d902f619", "cub_recipe_adl": "c44d186be6282b11"}


def test_a_runs_identity_is_unchanged_so_finished_runs_are_reused(monkeypatch):
    from wsol_tf.experiments.pretrained_recipe import ADL, COMMON
    from wsol_tf.reproduction import runner

    monkeypatch.setattr(runner, "data_identity", lambda *a: None)
    configs = {"default": TrainConfig(),
               "cub_recipe_adl": TrainConfig.from_settings(**COMMON, **ADL)}  # fmt: skip
    for name, config in configs.items():
        settings = runner.identity(config, {"split": "val"})["config"]
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
        assert digest[:16] == IDENTITIES_BEFORE[name], name
