"""Evaluation: score maps -> boxes -> WSOL metrics (Top-1 Clas, GT-known Loc, Top-1 Loc,
MaxBoxAcc, MaxBoxAccV2, PxAP), from a model or from saved ``.npy`` maps, plus pictures.

`evaluate(workdir, ...)` evaluates a run (`python -m wsol_tf.evaluate` wraps it). The
metric and box modules are pure numpy/cv2; this package imports TensorFlow only when
`evaluate` is used.
"""


def evaluate(*args, **kwargs):
    """Evaluates a run or saved score maps; see `wsol_tf.evaluation.api.evaluate`."""
    from wsol_tf.evaluation.api import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


def evaluate_classifier(*args, **kwargs):
    """Evaluates an ImageNet classifier without a run; see
    `wsol_tf.evaluation.api.evaluate_classifier`."""
    from wsol_tf.evaluation.api import evaluate_classifier as _evaluate_classifier

    return _evaluate_classifier(*args, **kwargs)
