"""Paper Table 1 on the synthetic set: drop_rate, and each ADL component alone.

Command: `python -m wsol_tf.reproduce --tables=synthetic_table1` (part of `make reproduce`).
Rows are (drop mask %, importance map %) as in the paper: drop_rate 1, 0.75, 0.5, 0.25, 0;
the vanilla CAM (N/A, N/A); the drop mask alone at drop_rate 0.75 (the importance branch
passes the features through); the importance map alone, applied 25% of steps.
Paper (VGG-GAP, CUB): the best localization at 75/25 (GT-known 74.78); 0/100 localizes like
vanilla (47.51 vs 51.09); the drop mask alone costs classification (61.55 vs 67.55).
"""

from wsol_tf.experiments.synthetic_demo import adl_settings, cam_settings
from wsol_tf.reproduction.runs import Run

NAME = "synthetic_table1"
TITLE = "Table 1 analogue: drop_rate and components (synthetic)"
SEEDS = (0,)
# Row label -> (drop_rate, adl_variant); None is the vanilla CAM.
ROWS = {
    "100 / 0": (1.0, "both"),
    "75 / 25": (0.75, "both"),
    "50 / 50": (0.5, "both"),
    "25 / 75": (0.25, "both"),
    "0 / 100": (0.0, "both"),
    "N/A / N/A (CAM)": None,
    "75 / N/A (drop mask only)": (0.75, "drop_mask_only"),
    "N/A / 25 (importance map only)": (0.75, "importance_map_only"),
}
DROP_RATE_ROWS = ("0 / 100", "25 / 75", "50 / 50", "75 / 25", "100 / 0")  # the plotted curve
PAPER = {
    "100 / 0": {"gt_known_loc": 72.43, "top1_clas": 57.37, "top1_loc": 44.11},
    "75 / 25": {"gt_known_loc": 74.78, "top1_clas": 62.25, "top1_loc": 49.69},
    "50 / 50": {"gt_known_loc": 71.51, "top1_clas": 64.93, "top1_loc": 49.33},
    "25 / 75": {"gt_known_loc": 67.29, "top1_clas": 68.99, "top1_loc": 47.98},
    "0 / 100": {"gt_known_loc": 47.51, "top1_clas": 67.78, "top1_loc": 32.24},
    "N/A / N/A (CAM)": {"gt_known_loc": 51.09, "top1_clas": 67.55, "top1_loc": 34.41},
    "75 / N/A (drop mask only)": {"gt_known_loc": 73.23, "top1_clas": 61.55, "top1_loc": 47.67},
    "N/A / 25 (importance map only)": {
        "gt_known_loc": 50.62,
        "top1_clas": 68.50,
        "top1_loc": 33.91,
    },
}


def runs(seeds=SEEDS, **overrides):
    result = []
    for row, setting in ROWS.items():
        for seed in seeds:
            if setting is None:
                settings = cam_settings(**overrides)
            else:
                drop_rate, variant = setting
                settings = adl_settings(**overrides, drop_rate=drop_rate)
                if variant != "both":  # the default stays out, so 75 / 25 is the main ADL run
                    settings["adl_variant"] = variant
            result.append(Run(NAME, row, seed, settings))
    return result
