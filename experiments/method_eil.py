"""EIL (Erasing Integrated Learning, CVPR 2020) on VGG16-GAP, the reference code's recipe,
and its synthetic sanity run.

Commands:
    python -m wsol_tf.train --experiment=method_eil --dataset=cub --data_dir=<CUB_200_2011>
    python -m wsol_tf.train --experiment=method_eil --dataset=synthetic
    MEIL: add --positions=block3_pool,block4_pool (erasing after pool3 and pool4).
Paper: seed 004 holds the method section but no result table, and ../shared has no EIL
numbers; the CUB-200-2011 / ILSVRC Top-1 Loc of EIL and MEIL (VGG16) are to be copied from the
paper's tables. They are not quoted here from memory.

Recipe (Wayne-Mai/EIL `EIL_script/train_EIL.sh` and `train_level_2.py`, ../shared ANCHORS.md):
VGG16 ImageNet-pretrained with conv6 (1024) + GAP + fc (our VGG16-GAP), erasing after pool4
at 0.7 x the per-sample max, sigma 1; batch 64, lr 0.001, 80 epochs, lr x0.1 at epoch 60,
weight decay 1e-4, Nesterov momentum 0.9, the fc layer at 10x the learning rate. Our closest
learning-rate rule, new_10, also puts the new conv6 ("features") at 10x (the reference: 1x).
Input 224 (resize 256, random crop, flip; test: resize 256, centre crop 224), as its loader's
defaults (--resize-size 256 --crop-size 224). The reference reads boxes at CAM threshold 0.15;
our evaluator scores every threshold (MaxBoxAcc) and reports the best.
"""

from wsol_tf.experiments.synthetic_demo import COMMON

EIL = dict(method="eil", eil_threshold=0.7, eil_threshold_mode="relative", eil_weight=1.0)

CONFIGS = {
    "cub": dict(
        model="vgg16gap",
        dataset="cub",
        pretrained="imagenet",
        **EIL,
        epochs=80,
        batch_size=64,
        lr=0.001,
        lr_schedule="step",
        lr_decay_epochs=(60,),
        lr_decay=0.1,
        momentum=0.9,
        nesterov=True,
        weight_decay=1e-4,
        weight_decay_mode="l2",
        lr_groups="new_10",
        image_size=(224, 224),
        resize_size=(256, 256),
        eval_resize="crop",
    ),
    # The demo's budget and recipe (experiments/synthetic_demo.py), TinyVGG, erasing after
    # block3_pool (TinyVGG's pool4 analogue).
    "synthetic": dict(COMMON, **EIL),
}
