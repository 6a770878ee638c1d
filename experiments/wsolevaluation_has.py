"""HaS (Singh & Lee, ICCV 2017) on wsolevaluation's recipe, and on the synthetic demo recipe.

Commands:
    python -m wsol_tf.train --experiment=wsolevaluation_has --dataset=synthetic
    python -m wsol_tf.train --experiment=wsolevaluation_has --dataset=cub --data_dir=<CUB>
    python -m wsol_tf.evaluate --workdir=<workdir>
wsolevaluation (README table, CUB MaxBoxAccV2, hyperparameters tuned on its held-out split):
VGG16 63.7, InceptionV3 53.4, ResNet50 64.7 (CAM: 63.7, 56.7, 63.0).
Hyperparameters: hide probability 0.5 (paper; wsolevaluation `--has_drop_rate` 0.5); patch
sides drawn per image from {0, 16, 32, 44, 56} pixels at 224 input (kkanshul/Hide-and-Seek,
"HaS-Mixed"; wsolevaluation's default is one 4-pixel grid, `--has_grid_size` 4); hidden
pixels take the ImageNet mean (what both reference codes write after mean subtraction). On
the 96-pixel synthetic input the sides are scaled by 96 / 224, so that a patch covers the
same fraction of the image: {0, 7, 14, 19, 24}.
"""

from wsol_tf.experiments.recipes import synthetic_recipe, wsolevaluation_recipe
from wsol_tf.methods.has import IMAGENET_MEAN, PAPER_PATCH_SIZES

HIDE_PROB = 0.5
PATCH_SIZES_AT_96 = tuple(round(s * 96 / 224) for s in PAPER_PATCH_SIZES)  # 0, 7, 14, 19, 24

CONFIGS = {
    "cub": wsolevaluation_recipe(
        "inceptionv3", "cub", "has", has_patch_sizes=PAPER_PATCH_SIZES,
        has_hide_prob=HIDE_PROB, has_fill=IMAGENET_MEAN,
    ),
    "synthetic": synthetic_recipe(
        "has", has_patch_sizes=PATCH_SIZES_AT_96, has_hide_prob=HIDE_PROB, has_fill=IMAGENET_MEAN
    ),
}  # fmt: skip
