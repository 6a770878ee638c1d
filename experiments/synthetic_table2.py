"""Paper Table 2 on the synthetic set: ADL at the highest position, then lower ones added.

Command: `python -m wsol_tf.reproduce --tables=synthetic_table2` (part of `make reproduce`).
TinyVGG-GAP's positions stand for VGG-GAP's: block4_conv2 ~ conv5-3, block3_pool ~ pool4,
block2_pool ~ pool3, block1_pool ~ pool2 (TinyVGG has no pool1 counterpart).
Paper (VGG-GAP, CUB, GT-known Loc): N/A 51.09, conv5-3 57.99, +pool4 68.22, +pool3 75.41
(best), +pool2 71.85, +pool1 74.78; Top-1 Clas falls from 68.95 to 62.25 as layers are added.
"""

from wsol_tf.experiments.synthetic_demo import adl_settings, cam_settings
from wsol_tf.reproduction.runs import Run

NAME = "synthetic_table2"
TITLE = "Table 2 analogue: ADL positions, highest first (synthetic)"
SEEDS = (0,)
# Row label -> positions (None: vanilla CAM), with the paper's row it stands for.
ROWS = {
    "none (CAM)": None,
    "block4_conv2": ("block4_conv2",),
    "+ block3_pool": ("block3_pool", "block4_conv2"),
    "+ block2_pool": ("block2_pool", "block3_pool", "block4_conv2"),
    "+ block1_pool": ("block1_pool", "block2_pool", "block3_pool", "block4_conv2"),
}
PAPER_ROW = {
    "none (CAM)": "N/A",
    "block4_conv2": "conv5-3",
    "+ block3_pool": "+ pool4",
    "+ block2_pool": "+ pool3",
    "+ block1_pool": "+ pool2",
}
PAPER = {
    "none (CAM)": {"gt_known_loc": 51.09, "top1_clas": 67.55, "top1_loc": 34.41},
    "block4_conv2": {"gt_known_loc": 57.99, "top1_clas": 68.95, "top1_loc": 41.73},
    "+ block3_pool": {"gt_known_loc": 68.22, "top1_clas": 67.17, "top1_loc": 48.02},
    "+ block2_pool": {"gt_known_loc": 75.41, "top1_clas": 65.27, "top1_loc": 52.36},
    "+ block1_pool": {"gt_known_loc": 71.85, "top1_clas": 63.76, "top1_loc": 48.46},
}


def runs(seeds=SEEDS, **overrides):
    from wsol_tf import models

    result = []
    for row, positions in ROWS.items():
        for seed in seeds:
            if positions is None:
                settings = cam_settings(**overrides)
            elif tuple(positions) == models.spec("tinyvgg").default_positions:
                settings = adl_settings(**overrides)  # the main ADL run: trained once
            else:
                settings = adl_settings(**overrides, positions=positions)
            result.append(Run(NAME, row, seed, settings))
    return result
