"""Test helper: a registered backbone's spec with other weights, for one test."""

import dataclasses

from wsol_tf import models


def replace_weights(monkeypatch, name, **changes):
    """Registers a copy of `name`'s `BackboneSpec` whose `weights` have `changes` (e.g.
    keras=<an unreachable KerasWeights>) until the test ends; returns it."""
    spec = models.spec(name)
    spec = dataclasses.replace(spec, weights=dataclasses.replace(spec.weights, **changes))
    # The registry's own dict, so that monkeypatch puts the original back afterwards.
    monkeypatch.setitem(models.BACKBONES._entries, name, spec)
    return spec
