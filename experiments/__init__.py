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

import sys

from wsol_tf.registry import Registry, import_submodules

# Listing order of `--experiment` names: Table 3 rows first, then the other papers' methods,
# wsolevaluation's baselines, the fine-tuning recipes, then any other module by name.
LISTING_PREFIXES = ("table3_", "method_", "wsolevaluation_", "cub_pretrained_")


def _listing_order(name):
    rank = next((i for i, p in enumerate(LISTING_PREFIXES) if name.startswith(p)), None)
    return (len(LISTING_PREFIXES) if rank is None else rank, name)


# A module of this package that defines `CONFIGS` is an `--experiment` (registered by the
# package scan: adding one is adding its module).
EXPERIMENTS = Registry("experiment", flag="--experiment", order=_listing_order)


def _scan():
    if not EXPERIMENTS:
        for full_name in import_submodules(__name__):
            module = sys.modules[full_name]
            if hasattr(module, "CONFIGS"):
                EXPERIMENTS.add(full_name.rsplit(".", 1)[1], module)


def available(prefixes=()):
    """Names of the experiments (modules with training `CONFIGS`), in listing order; only
    those starting with one of `prefixes` when given."""
    _scan()
    return [n for n in EXPERIMENTS.names() if not prefixes or n.startswith(tuple(prefixes))]


def lookup(experiment, model, method, dataset):
    """TrainConfig keyword arguments of an experiment, or None.

    Args:
        experiment: None/"none" (no experiment), "auto" (the Table 3 config of
            model/method/dataset when one exists, else the `cub_pretrained_<method>` recipe
            when its MODEL is `model`, else `pretrained_recipe` for any method on a model of
            its RECIPE_MODELS and CUB, else None) or a module name.
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
        if recipe in available() and EXPERIMENTS.get(recipe).MODEL == model:
            name = recipe
        else:
            from wsol_tf.experiments import pretrained_recipe

            if model in pretrained_recipe.RECIPE_MODELS and dataset == "cub":
                # Any other method on a fine-tuning backbone: the same CPU-scale recipe.
                recipe = pretrained_recipe.cub_recipe(method, model)
                return {**recipe, "experiment": "pretrained_recipe"}
    if name not in available():
        if experiment == "auto":
            return None
        raise ValueError(
            f"--experiment={experiment!r}: valid: auto, none, {', '.join(available())}."
        )
    configs = EXPERIMENTS.get(name).CONFIGS
    if dataset not in configs:
        if experiment == "auto":
            return None
        raise ValueError(
            f"--experiment={experiment} has no config for --dataset={dataset}; "
            f"it has: {', '.join(configs)}."
        )
    return dict(configs[dataset], experiment=name)
