"""The FSL network and its training: an ImageNet backbone, cut in two at a position, and a
class-agnostic 1x1 foreground head (sigmoid) on its last feature map.

``stem`` (images -> the cut's activations) never trains, so its outputs for the
head-training images (and their mirror images) are computed once; a "head" trial also keeps
the features (the frozen ``tail`` applied once), a "last_stage" trial runs and trains the
tail at each step. Batch norm stays on its ImageNet statistics throughout (few images). The
loss is the binary cross-entropy between the head's sigmoid and the cells' box coverage
(`wsol_tf.fsl.targets`), averaged over cells and images; Adam, seeded shuffles and flips.

TensorFlow is imported here; `wsol_tf.fsl.run` imports this module inside its functions.
"""

from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np
import tensorflow as tf

from wsol_tf.evaluation.cam import normalize_scoremap, upsample_scoremaps
from wsol_tf.evaluation.sources import FileEvalSource
from wsol_tf.fsl.targets import box_coverage, flip_boxes


class FslNetwork:
    """The backbone of a run's config, with ImageNet (or the run's --pretrained) weights.

    Args:
        config: the WSOL run's `TrainConfig` (model, pretrained, image size, last stride).
        cut: the position after which the backbone may train, or None (frozen whole).
    """

    def __init__(self, config, cut=None):
        from wsol_tf import models

        # Method "cam" inserts nothing: the plain backbone, whatever the WSOL run's method.
        wsol = models.build(
            config.model, 1, method="cam", pretrained=config.pretrained,
            image_size=config.image_size, last_stride=config.last_stride,
        )  # fmt: skip
        backbone = wsol.backbone
        for layer in backbone.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False  # ImageNet statistics and affine parameters kept
        self.image_size = tuple(int(s) for s in config.image_size)
        self.cut = cut
        if cut is None:
            self.stem, self.tail = backbone, None
        else:
            middle = backbone.get_layer(cut).output
            self.stem = keras.Model(backbone.input, middle, name=f"{backbone.name}_fsl_stem")
            try:
                self.tail = keras.Model(middle, backbone.output, name=f"{backbone.name}_fsl_tail")
            except ValueError as error:
                raise ValueError(
                    f"--model={config.model}: the backbone cannot be cut at {cut!r} for the "
                    f"last-stage trial ({str(error).splitlines()[0]})"
                ) from None
        self.map_hw = tuple(int(s) for s in backbone.output.shape[1:3])
        self.channels = int(backbone.output.shape[-1])
        self._tail_weights = self.tail.get_weights() if self.tail is not None else []
        self.head = keras.layers.Conv2D(1, 1, name="fsl_head")
        self.head.build((None, *self.map_hw, self.channels))
        self.probabilities = tf.function(self._probabilities, reduce_retracing=True)

    def features(self, stem_out):
        return stem_out if self.tail is None else self.tail(stem_out, training=False)

    def reset(self, seed, prior):
        """Back to the initial backbone weights, with a new head (seeded Glorot kernel, bias
        the log-odds of `prior`, the mean target)."""
        if self.tail is not None:
            self.tail.set_weights(self._tail_weights)
        prior = float(np.clip(prior, 1e-3, 1 - 1e-3))
        kernel = keras.initializers.GlorotUniform(seed=int(seed))(self.head.kernel.shape)
        self.head.kernel.assign(kernel)
        self.head.bias.assign(np.full(self.head.bias.shape, np.log(prior / (1 - prior)), "float32"))

    def weights(self):
        """(head weights, tail weights) as numpy, to restore a trial later."""
        tail = self.tail.get_weights() if self.tail is not None else []
        return self.head.get_weights(), tail

    def set_weights(self, weights):
        head, tail = weights
        self.head.set_weights(head)
        if self.tail is not None:
            self.tail.set_weights(tail)

    def _probabilities(self, images):
        """(B, h, w) foreground probabilities of a (B, H, W, 3) batch in [0, 255] (traced
        once as `probabilities`)."""
        stem_out = self.stem(images, training=False)
        return tf.sigmoid(self.head(self.features(stem_out)))[..., 0]


@dataclasses.dataclass
class HeadData:
    """The head-training images as the network sees them: ``stem`` (2, N, ...) activations
    at the cut of each image (index 0) and its mirror image (1), ``targets`` (2, N, h, w, 1)
    box coverage, and ``num_gt_boxes`` over the N images."""

    stem: np.ndarray
    targets: np.ndarray
    num_gt_boxes: int
    features: np.ndarray | None = None

    @property
    def num_images(self):
        return int(self.stem.shape[1])


