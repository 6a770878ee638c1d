"""Every method on the same backbone and budget, as wsolevaluation compares them (synthetic).

Command: `python -m wsol_tf.reproduce --tables=methods_synthetic` (part of `make reproduce`).

Protocol (wsolevaluation's, at CPU scale):
- one backbone and budget for all: TinyVGG-GAP from scratch, 96 px, 12 epochs, SGD 0.02 with
  a cosine schedule (the demo's recipe), trained on the training images minus a validation
  split of VAL_PER_CLASS images per class carved from them (`--val_per_class`);
- hyperparameters: each method gets the same number of trials (`TRIALS`, 3 each, values from
  each method's paper / wsolevaluation search ranges; vanilla CAM's only knob is the learning
  rate, so its trials vary that), run with seed 0 on the default generator setting, and
  the trial with the best **validation** MaxBoxAccV2 is kept; test is never looked at;
- the chosen setting then runs SEEDS seeds on every generator setting in DATA_SETTINGS, and
  the CAM threshold of GT-known / Top-1 Loc is the one that is best on validation;
- the centered-box baseline is reported beside each setting.
wsolevaluation's own finding (its README's table, ANCHORS.md): once hyperparameters and
thresholds are chosen on a held-out split, most methods sit within a few points of CAM
(CUB MaxBoxAccV2, VGG: CAM 63.7, HaS 63.7, ACoL 57.4, SPG 56.3, ADL 66.3, CutMix 62.3).
"""

from wsol_tf.experiments.synthetic_demo import COMMON
from wsol_tf.reproduction.comparison import Comparison

NAME = "methods_synthetic"
SECTION = "methods"  # reported by wsol_tf.reproduction.methods_report
TITLE = "Every method, same backbone and budget (synthetic; hyperparameters chosen on val)"
VAL_PER_CLASS = 8  # of the 40 training images per class
# Generator settings (`wsol_tf.data.synthetic` parameters); the first is the default set,
# on which hyperparameters are chosen.
DATA_SETTINGS = {
    "default (hue noise 0.5)": {},
    "hue noise 0.8 (weak body)": {"body_hue_noise": 0.8},
    "hue noise 0.25 (strong body)": {"body_hue_noise": 0.25},
    "small part (scale 0.5)": {"part_scale": 0.5},
}
# Row label -> (method, [trial settings]); the same number of trials for every row.
TRIALS = {
    "CAM": ("cam", [{}, {"lr": 0.01}, {"lr": 0.04}]),
    "HaS": ("has", [{}, {"patch_sizes": (16,)}, {"patch_sizes": (32,)}]),
    "ACoL": ("acol", [{}, {"acol_threshold": 0.5}, {"acol_threshold": 0.9}]),
    "SPG": (
        "spg",
        [{}, {"spg_threshold_1h": 0.5, "spg_threshold_3h": 0.5}, {"spg_threshold_1h": 0.9}],
    ),
    "ADL": (
        "adl",
        [
            {"drop_rate": 0.75, "gamma": 0.8},
            {"drop_rate": 0.75, "gamma": 0.9},
            {"drop_rate": 0.5, "gamma": 0.7},
        ],
    ),
    "CutMix": ("cutmix", [{}, {"cutmix_prob": 0.5}, {"cutmix_beta": 0.5}]),
    "EIL": ("eil", [{}, {"eil_threshold": 0.5}, {"eil_threshold": 0.9}]),
    "RDAP": ("rdap", [{}, {"rdap_size": 0.3}, {"rdap_probability": 0.5}]),
    "RFGA": ("rfga", [{}, {"rfga_kernel_size": 5}, {"rfga_kernel_size": 7}]),
    "CAM + entropy": (
        "cam",
        [{"entropy_weight": 1e-4}, {"entropy_weight": 1e-3}, {"entropy_weight": 1e-2}],
    ),
    "ADL + entropy": (
        "adl",
        [
            {"gamma": 0.8, "entropy_weight": 1e-4},
            {"gamma": 0.8, "entropy_weight": 1e-3},
            {"gamma": 0.8, "entropy_weight": 1e-2},
        ],
    ),
}
PAPER = {}  # synthetic: no paper numbers; wsolevaluation's ranking is quoted in the docstring
COMPARISON = Comparison(
    name=NAME,
    trials=TRIALS,
    data_settings=DATA_SETTINGS,
    base={**COMMON, "val_per_class": VAL_PER_CLASS},
    seeds=(0, 1, 2),
)
