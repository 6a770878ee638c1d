"""CAM and ADL on real birds with the recipe searched on validation (issue 27): EfficientNet-
Lite0 fine-tuned from ImageNet on two CUB subsets, 3 seeds, every read-out chosen on the
validation split carved from the training images.

Command: `python -m wsol_tf.reproduce --tables=cub_recipe` (part of `make reproduce` when
../shared/data has the two sets). One training, the read-out chosen at its end:
    make train MODEL=efficientnet_lite0 DATASET=cub METHOD=cam DATA_DIR=<CUB_200_2011>
The recipe: `pretrained_recipe.SEARCHED` (`python -m wsol_tf.recipe_search`, table in
results/recipe_search_25cls.md). Each run reports the classic CAM at the CAM threshold best
on validation, and the read-out (extractor and threshold) chosen on validation
(`wsol_tf.evaluation.readout`), beside a centered box whose size is chosen on validation.
Targets (issue 27, test split, mean of 3 seeds; reference points, not like-for-like):
    CUB mini (10 classes): Top-1 Clas >= 85, Top-1 Loc >= 70, MaxBoxAccV2 >= 80
    CUB 25cls (classes 021-045): Top-1 Clas >= 78, Top-1 Loc >= 62.3, MaxBoxAccV2 >= 78
    GT-known Loc above the best centered box on both.
62.3 is the ADL paper's best CUB Top-1 Loc (ResNet50-SE, 200 classes); 80 is the level of
wsolevaluation's few-shot fully supervised baseline on CUB.
"""

import os

from wsol_tf.experiments.pretrained_recipe import ADL, SEARCHED
from wsol_tf.reproduction.comparison import Comparison

NAME = "cub_recipe"
SECTION = "methods"
TITLE = "CAM vs ADL on real birds, EfficientNet-Lite0, the recipe searched on validation"
PAPER = {}
SHARED = os.environ.get("WSOL_TF_SHARED_DATA", os.path.join("..", "shared", "data"))
SETS = {
    "CUB 25cls (test split)": os.path.join(SHARED, "CUB_200_2011_25cls"),
    "CUB mini (test split)": os.path.join(SHARED, "CUB_200_2011_mini"),
}
TARGETS = {
    "CUB mini (test split)": {"top1_clas": 85.0, "top1_loc": 70.0, "maxboxacc_v2": 80.0},
    "CUB 25cls (test split)": {"top1_clas": 78.0, "top1_loc": 62.3, "maxboxacc_v2": 78.0},
}
TRIALS = {
    "CAM": ("cam", [{}]),
    "ADL": ("adl", [{k: v for k, v in ADL.items() if k != "method"}]),
}


def available_sets():
    """The sets present on this machine ({} on a clone without ../shared/data)."""
    return {label: path for label, path in SETS.items() if os.path.isdir(path)}


COMPARISON = Comparison(
    name=NAME,
    trials=TRIALS,
    data_settings={label: {"data_dir": path} for label, path in available_sets().items()},
    base={**SEARCHED, "log_every": 100},
    seeds=(0, 1, 2),
    readout=True,
)
