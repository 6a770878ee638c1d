"""SPG (Zhang et al., ECCV 2018) on wsolevaluation's recipe, and on the synthetic demo recipe.

Commands:
    python -m wsol_tf.train --experiment=wsolevaluation_spg --dataset=synthetic
    python -m wsol_tf.train --experiment=wsolevaluation_spg --dataset=cub --data_dir=<CUB>
    python -m wsol_tf.evaluate --workdir=<workdir>
wsolevaluation (README table, CUB MaxBoxAccV2, hyperparameters tuned on its held-out split):
VGG16 56.3, InceptionV3 55.9, ResNet50 60.4 (CAM: 63.7, 56.7, 63.0).
Hyperparameters: wsolevaluation's `config.py` guidance thresholds (high, low) = (0.7, 0.01)
for B2 from the CAM, (0.5, 0.05) for B1 from sigmoid(B2), (0.7, 0.1) for C from the fused
map; all three BCE losses at weight 1 beside the cross-entropy; side branches at the
backbone's default positions (InceptionV3: mixed2, mixed6 = Mixed_5d, Mixed_6d; TinyVGG:
block3_pool, block4_conv2), half the feature map's channels wide (512 on InceptionV3).
"""

from wsol_tf.experiments.recipes import synthetic_recipe, wsolevaluation_recipe
from wsol_tf.methods.spg import THRESHOLDS

PARAMS = {f"spg_threshold_{key}": value for key, value in THRESHOLDS.items()}

CONFIGS = {
    "cub": wsolevaluation_recipe("inceptionv3", "cub", "spg", **PARAMS),
    "synthetic": synthetic_recipe("spg", **PARAMS),
}
