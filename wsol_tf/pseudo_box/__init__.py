"""The pseudo-box localizer (PSOL, Zhang et al., CVPR 2020): "what" from a finished WSOL run's
classifier, "where" from a class-agnostic box regressor trained on the boxes that run drew.

    python -m wsol_tf.pseudo_box --run=<finished WSOL workdir> --out=<folder>

1. `pseudo_labels`: the WSOL run draws one box per image of its own training split (never its
   val split), from the ground-truth class's map, with the read-out and threshold it chose on
   validation (`wsol_tf.evaluation.readout.resolve`), through the evaluator's extractors and
   box rule (`evaluation.extractors.ScoreMapper`, `evaluation.boxes.box_from_scoremap`).
2. `regressor`: the run's backbone with its ImageNet weights -> global average pooling ->
   Dense(4) -> sigmoid, the box (x0, y0, x1, y1) normalized to the network input; loss
   L1 + (1 - GIoU); the training pipeline's crop and flip move the box with the image.
3. `api.run_pseudo_box`: one regressor per trial (learning rates), the trial with the best
   GT-known Loc on the run's val split is kept; its boxes are scored on test with the WSOL
   run's classes (`scoring`), pictures drawn, metrics.json written.
4. `serving`: the folder is a `--workdir` of `localize` and `export` (its `pseudo_box.json`
   names the WSOL run for the classes and the regressor's weights).

Library code: explicit arguments, no FLAGS; TensorFlow is imported inside functions, so the
command checks its flags and files before it loads (`manifest`, `api.check_inputs`).
"""

from wsol_tf.pseudo_box.api import DEFAULT_TRIALS, check_inputs, run_pseudo_box
from wsol_tf.pseudo_box.manifest import MANIFEST_FILE, is_pseudo_box_dir, read_manifest

__all__ = [
    "DEFAULT_TRIALS",
    "MANIFEST_FILE",
    "check_inputs",
    "is_pseudo_box_dir",
    "read_manifest",
    "run_pseudo_box",
]
