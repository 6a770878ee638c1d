"""The recipe search of issue 27, one interaction it left out: Adam with frozen batch norm.

The first search (`recipe_search_cub`) tried Adam in its first stage, while batch norm still
trained; frozen batch norm won a later stage under SGD (val Top-1 Clas 70.4 vs 62.0). The
issue's outside trial that reached 84% Top-1 Clas on 10 other CUB classes used Adam at 1e-4
with the head at 10x and frozen batch norm, a combination never tried here. This stage tries
it on top of the chosen recipe (`pretrained_recipe.SEARCHED`: frozen batch norm, random
resized crops, the stem to block3b frozen, 16 cosine epochs, weight decay 1e-5), on the
validation split carved from the training images (never test).

Command (resumable; every trial goes to <out>/search.md/.json):
    python -m wsol_tf.recipe_search --experiment=recipe_search_cub_adam \\
        --data_dir=../shared/data/CUB_200_2011_25cls --out=workdirs/recipe_25cls_adam
Same rules as `recipe_search_cub`: the stage keeps the best by validation Top-1 Loc (then
MaxBoxAccV2, Top-1 Clas) with the classic read-out; the incumbent is its first trial; one
seed. AdamW is tried only if Adam leads (the first search's rule).
"""

from wsol_tf.experiments.pretrained_recipe import SEARCHED

START = {**SEARCHED, "method": "cam", "log_every": 100}
SELECTION = ("top1_loc", "maxboxacc_v2", "top1_clas")
EVALUATION = {"split": "val", "cam_curve_interval": 0.01}

STAGES = (
    ("Adam with frozen batch norm", [
        {"optimizer": "adam", "lr": 1e-4, "lr_groups": "new_10"},
        {"optimizer": "adam", "lr": 3e-4, "lr_groups": "new_10"},
    ]),
)  # fmt: skip
