"""The training recipes the paper's numbers come from, as TrainConfig settings.

Tensorpack ADL (junsukchoe/ADL, train.py / config.py / run_train.sh):
- ImageNet-pretrained backbone, new layers at 1x and pretrained layers at 0.1x
  (`_LR_SCALE`), Nesterov SGD momentum 0.9, L2 weight decay on every kernel:
  5e-4 for VGG, 1e-4 for ResNet;
- batch 32, input 224 (resize 256, random crop, flip; test: center crop);
- "epochs" of fixed length: 25 * (256 / batch) * stepscale steps with
  stepscale 5 (CUB) or 0.2 (ImageNet), i.e. 1000 and 8000 steps at batch 32;
  105 epochs; learning rate x0.1 at epochs 30, 60, 90 and 100;
- base lr 0.1 for ResNet50-SE on CUB (run_train.sh), 0.01 otherwise (the
  config default). MobileNetV1 and InceptionV3 were never released: their
  settings here are the same recipe with weight decay 1e-4 (an assumption).
ADL's positions and gamma are each backbone's paper defaults (its spec's
`default_positions` / `default_gamma`, `wsol_tf.models.spec(name)`); drop_rate 0.75.
"""

# Table 3 of the ADL paper: (Top-1 Loc, Top-1 Clas) per dataset; None = not reported.
PAPER_TABLE3 = {
    ("vgg16gap", "cam"): {"cub": (34.41, 67.55), "imagenet": (42.80, 66.60)},
    ("vgg16gap", "adl"): {"cub": (52.36, 65.27), "imagenet": (44.92, 69.48)},
    ("mobilenetv1", "cam"): {"cub": (43.70, 71.94), "imagenet": (41.66, 68.38)},
    ("mobilenetv1", "adl"): {"cub": (47.74, 70.43), "imagenet": (43.01, 67.77)},
    ("resnet50se", "cam"): {"cub": (42.72, 80.65), "imagenet": (46.19, 76.56)},
    ("resnet50se", "adl"): {"cub": (62.29, 80.34), "imagenet": (48.53, 75.85)},
    ("inceptionv3", "cam"): {"cub": None, "imagenet": None},
    ("inceptionv3", "adl"): {"cub": (53.04, 74.55), "imagenet": (48.71, 72.83)},
}

_WEIGHT_DECAY = {"vgg16gap": 5e-4, "resnet50se": 1e-4, "mobilenetv1": 1e-4, "inceptionv3": 1e-4}
_STEPS_PER_EPOCH_AT_32 = {"cub": 1000, "imagenet": 8000}


def tensorpack_recipe(model, dataset, method):
    """TrainConfig keyword arguments of the Tensorpack recipe for one Table 3 cell."""
    return dict(
        model=model,
        dataset=dataset,
        method=method,
        pretrained="imagenet",
        **({"drop_rate": 0.75} if method == "adl" else {}),
        epochs=105,
        steps_per_epoch=_STEPS_PER_EPOCH_AT_32[dataset],
        batch_size=32,
        lr=0.1 if (model, dataset) == ("resnet50se", "cub") else 0.01,
        lr_schedule="step",
        lr_decay_epochs=(30, 60, 90, 100),
        lr_decay=0.1,
        momentum=0.9,
        nesterov=True,
        weight_decay=_WEIGHT_DECAY[model],
        weight_decay_mode="l2",
        lr_groups="pretrained_0.1",
        image_size=(224, 224),
        resize_size=(256, 256),
        sync_batch_norm=False,  # Tensorpack's towers normalize with their own batch
    )


def table3_configs(model, method):
    """{dataset: TrainConfig kwargs} of one Table 3 row."""
    return {dataset: tensorpack_recipe(model, dataset, method) for dataset in ("cub", "imagenet")}


# wsolevaluation (Choe et al., CVPR 2020) README table, CUB-200-2011 MaxBoxAccV2 per backbone
# (VGG16, InceptionV3, ResNet50), hyperparameters chosen on its held-out split.
WSOLEVALUATION_CUB_MAXBOXACC_V2 = {
    "cam": {"vgg16": 63.7, "inceptionv3": 56.7, "resnet50": 63.0},
    "has": {"vgg16": 63.7, "inceptionv3": 53.4, "resnet50": 64.7},
    "acol": {"vgg16": 57.4, "inceptionv3": 56.2, "resnet50": 66.5},
    "spg": {"vgg16": 56.3, "inceptionv3": 55.9, "resnet50": 60.4},
    "adl": {"vgg16": 66.3, "inceptionv3": 58.8, "resnet50": 58.4},
    "cutmix": {"vgg16": 62.3, "inceptionv3": 57.5, "resnet50": 62.8},
}


def wsolevaluation_recipe(model, dataset, method, **method_params):
    """TrainConfig kwargs of wsolevaluation's `config.py` defaults for one method.

    ImageNet-pretrained backbone, new layers (head) at 10x the learning rate 0.01, SGD
    Nesterov momentum 0.9, weight decay 1e-4, batch 64, 40 epochs with lr x0.1 every 30,
    input 224 (its `data_loaders.py`: train = resize 256 x 256, random crop 224, flip; test =
    resize to 224 x 224, no crop). Its paper then
    tuned lr, weight decay and each method's hyperparameters per backbone by random search
    on the held-out split; those tuned values are not in its code and are not used here.
    """
    return dict(
        model=model,
        dataset=dataset,
        method=method,
        **method_params,
        pretrained="imagenet",
        epochs=40,
        batch_size=64,
        lr=0.01,
        lr_schedule="step",
        lr_decay_epochs=(30,),
        lr_decay=0.1,
        momentum=0.9,
        nesterov=True,
        weight_decay=1e-4,
        weight_decay_mode="l2",
        lr_groups="new_10",
        image_size=(224, 224),
        resize_size=(256, 256),
        train_augment="crop_flip",
        eval_resize="resize",
    )


def synthetic_recipe(method, **method_params):
    """TrainConfig kwargs of the demo recipe (TinyVGG-GAP from scratch, 96 px, 12 epochs,
    SGD 0.02 cosine) for one method, the budget every method gets on the synthetic set."""
    from wsol_tf.experiments.synthetic_demo import COMMON

    return {**COMMON, "method": method, **method_params}
