"""InceptionV3 + CAM, paper Table 3 (Tensorpack recipe, `recipes.py`).

Commands:
    make train MODEL=inceptionv3 METHOD=cam DATASET=cub DATA_DIR=<CUB_200_2011>
    make train MODEL=inceptionv3 METHOD=cam DATASET=imagenet DATA_DIR=<ILSVRC>
Paper: CUB not reported; ImageNet not reported.
"""

from wsol_tf.experiments.recipes import table3_configs

CONFIGS = table3_configs("inceptionv3", "cam")
