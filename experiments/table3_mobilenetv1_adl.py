"""MobileNetV1 + ADL, paper Table 3 (Tensorpack recipe, `recipes.py`).

Commands:
    make train MODEL=mobilenetv1 METHOD=adl DATASET=cub DATA_DIR=<CUB_200_2011>
    make train MODEL=mobilenetv1 METHOD=adl DATASET=imagenet DATA_DIR=<ILSVRC>
Paper: CUB Top-1 Loc 47.74, Top-1 Clas 70.43; ImageNet Top-1 Loc 43.01, Top-1 Clas 67.77.
"""

from wsol_tf.experiments.recipes import table3_configs

CONFIGS = table3_configs("mobilenetv1", "adl")
