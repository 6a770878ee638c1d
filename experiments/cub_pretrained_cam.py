"""Vanilla CAM on EfficientNet-Lite0 fine-tuned from ImageNet, CUB at CPU scale.

Commands:
    make train MODEL=efficientnet_lite0 METHOD=cam DATASET=cub DATA_DIR=<CUB_200_2011>
    python -m wsol_tf.reproduce --tables=cub_recipe   # 3 seeds, CAM and ADL, two CUB subsets
Paper (ADL, Table 3, CUB, MobileNetV1 CAM, the paper's nearest light backbone): Top-1 Loc
43.70, Top-1 Clas 71.94; (Table 1, VGG-GAP CAM) GT-known Loc 51.09. The recipe is the one
searched on CUB 25cls validation (`pretrained_recipe.SEARCHED`, results/recipe_search_25cls.md);
measured with it (results/cub_recipe.md, 3 seeds, read-out chosen on val): CUB 25cls Top-1 Loc
59.5, Top-1 Clas 70.6; CUB mini 70.8 and 79.7.
"""

from wsol_tf.experiments.pretrained_recipe import MODEL as MODEL
from wsol_tf.experiments.pretrained_recipe import cub_recipe

CONFIGS = {"cub": cub_recipe("cam")}
