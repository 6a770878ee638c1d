"""ResNet50-SE + CAM, paper Table 3 (Tensorpack recipe, `recipes.py`).

Commands:
    make train MODEL=resnet50se METHOD=cam DATASET=cub DATA_DIR=<CUB_200_2011>
    make train MODEL=resnet50se METHOD=cam DATASET=imagenet DATA_DIR=<ILSVRC>
Paper: CUB Top-1 Loc 42.72, Top-1 Clas 80.65; ImageNet Top-1 Loc 46.19, Top-1 Clas 76.56.
"""

from wsol_tf.experiments.recipes import table3_configs

CONFIGS = table3_configs("resnet50se", "cam")
