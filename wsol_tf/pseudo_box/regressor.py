"""The class-agnostic box regressor, its loss and its training pipeline (TensorFlow).

The network is the run's backbone with the run's ImageNet weights and a 4-way head: backbone ->
global average pooling -> Dense(4) (the CAM method's `ClassifierHead` with 4 outputs, built by
`wsol_tf.models.build`, so weights, preprocessing and checkpoints are the project's) ->
sigmoid. The two x outputs are sorted, and the two y outputs, so the box (x0, y0, x1, y1) is
always a box, in [0, 1] of the input's (w, h). Loss: mean L1 on the coordinates plus 1 - GIoU
(generalized IoU, Rezatofighi et al. 2019), per image, averaged over the batch.
"""

import keras
import numpy as np
import tensorflow as tf

from wsol_tf.data.pipeline import make_dataset
from wsol_tf.data.sizes import as_hw
from wsol_tf.models.layer_walk import all_layers

NUM_OUTPUTS = 4


def build_regressor(model_name, image_size, pretrained=None):
    """The regressor network: a `WSOLModel` (CAM method) with a 4-way head; `pretrained` as
    `wsol_tf.models.build` takes it (the run's --pretrained; None when weights are restored
    from a checkpoint next)."""
    from wsol_tf import models

    return models.build(
        model_name, NUM_OUTPUTS, method="cam", pretrained=pretrained, image_size=image_size
    )


def freeze(regressor, freeze_through=None, freeze_batch_norm=False):
    """The run's freezing on the regressor's backbone (as `training.build.build_model`): every
    layer up to `freeze_through` keeps its weights; batch norm layers run on their moving
    statistics with `freeze_batch_norm`."""
    if freeze_through:
        backbone = regressor.backbone
        upstream = keras.Model(backbone.input, backbone.get_layer(freeze_through).output)
        for layer in upstream.layers:
            layer.trainable = False
    if freeze_batch_norm:
        for layer in all_layers(regressor):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False


def predict_boxes(regressor, images, training=False):
    """(B, h, w, 3) images in [0, 255] -> (B, 4) float32 boxes (x0, y0, x1, y1) in [0, 1]."""
    logits = tf.cast(regressor(images, training=training)["logits"], tf.float32)
    p = tf.sigmoid(logits)
    x0, y0, x1, y1 = tf.unstack(p, axis=-1)
    return tf.stack(
        [tf.minimum(x0, x1), tf.minimum(y0, y1), tf.maximum(x0, x1), tf.maximum(y0, y1)], axis=-1
    )


def to_input_pixels(boxes, image_size):
    """Normalized boxes (B, 4) -> int32 boxes in input pixels, the evaluator's convention:
    rounded, clipped to [0, w - 1] x [0, h - 1] (as a CAM box's x + w is), x1 >= x0."""
    height, width = as_hw(image_size)
    scale = tf.constant([width, height, width, height], tf.float32)
    pixels = tf.round(tf.cast(boxes, tf.float32) * scale)
    upper = tf.constant([width - 1, height - 1] * 2, tf.float32)
    pixels = tf.clip_by_value(pixels, 0.0, upper)
    pixels = tf.concat([pixels[:, :2], tf.maximum(pixels[:, 2:], pixels[:, :2])], axis=1)
    return tf.cast(pixels, tf.int32)


def giou(a, b):
    """Generalized IoU of paired boxes (B, 4) in continuous coordinates -> (B,)."""
    ax0, ay0, ax1, ay1 = tf.unstack(a, axis=-1)
    bx0, by0, bx1, by1 = tf.unstack(b, axis=-1)
    area_a = tf.maximum(ax1 - ax0, 0.0) * tf.maximum(ay1 - ay0, 0.0)
    area_b = tf.maximum(bx1 - bx0, 0.0) * tf.maximum(by1 - by0, 0.0)
    inter = tf.maximum(tf.minimum(ax1, bx1) - tf.maximum(ax0, bx0), 0.0) * tf.maximum(
        tf.minimum(ay1, by1) - tf.maximum(ay0, by0), 0.0
    )
    union = area_a + area_b - inter
    enclosing = (tf.maximum(ax1, bx1) - tf.minimum(ax0, bx0)) * (
        tf.maximum(ay1, by1) - tf.minimum(ay0, by0)
    )
    eps = 1e-7
    return inter / tf.maximum(union, eps) - (enclosing - union) / tf.maximum(enclosing, eps)


def box_losses(predicted, target):
    """(L1, 1 - GIoU), each the batch mean (L1: mean over the 4 coordinates)."""
    l1 = tf.reduce_mean(tf.abs(predicted - target), axis=-1)
    return tf.reduce_mean(l1), tf.reduce_mean(1.0 - giou(predicted, target))


def train_batches(records, *, image_size, resize_size, batch_size, seed, epoch):
    """One epoch of (images, target boxes (B, 4) in [0, 1]) from `records` whose first box is
    the pseudo-box in original pixels: `make_dataset`'s training geometry (resize to
    `resize_size`, random crop `image_size`, random flip: the box is cropped, clipped and
    flipped with the image), shuffled by (seed, epoch); drops the last partial batch."""
    height, width = as_hw(image_size)
    scale = tf.constant([width, height, width, height], tf.float32)
    dataset = make_dataset(
        records, training=True, image_size=image_size, resize_size=resize_size,
        batch_size=batch_size, seed=seed, epoch=epoch, train_augment="crop_flip",
    )  # fmt: skip
    return dataset.map(lambda b: (b["image"], b["boxes"][:, 0, :] / scale))


def train(regressor, records, *, image_size, resize_size, batch_size, epochs, lr, seed,
          steps_per_epoch=None, name="", print_fn=print):  # fmt: skip
    """Trains `regressor` on the pseudo-boxes of `records` (Adam, `lr`); returns the last
    epoch's mean losses {"loss", "l1", "giou_loss"} and "steps"."""
    batch_size = max(1, min(int(batch_size), len(records)))
    steps = len(records) // batch_size
    if steps_per_epoch:
        steps = min(steps, int(steps_per_epoch))
    optimizer = keras.optimizers.Adam(learning_rate=lr)
    variables = regressor.trainable_variables
    optimizer.build(variables)  # its slots made eagerly: the step traces several times faster

    @tf.function
    def step(images, targets):
        with tf.GradientTape() as tape:
            l1, giou_loss = box_losses(predict_boxes(regressor, images, training=True), targets)
            loss = l1 + giou_loss
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return tf.stack([loss, l1, giou_loss])

    last, done = {}, 0
    for epoch in range(int(epochs)):
        started = tf.timestamp()
        sums = np.zeros(3)
        data = train_batches(
            records, image_size=image_size, resize_size=resize_size, batch_size=batch_size,
            seed=seed, epoch=epoch,
        )  # fmt: skip
        for index, (images, targets) in enumerate(data.take(steps)):
            sums += step(images, targets).numpy()
            done += 1
            if (index + 1) % 10 == 0 or index + 1 == steps:
                rate = (index + 1) * batch_size / max(float(tf.timestamp() - started), 1e-9)
                mean = sums / (index + 1)
                print_fn(
                    f"pseudo-box {name} epoch {epoch + 1}/{epochs} step {index + 1}/{steps} "
                    f"loss {mean[0]:.4f} (L1 {mean[1]:.4f}, 1-GIoU {mean[2]:.4f}) "
                    f"{rate:.1f} img/s"
                )
        last = dict(zip(("loss", "l1", "giou_loss"), (sums / max(steps, 1)).tolist(), strict=True))
    return {**last, "steps": done}
