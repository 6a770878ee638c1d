"""ADL on EfficientNet-Lite0 fine-tuned from ImageNet, CUB at CPU scale.

Commands:
    make train MODEL=efficientnet_lite0 METHOD=adl DATASET=cub DATA_DIR=<CUB_200_2011>
    python -m wsol_tf.reproduce --tables=cub_pretrained   # 3 seeds, CAM and ADL
Paper (ADL, Table 3, CUB, MobileNetV1 ADL, the paper's nearest light backbone): Top-1 Loc
47.74 (CAM 43.70), Top-1 Clas 70.43; (Table 1, VGG-GAP ADL) GT-known Loc 74.78 (CAM 51.09).
Positions, gamma, drop_rate, epochs, batch norm and map resolution were chosen on a validation
split of the training images: `pretrained_recipe.py`, results/cub_pretrained_exploration.md.
"""

from wsol_tf.experiments.pretrained_recipe import MODEL as MODEL
from wsol_tf.experiments.pretrained_recipe import cub_recipe

CONFIGS = {"cub": cub_recipe("adl")}
