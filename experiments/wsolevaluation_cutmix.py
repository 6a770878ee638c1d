"""CutMix (Yun et al., ICCV 2019) on wsolevaluation's recipe, and on the synthetic demo recipe.

Commands:
    python -m wsol_tf.train --experiment=wsolevaluation_cutmix --dataset=synthetic
    python -m wsol_tf.train --experiment=wsolevaluation_cutmix --dataset=cub --data_dir=<CUB>
    python -m wsol_tf.evaluate --workdir=<workdir>
wsolevaluation (README table, CUB MaxBoxAccV2, hyperparameters tuned on its held-out split):
VGG16 62.3, InceptionV3 57.5, ResNet50 62.8 (CAM: 63.7, 56.7, 63.0).
Hyperparameters: mixing probability 1.0 and Beta(1, 1) box area (wsolevaluation `config.py`:
`--cutmix_prob` 1.0, `--cutmix_beta` 1.0; the CutMix paper's alpha = 1); partner: a random
permutation of the batch (wsolevaluation's `randperm`).
"""

from wsol_tf.experiments.recipes import synthetic_recipe, wsolevaluation_recipe

PARAMS = {"cutmix_prob": 1.0, "cutmix_beta": 1.0, "cutmix_partner": "permutation"}

CONFIGS = {
    "cub": wsolevaluation_recipe("inceptionv3", "cub", "cutmix", **PARAMS),
    "synthetic": synthetic_recipe("cutmix", **PARAMS),
}
