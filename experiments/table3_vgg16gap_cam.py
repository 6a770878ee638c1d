"""VGG-GAP + CAM, paper Table 3 (Tensorpack recipe, `recipes.py`).

Commands:
    make train MODEL=vgg16gap METHOD=cam DATASET=cub DATA_DIR=<CUB_200_2011>
    make train MODEL=vgg16gap METHOD=cam DATASET=imagenet DATA_DIR=<ILSVRC>
Paper: CUB Top-1 Loc 34.41, Top-1 Clas 67.55; ImageNet Top-1 Loc 42.80, Top-1 Clas 66.60.
"""

from wsol_tf.experiments.recipes import table3_configs

CONFIGS = table3_configs("vgg16gap", "cam")
