"""A training run as its workdir describes it: `config.TrainConfig` (config.json), the
TF_CONFIG a run checks (`cluster`), and its checkpoints (`checkpoints`: rebuild the model,
restore one, a damaged one named).

Below both `training` (which writes runs) and `evaluation` (which reads them), so that
imports between those two go one way. Imports no TensorFlow at import time.
"""
