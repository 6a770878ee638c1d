"""CAM vs ADL on the embedded synthetic dataset (`make demo`).

Command: `make demo` (= `python -m wsol_tf.demo`).

Paper claim it answers to: ADL moves the CAM from the most discriminative part
to the whole object. ADL paper, Table 1 (VGG-GAP, CUB-200-2011): GT-known Loc
51.09 without ADL, 74.78 with ADL (drop_rate 0.75). Here the backbone is the
CPU-sized TinyVGG-GAP trained from scratch at 96 px, so only the direction of
the effect is comparable, not the numbers.
"""

from wsol_tf.runs.config import TrainConfig

COMMON = dict(
    model="tinyvgg",
    dataset="synthetic",
    epochs=12,
    batch_size=32,
    lr=0.02,
    lr_schedule="cosine",
    weight_decay=1e-4,
    image_size=(96, 96),
    seed=0,
    log_every=100,
)


# ADL as the paper recommends for VGG-GAP: drop_rate 0.75, gamma 0.8, at the backbone's
# default positions (block2_pool, block3_pool, block4_conv2: pool3, pool4, conv5-3 in VGG).
ADL = dict(method="adl", drop_rate=0.75, gamma=0.8)


def cam_settings(**overrides):
    """TrainConfig kwargs (no workdir) of the vanilla CAM run."""
    return {**COMMON, **overrides, "method": "cam"}


def adl_settings(**overrides):
    """TrainConfig kwargs (no workdir) of an ADL run; overrides change ADL's settings too."""
    return {**COMMON, **ADL, **overrides}


def configs(workdir_root="workdirs/demo", **overrides):
    """The two runs of the demo, with the same budget: vanilla CAM and ADL."""
    return {
        "cam": TrainConfig.from_settings(
            workdir=f"{workdir_root}/cam", **cam_settings(**overrides)
        ),
        "adl": TrainConfig.from_settings(
            workdir=f"{workdir_root}/adl", **adl_settings(**overrides)
        ),
    }
