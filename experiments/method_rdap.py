"""RDAP (Region-based Dropout with Attention Prior, Pattern Recognition 2021) on VGG-GAP, and
its synthetic sanity run.

Commands:
    python -m wsol_tf.train --experiment=method_rdap --dataset=cub --data_dir=<CUB_200_2011>
    python -m wsol_tf.train --experiment=method_rdap --dataset=synthetic
Paper: seed 003's notes describe RDAP but give no number for it, and ../shared has none; the
paper's CUB / ImageNet results are to be copied from it, not quoted here from memory.

Recipe: RDAP is ADL's successor (the notes: "unlike the ADL, RDAP hides the most
discriminative part with a fixed-size square mask"); with no recipe of its own in the seeds,
this is the ADL paper's VGG-GAP Tensorpack recipe (`recipes.py`) with RDAP in ADL's place,
at ADL's positions, square 0.5 of the map's shorter side, dropping in 75% of steps
(the method's defaults, `wsol_tf.methods.rdap`).
"""

from wsol_tf.experiments.recipes import tensorpack_recipe
from wsol_tf.experiments.synthetic_demo import COMMON

RDAP = dict(method="rdap", rdap_size=0.5, rdap_probability=0.75)

CONFIGS = {
    "cub": dict(tensorpack_recipe("vgg16gap", "cub", "rdap"), **RDAP),
    "synthetic": dict(COMMON, **RDAP),
}
