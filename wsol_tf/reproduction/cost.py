"""What a method costs next to vanilla CAM: parameters and forward FLOPs of its model.

FLOPs are counted by TensorFlow's profiler on the traced forward pass (multiply and add count
as two), once at inference (`model(images, training=False)`) and once for the training
forward of the method (`method.forward(..., training=True)`: EIL's second pass shows there).
"""

from __future__ import annotations


def forward_flops(fn, image_size, batch=1) -> int:
    """Float operations of `fn(images)` on a (batch, h, w, 3) float32 input."""
    import tensorflow as tf

    spec = tf.TensorSpec((batch, *image_size, 3), tf.float32)
    concrete = tf.function(fn).get_concrete_function(spec)
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph=concrete.graph, options=options)
    return int(profile.total_float_ops)


def model_cost(config, num_classes) -> dict:
    """{"params", "inference_flops", "training_flops"} of a config's model (one image)."""
    import tensorflow as tf

    from wsol_tf.runs.model import build_wsol_model

    model = build_wsol_model(config, num_classes)
    method = model.method

    def inference(images):
        return model(images, training=False)["logits"]

    def training(images):
        labels = tf.zeros([tf.shape(images)[0]], tf.int32)
        outputs = method.forward(model, {"image": images, "label": labels}, training=True)
        return outputs["logits"]

    return {
        "params": int(model.count_params()),
        "inference_flops": forward_flops(inference, config.image_size),
        "training_flops": forward_flops(training, config.image_size),
    }
