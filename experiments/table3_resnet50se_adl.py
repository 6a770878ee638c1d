"""ResNet50-SE + ADL, paper Table 3 (Tensorpack recipe, `recipes.py`).

Commands:
    make train MODEL=resnet50se METHOD=adl DATASET=cub DATA_DIR=<CUB_200_2011>
    make train MODEL=resnet50se METHOD=adl DATASET=imagenet DATA_DIR=<ILSVRC>
Paper: CUB Top-1 Loc 62.29, Top-1 Clas 80.34; ImageNet Top-1 Loc 48.53, Top-1 Clas 75.85.
"""

from wsol_tf.experiments.recipes import table3_configs

CONFIGS = table3_configs("resnet50se", "adl")
