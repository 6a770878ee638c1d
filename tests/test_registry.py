"""The one registry pattern (`wsol_tf.registry`): names, order, refusals."""

import pytest

from wsol_tf.registry import Registry, import_submodules


def test_entries_register_by_decorator_or_record_and_unknown_names_list_the_valid_ones():
    things = Registry("backbone", flag="--model")

    @things.register()
    class TinyNet:
        name = "tiny"

    @things.register("other")
    def build_other():
        return None

    things.add("record", {"folder": True})
    assert things.names() == ("tiny", "other", "record")
    assert things.get("tiny") is TinyNet and "other" in things and len(things) == 3
    with pytest.raises(ValueError, match=r"Unknown --model='vgg'; valid backbones: tiny, other, "):
        things.get("vgg")
    with pytest.raises(ValueError, match="'tiny' is already registered"):
        things.add("tiny", object())
    things.add("tiny", TinyNet)  # the same entry again (a module imported twice) is fine
    assert things.add("tiny", build_other, replace=True) is build_other
    with pytest.raises(ValueError, match="non-empty string"):
        things.add("", object())


def test_order_sorts_names_and_a_package_scan_imports_each_module():
    ordered = Registry("method", order=lambda name: (name != "cam", name))
    for name in ("has", "cam", "adl"):
        ordered.add(name, name)
    assert ordered.names() == ("cam", "adl", "has")
    assert [n for n, _ in ordered.items()] == ["cam", "adl", "has"]
    imported = import_submodules("wsol_tf.methods", skip=("base",))
    assert "wsol_tf.methods.cam" in imported and "wsol_tf.methods.base" not in imported


def test_experiments_are_the_modules_that_define_configs_whatever_their_name():
    import importlib
    import pkgutil

    from wsol_tf import experiments

    with_configs = {
        info.name
        for info in pkgutil.iter_modules(experiments.__path__)
        if hasattr(importlib.import_module(f"wsol_tf.experiments.{info.name}"), "CONFIGS")
    }
    assert set(experiments.available()) == with_configs
    assert "recipe_search_cub" not in with_configs and "table3_vgg16gap_adl" in with_configs
    # Table 3 rows are listed first, by name.
    names = experiments.available()
    assert names[: len(experiments.available(("table3_",)))] == experiments.available(("table3_",))
    with pytest.raises(ValueError, match="Unknown --experiment='nope'; valid experiments: table3_"):
        experiments.EXPERIMENTS.get("nope")
