"""The few-shot fully supervised (FSL) baseline of wsolevaluation (Choe et al., "Evaluating
WSOL Methods Right", CVPR 2020), scored by this project's evaluator.

The images that choose a WSOL method's hyperparameters carry boxes; FSL trains on a few of
them directly: a class-agnostic 1x1 foreground head (sigmoid) on the WSOL run's backbone
with ImageNet weights, fitted to box masks. It is no `--method` (it trains on boxes, not
image labels, and has no classifier): it reads a finished WSOL run and borrows that run's
class predictions for Top-1 Clas and Top-1 Loc.

    python -m wsol_tf.fsl --run=<finished WSOL workdir> --out=<folder>

Modules: `split` (which val images train, which choose), `targets` (box coverage per map
cell), `trials` (the two settings), `network` (TensorFlow: backbone, head, training,
the evaluator's scorer), `run` (`run_fsl`, the checks before TensorFlow). Importing this
package imports no TensorFlow.
"""

from wsol_tf.fsl.run import prepare, run_fsl
from wsol_tf.fsl.trials import DEFAULT_TRIALS, Trial

__all__ = ["DEFAULT_TRIALS", "Trial", "prepare", "run_fsl"]
