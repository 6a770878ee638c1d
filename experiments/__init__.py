"""Experiment configs, one module per paper setting (see each module's docstring).

`table3_<model>_<method>` modules hold `CONFIGS = {dataset: TrainConfig kwargs}` for a
row of the ADL paper's Table 3, `method_<method>` modules the same for the other methods'
papers (EIL, entropy regularization, RDAP, RFGA), each with a "synthetic" sanity config;
`wsolevaluation_<method>` the same for a baseline of wsolevaluation (HaS, CutMix, ACoL, SPG);
`cub_pretrained_<method>` the CPU-scale fine-tuning recipe of `MODEL` (EfficientNet-Lite0
from ImageNet) on CUB; `synthetic_demo` holds the `make demo` runs.
`synthetic_adl_vs_cam`, `synthetic_table1`, `synthetic_table2` and `cub_mini` define the runs of
`make reproduce` (`wsol_tf.reproduce`): `runs(seeds, **overrides)` -> `reproduction.Run`s.
"""

import importlib
import pkgutil

# Name prefixes of the modules holding `CONFIGS` (`--experiment=<module>`).
TRAINING_PREFIXES = ("table3_", "method_", "wsolevaluation_", "cub_pretrained_")


def available(prefixes=TRAINING_PREFIXES):
    """Names of the experiment modules with training configs (those named with `prefixes`),
    sorted by prefix (Table 3 rows first), then by name."""
    prefixes = tuple(prefixes)
    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith(prefixes)]
    return sorted(
        names, key=lambda n: (next(i for i, p in enumerate(prefixes) if n.startswith(p)), n)
    )


def lookup(experiment, model, method, dataset):
    """TrainConfig keyword arguments of an experiment, or None.

    Args:
        experiment: None/"none" (no experiment), "auto" (the Table 3 config of
            model/method/dataset when one exists, else the `cub_pretrained_<method>` recipe
            when its MODEL is `model`, else `pretrained_recipe` for any method on that model
            and CUB, else None) or a module name.
        model, method, dataset: pick the config when experiment is "auto", and
            the dataset's config inside a module.

    Raises:
        ValueError naming the experiment and the valid names.
    """
    if experiment in (None, "", "none"):
        return None
    name = f"table3_{model}_{method}" if experiment == "auto" else experiment
    if experiment == "auto" and name not in available():
        recipe = f"cub_pretrained_{method}"
        if recipe in available() and importlib.import_module(f"{__name__}.{recipe}").MODEL == model:
            name = recipe
        else:
            from wsol_tf.experiments import pretrained_recipe

            if model == pretrained_recipe.MODEL and dataset == "cub":
                # Any other method on the fine-tuning backbone: the same CPU-scale recipe.
                return {**pretrained_recipe.cub_recipe(method), "experiment": "pretrained_recipe"}
    if name not in available():
        if experiment == "auto":
            return None
        raise ValueError(
            f"--experiment={experiment!r}: valid: auto, none, {', '.join(available())}."
        )
    configs = importlib.import_module(f"{__name__}.{name}").CONFIGS
    if dataset not in configs:
        if experiment == "auto":
            return None
        raise ValueError(
            f"--experiment={experiment} has no config for --dataset={dataset}; "
            f"it has: {', '.join(configs)}."
        )
    return dict(configs[dataset], experiment=name)
