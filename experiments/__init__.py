"""Experiment configs, one module per paper setting (see each module's docstring).

`table3_<model>_<method>` modules hold `CONFIGS = {dataset: TrainConfig kwargs}` for a
row of the ADL paper's Table 3, `wsolevaluation_<method>` modules the same for a baseline
method of wsolevaluation (HaS, CutMix, ACoL, SPG); `synthetic_demo` holds the `make demo` runs.
`synthetic_adl_vs_cam`, `synthetic_table1`, `synthetic_table2` and `cub_mini` define the runs of
`make reproduce` (`wsol_tf.reproduce`): `runs(seeds, **overrides)` -> `reproduction.Run`s.
"""

import importlib
import pkgutil

# Modules with training configs (`CONFIGS`), usable as `--experiment=<module>`.
CONFIG_PREFIXES = ("table3_", "wsolevaluation_")


def available():
    """Names of the experiment modules with training configs."""
    return sorted(
        m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith(CONFIG_PREFIXES)
    )


def lookup(experiment, model, method, dataset):
    """TrainConfig keyword arguments of an experiment, or None.

    Args:
        experiment: None/"none" (no experiment), "auto" (the Table 3 config of
            model/method/dataset when one exists, else None) or a module name.
        model, method, dataset: pick the config when experiment is "auto", and
            the dataset's config inside a module.

    Raises:
        ValueError naming the experiment and the valid names.
    """
    if experiment in (None, "", "none"):
        return None
    name = f"table3_{model}_{method}" if experiment == "auto" else experiment
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
