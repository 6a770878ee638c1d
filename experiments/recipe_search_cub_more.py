"""The recipe search of issue 27, continued: the settings the first search left out (label
smoothing, input size) and the larger EfficientNet-Lite backbones, on top of the recipe it
chose (`pretrained_recipe.SEARCHED`), chosen on the validation split carved from the training
images (never test).

Command (resumable; every trial goes to <out>/search.md/.json):
    python -m wsol_tf.recipe_search --experiment=recipe_search_cub_more \\
        --data_dir=../shared/data/CUB_200_2011_25cls --out=workdirs/recipe_25cls_more
Same rules as `recipe_search_cub`: each stage keeps the best by validation Top-1 Loc (then
MaxBoxAccV2, Top-1 Clas); the incumbent is its first trial; one seed.
- label smoothing 0.1 (Szegedy et al.'s value; `--label_smoothing`);
- input size 288 (crop of 320, the recipe's 224-of-256 ratio): an 18x18 map instead of
  14x14, at (288/224)^2 = 1.65x the pixels;
- backbone: EfficientNet-Lite1 and Lite2 at their ImageNet input sizes (240, 260; crops of
  274, 297), everything else as the incumbent. Their cost is their training seconds beside
  the incumbent's (BENCHMARKS.md has the quiet per-run time).
"""

from wsol_tf.experiments.pretrained_recipe import SEARCHED

START = {**SEARCHED, "method": "cam", "log_every": 100}
SELECTION = ("top1_loc", "maxboxacc_v2", "top1_clas")
EVALUATION = {"split": "val", "cam_curve_interval": 0.01}

STAGES = (
    ("label smoothing", [{"label_smoothing": 0.1}]),
    ("input size", [{"image_size": (288, 288), "resize_size": (320, 320)}]),
    ("backbone", [
        {"model": "efficientnet_lite1", "image_size": (240, 240), "resize_size": (274, 274)},
        {"model": "efficientnet_lite2", "image_size": (260, 260), "resize_size": (297, 297)},
    ]),
)  # fmt: skip
