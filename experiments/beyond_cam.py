"""Beyond CAM on real birds (issue 32): the few-shot fully supervised baseline (FSL) and the
pseudo-box localizer beside CAM and the best WSOL row, on the two CUB subsets of cub_recipe,
3 seeds.

Command: `python -m wsol_tf.reproduce --tables=beyond_cam` (not in `make reproduce`'s default
tables: hours on 2 cores), writing --beyond_cam_md (default <workdir>/BEYOND_CAM.md) and a
JSON beside it; `--report_only` writes it from the run records alone. Options:
`--beyond_cam_best_row=ADL` (the WSOL row beside CAM), `--method_seeds=3`.

The WSOL rows are runs of cub_recipe's comparison (its two sets, recipe and seeds; `COMPARISON`)
at each row's trial chosen on validation by the method ranking (`CHOSEN_TRIALS`,
experiments/methods_cub_25cls.py): CAM and ADL are cub_recipe's final runs themselves and the
other rows on CUB 25cls are methods_cub_25cls's (the same settings: the same keys and run
records), each at the read-out chosen on validation. FSL
(`python -m wsol_tf.fsl`) and the pseudo-box localizer (`python -m wsol_tf.pseudo_box`) are
trained from the CAM run of each seed, with their default trials (`FSL_TRIALS`,
`PSEUDO_BOX`); the centered box (size chosen on validation) stands beside them.
Targets (`TARGETS`, test split; wsol_tf.reproduction.beyond_cam states them met or missed):
    FSL above every WSOL row on MaxBoxAccV2 (mean over seeds);
    the pseudo-box localizer >= 5 points of Top-1 Loc above the CAM run it came from (mean of
    the differences paired by seed).
"""

import dataclasses

from wsol_tf.experiments import cub_recipe, methods_cub_25cls
from wsol_tf.fsl.trials import DEFAULT_TRIALS as FSL_DEFAULT_TRIALS
from wsol_tf.pseudo_box.api import DEFAULT_EPOCHS as PSEUDO_BOX_DEFAULT_EPOCHS
from wsol_tf.pseudo_box.api import DEFAULT_TRIALS as PSEUDO_BOX_DEFAULT_TRIALS
from wsol_tf.reproduction.beyond_cam import Targets

NAME = "beyond_cam"
TITLE = "Beyond CAM: FSL and the pseudo-box localizer beside CAM on real birds"
# The table whose runs the WSOL rows are (their keys, workdirs and records are shared).
SOURCE_TABLE = cub_recipe.NAME
# The trial of each row of the method ranking that validation chose (seed 0, val
# MaxBoxAccV2; results/methods_cub_25cls.md, "Hyperparameters chosen on validation").
# tests/test_beyond_cam.py checks them against the selection's records.
CHOSEN_TRIALS = {
    "CAM": 0, "ADL": 0, "HaS": 0, "CutMix": 1, "ACoL": 0, "SPG": 1, "EIL": 0, "RDAP": 1, "RFGA": 1,
    "CAM + entropy": 0, "ADL + entropy": 0,
}  # fmt: skip


def comparison_of(source):
    """`source` (cub_recipe's comparison: its sets, recipe and seeds) with every ranked row at
    its chosen trial; CAM's and ADL's are cub_recipe's own trials (the same runs)."""
    trials = {
        row: (method, [options[CHOSEN_TRIALS[row]]])
        for row, (method, options) in methods_cub_25cls.TRIALS.items()
        if row in CHOSEN_TRIALS
    }
    return dataclasses.replace(source, trials=trials)


COMPARISON = comparison_of(cub_recipe.COMPARISON)
# FSL and the pseudo-box localizer are trained from this row's runs.
REFERENCE_ROW = "CAM"
# The best WSOL row beside CAM; ADL until the method ranking is finished
# (`--beyond_cam_best_row`).
BEST_ROW = "ADL"
# `run_fsl`'s defaults: the head alone, and the head with the backbone's last stage.
FSL_TRIALS = FSL_DEFAULT_TRIALS
# `run_pseudo_box`'s defaults: two learning rates, 30 epochs of batch 32.
PSEUDO_BOX = {
    "trials": PSEUDO_BOX_DEFAULT_TRIALS,
    "epochs": PSEUDO_BOX_DEFAULT_EPOCHS,
    "batch_size": 32,
    "steps_per_epoch": None,
}
TARGETS = Targets(fsl_metric="maxboxacc_v2", pseudo_box_metric="top1_loc", pseudo_box_margin=5.0)
