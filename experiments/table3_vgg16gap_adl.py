"""VGG-GAP + ADL, paper Table 3 (Tensorpack recipe, `recipes.py`).

Commands:
    make train MODEL=vgg16gap METHOD=adl DATASET=cub DATA_DIR=<CUB_200_2011>
    make train MODEL=vgg16gap METHOD=adl DATASET=imagenet DATA_DIR=<ILSVRC>
Paper: CUB Top-1 Loc 52.36, Top-1 Clas 65.27; ImageNet Top-1 Loc 44.92, Top-1 Clas 69.48.
"""

from wsol_tf.experiments.recipes import table3_configs

CONFIGS = table3_configs("vgg16gap", "adl")
