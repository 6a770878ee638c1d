"""RFGA (Residual Fine-Grained Attention, arXiv 2104.04952) on VGG-GAP, and its synthetic run.

Commands:
    python -m wsol_tf.train --experiment=method_rfga --dataset=cub --data_dir=<CUB_200_2011>
    python -m wsol_tf.train --experiment=method_rfga --dataset=synthetic
Paper: only the abstract is known (seed 002): no numbers, no code, no hyperparameters. The
module is our interpretation (`wsol_tf.layers.RFGA`), so no paper number applies to it.

Recipe: the ADL paper's VGG-GAP Tensorpack recipe (`recipes.py`) with RFGA at ADL's
positions (after pool3, pool4, conv5_3); its layers count as new layers, so under
`lr_groups=pretrained_0.1` they train at the full learning rate while the pretrained
backbone trains at 0.1x.
"""

from wsol_tf.experiments.recipes import tensorpack_recipe
from wsol_tf.experiments.synthetic_demo import COMMON

RFGA = dict(method="rfga", rfga_kernel_size=3)

CONFIGS = {
    "cub": dict(tensorpack_recipe("vgg16gap", "cub", "rfga"), **RFGA),
    "synthetic": dict(COMMON, **RFGA),
}
