"""The CPU-scale fine-tuning recipe of `cub_pretrained_cam` / `cub_pretrained_adl`.

EfficientNet-Lite0 from its ImageNet weights (pip package, offline) at 224 px; SGD with
Nesterov momentum, the new classifier at 10x the backbone's learning rate (wsolevaluation's
rule, `lr_groups="new_10"`), cosine schedule; 10 training images per class held out as "val"
to choose every setting below and the CAM threshold (never the test split). What each choice
was measured against: results/cub_pretrained_exploration.md.
"""

MODEL = "efficientnet_lite0"

COMMON = dict(
    model=MODEL,
    dataset="cub",
    pretrained="imagenet",
    image_size=(224, 224),
    resize_size=(256, 256),
    batch_size=32,
    epochs=8,
    lr=0.005,
    lr_groups="new_10",
    lr_schedule="cosine",
    momentum=0.9,
    nesterov=True,
    weight_decay=1e-4,
    val_per_class=10,
    last_stride=2,
    freeze_batch_norm=False,
    log_every=5,
    tensorboard=False,
)
ADL = dict(method="adl", drop_rate=0.75, gamma=0.9)


def cub_recipe(method):
    """TrainConfig keyword arguments of the recipe for `method` ("cam" or "adl")."""
    if method == "adl":
        return {**COMMON, **ADL}
    return {**COMMON, "method": method}
