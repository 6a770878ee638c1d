"""ACoL (Zhang et al., CVPR 2018) on wsolevaluation's recipe, and on the synthetic demo recipe.

Commands:
    python -m wsol_tf.train --experiment=wsolevaluation_acol --dataset=synthetic
    python -m wsol_tf.train --experiment=wsolevaluation_acol --dataset=cub --data_dir=<CUB>
    python -m wsol_tf.evaluate --workdir=<workdir>
wsolevaluation (README table, CUB MaxBoxAccV2, hyperparameters tuned on its held-out split):
VGG16 57.4, InceptionV3 56.2, ResNet50 66.5 (CAM: 63.7, 56.7, 63.0).
Hyperparameters: erasing threshold delta 0.7 (wsolevaluation `--acol_threshold` 0.7); each
head two 3x3 convs + ReLU before its 1x1 classifier (wsolevaluation's classifier_A/B), as
wide as the feature map (1024 on InceptionV3 as in wsolevaluation; 256 on TinyVGG).
"""

from wsol_tf.experiments.recipes import synthetic_recipe, wsolevaluation_recipe

PARAMS = {"acol_threshold": 0.7, "acol_head_convs": 2, "acol_head_channels": None}

CONFIGS = {
    "cub": wsolevaluation_recipe("inceptionv3", "cub", "acol", **PARAMS),
    "synthetic": synthetic_recipe("acol", **PARAMS),
}
