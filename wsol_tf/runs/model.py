"""A run's network from its config: the backbone, the method and where the ImageNet weights
come from (the config itself only describes and validates; it builds nothing)."""


def build_wsol_model(config, num_classes, pretrained=None):
    """The run's `WSOLModel` for a validated `TrainConfig` (random init unless
    `pretrained`); Keras is imported here."""
    from wsol_tf import models

    return models.build(
        config.model,
        num_classes,
        method=config.make_method(),
        pretrained=pretrained,
        image_size=config.image_size,
        last_stride=config.last_stride,
    )


def fetch_imagenet_weights(model, pretrained):
    """The local ImageNet weights file of `--pretrained=imagenet` (downloaded into the Keras
    cache when absent); None for any other --pretrained. Offline and uncached, it raises
    `PretrainedWeightsUnavailable` within seconds, naming where to put the file."""
    from wsol_tf import models
    from wsol_tf.models import pretrained as weights

    if pretrained != weights.IMAGENET:
        return None
    return weights.imagenet_source(models.spec(model))[1]