def head_data(net, records, *, resize_size, batch_size=32, print_fn=print) -> HeadData:
    """Reads `records` (every row has a GT box) at the evaluation geometry, mirrors each
    image, and keeps the stem's activations and the box-coverage targets of both."""
    source = FileEvalSource(records)
    stems, targets, num_boxes = ([], []), ([], []), 0
    width = net.image_size[1]
    rows = np.arange(len(records))
    for batch in source.batches(rows, net.image_size, resize_size, batch_size):
        flipped = tf.reverse(batch.images, axis=[2])
        for side, images in enumerate((batch.images, flipped)):
            stems[side].append(net.stem(images, training=False).numpy())
        for boxes in batch.gts:
            num_boxes += len(boxes)
            targets[0].append(box_coverage(boxes, net.image_size, net.map_hw))
            targets[1].append(box_coverage(flip_boxes(boxes, width), net.image_size, net.map_hw))
        print_fn(f"FSL: read {len(targets[0])}/{len(records)} head-training images")
    if len(targets[0]) != len(records):
        raise ValueError(
            f"{records.source}: {len(records) - len(targets[0])} of the {len(records)} "
            "head-training images could not be read"
        )
    return HeadData(
        stem=np.stack([np.concatenate(s) for s in stems]),
        targets=np.stack([np.stack(t) for t in targets])[..., None],
        num_gt_boxes=num_boxes,
    )


def train_trial(net, data, trial, *, seed, print_fn=print):
    """Trains `net`'s head (and tail, for "last_stage") for one trial from the initial
    weights; returns {"seconds", "final_loss"}. Deterministic for `seed`."""
    started = time.perf_counter()
    keras.utils.set_random_seed(int(seed))
    net.reset(seed, prior=float(data.targets.mean()))
    train_tail = trial.tune == "last_stage" and net.tail is not None
    if train_tail:
        inputs = data.stem
    else:
        if data.features is None and net.tail is None:
            data.features = data.stem  # cut at the feature map: the stem gives the features
        if data.features is None:  # the frozen features, once for every "head" trial
            data.features = np.stack([
                np.concatenate([net.features(data.stem[side, i : i + 64]).numpy()
                                for i in range(0, data.num_images, 64)])
                for side in range(2)
            ])  # fmt: skip
        inputs = data.features
    head_vars = list(net.head.trainable_variables)
    tail_vars = list(net.tail.trainable_variables) if train_tail else []
    head_opt = keras.optimizers.Adam(trial.lr)
    head_opt.build(head_vars)
    tail_opt = None
    if tail_vars:
        tail_opt = keras.optimizers.Adam(trial.lr * trial.backbone_lr_factor)
        tail_opt.build(tail_vars)

    @tf.function(reduce_retracing=True)
    def step(x, target):
        with tf.GradientTape() as tape:
            features = net.tail(x, training=False) if train_tail else x
            logits = net.head(features)
            loss = tf.reduce_mean(
                tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=logits)
            )
        grads = tape.gradient(loss, head_vars + tail_vars)
        head_opt.apply_gradients(zip(grads[: len(head_vars)], head_vars, strict=True))
        if tail_opt is not None:
            tail_opt.apply_gradients(zip(grads[len(head_vars) :], tail_vars, strict=True))
        return loss

    rng = np.random.default_rng(int(seed))
    n = data.num_images
    report_every = max(1, trial.epochs // 5)
    loss = float("nan")
    for epoch in range(1, trial.epochs + 1):
        order = rng.permutation(n)
        sides = rng.integers(0, 2, n)  # each image, or its mirror image
        losses = []
        for start in range(0, n, trial.batch_size):
            rows = order[start : start + trial.batch_size]
            x = tf.constant(inputs[sides[rows], rows])
            target = tf.constant(data.targets[sides[rows], rows])
            losses.append(float(step(x, target)) * len(rows))
        loss = sum(losses) / n
        if epoch % report_every == 0 or epoch == trial.epochs:
            print_fn(f"FSL trial {trial.name}: epoch {epoch}/{trial.epochs} loss {loss:.4f} "
                     f"({time.perf_counter() - started:.0f}s)")  # fmt: skip
    return {"seconds": time.perf_counter() - started, "final_loss": loss}


class FslScorer:
    """`evaluate_scorer`'s scorer: the FSL head's maps (class-agnostic) with the class
    predictions of `classifier` (a `ScoreMapper` of the WSOL run), or, without one, the
    given classes as predictions (the selection part: GT-known numbers only)."""

    class_agnostic = True

    def __init__(self, net, num_classes, classifier=None):
        self.net = net
        self.num_classes = int(num_classes)
        self.classifier = classifier

    def __call__(self, images, classes):
        maps = self.net.probabilities(images).numpy()
        maps = normalize_scoremap(upsample_scoremaps(maps, self.net.image_size))
        if self.classifier is not None:
            return self.classifier.logits(images), maps
        classes = np.asarray(classes, dtype=np.int64)
        return np.eye(self.num_classes, dtype=np.float32)[classes], maps
