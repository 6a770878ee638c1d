"""InceptionV3 + ADL, paper Table 3 (Tensorpack recipe, `recipes.py`).

Commands:
    make train MODEL=inceptionv3 METHOD=adl DATASET=cub DATA_DIR=<CUB_200_2011>
    make train MODEL=inceptionv3 METHOD=adl DATASET=imagenet DATA_DIR=<ILSVRC>
Paper: CUB Top-1 Loc 53.04, Top-1 Clas 74.55; ImageNet Top-1 Loc 48.71, Top-1 Clas 72.83.
"""

from wsol_tf.experiments.recipes import table3_configs

CONFIGS = table3_configs("inceptionv3", "adl")
