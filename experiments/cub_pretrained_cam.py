"""Vanilla CAM on EfficientNet-Lite0 fine-tuned from ImageNet, CUB at CPU scale.

Commands:
    make train MODEL=efficientnet_lite0 METHOD=cam DATASET=cub DATA_DIR=<CUB_200_2011>
    python -m wsol_tf.reproduce --tables=cub_pretrained   # 3 seeds, CAM and ADL
Paper (ADL, Table 3, CUB, MobileNetV1 CAM, the paper's nearest light backbone): Top-1 Loc
43.70, Top-1 Clas 71.94; (Table 1, VGG-GAP CAM) GT-known Loc 51.09. The recipe and what was
measured to choose it: `pretrained_recipe.py`, results/cub_pretrained_exploration.md.
"""

from wsol_tf.experiments.pretrained_recipe import MODEL as MODEL
from wsol_tf.experiments.pretrained_recipe import cub_recipe

CONFIGS = {"cub": cub_recipe("cam")}
