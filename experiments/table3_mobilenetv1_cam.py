"""MobileNetV1 + CAM, paper Table 3 (Tensorpack recipe, `recipes.py`).

Commands:
    make train MODEL=mobilenetv1 METHOD=cam DATASET=cub DATA_DIR=<CUB_200_2011>
    make train MODEL=mobilenetv1 METHOD=cam DATASET=imagenet DATA_DIR=<ILSVRC>
Paper: CUB Top-1 Loc 43.70, Top-1 Clas 71.94; ImageNet Top-1 Loc 41.66, Top-1 Clas 68.38.
"""

from wsol_tf.experiments.recipes import table3_configs

CONFIGS = table3_configs("mobilenetv1", "cam")
