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
