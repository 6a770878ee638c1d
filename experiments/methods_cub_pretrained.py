"""Every method on real birds: EfficientNet-Lite0 fine-tuned from ImageNet on the shared CUB
mini, the same recipe and budget for all (`pretrained_recipe.py`).

Command: `python -m wsol_tf.reproduce --tables=methods_cub_pretrained --cub_dir=<CUB mini>`
(part of `make reproduce` when ../shared/data/CUB_200_2011_mini exists).
Protocol: as `methods_synthetic`, at the cost CPU allows: each method runs its own defaults
(one trial per method, so the same number for every method and nothing chosen on test;
ADL: the recipe's gamma 0.9, drop_rate 0.75, chosen on validation in
results/cub_pretrained_exploration.md), seed 0 first and more seeds when time allows
(`--method_seeds`); GT-known and Top-1 Loc at the CAM threshold best on validation.
Positions on EfficientNet-Lite0 (14x14 map at 224): ADL, RDAP and RFGA at the recipe's ADL
positions (block5c_add, block6d_add, features); EIL at block6d_add (the middle one, as pool4
is for VGG); SPG's side branches at block4c_add and block5c_add (the last residual outputs
at 1/16 before the head's stage, as wsolevaluation taps Mixed_5d / Mixed_6d).
wsolevaluation (CUB, MaxBoxAccV2, ResNet50): CAM 63.0, HaS 64.7, ACoL 66.5, SPG 60.4,
ADL 58.4, CutMix 62.8.
"""

from wsol_tf.experiments.pretrained_recipe import ADL, COMMON
from wsol_tf.reproduction.comparison import Comparison

NAME = "methods_cub_pretrained"
SECTION = "methods"
TITLE = "Every method on CUB mini, EfficientNet-Lite0 fine-tuned from ImageNet"
PAPER = {}
TRIALS = {
    "CAM": ("cam", [{}]),
    "HaS": ("has", [{}]),
    "ACoL": ("acol", [{}]),
    "SPG": ("spg", [{"positions": ("block4c_add", "block5c_add")}]),
    "ADL": ("adl", [{k: v for k, v in ADL.items() if k != "method"}]),
    "CutMix": ("cutmix", [{}]),
    "EIL": ("eil", [{}]),
    "RDAP": ("rdap", [{}]),
    "RFGA": ("rfga", [{}]),
    "CAM + entropy": ("cam", [{"entropy_weight": 1e-4}]),
    "ADL + entropy": (
        "adl",
        [{**{k: v for k, v in ADL.items() if k != "method"}, "entropy_weight": 1e-4}],
    ),
}
COMPARISON = Comparison(
    name=NAME,
    trials=TRIALS,
    data_settings={"CUB mini (test split)": {}},
    base={**COMMON, "log_every": 100},
    seeds=(0, 1, 2),
)
