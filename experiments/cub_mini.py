"""CAM vs ADL on real birds: CUB-200-2011 classes 001-010 ("CUB mini"), from scratch.

Command: `python -m wsol_tf.reproduce --tables=cub_mini --cub_dir=<CUB_200_2011_mini>`
(part of `make reproduce`, which passes ../shared/data/CUB_200_2011_mini when present).
TinyVGG-GAP trained from scratch on 300 images (the ImageNet-pretrained recipe is
`cub_pretrained_{cam,adl}`, EfficientNet-Lite0 with offline weights), so
classification is far from the paper's; the centered-box baseline (reported beside it) shows
whether the CAM localizes better than a box that ignores the image.
Paper (Table 1, VGG-GAP fine-tuned on all 200 classes): GT-known Loc 51.09 (CAM) -> 74.78
(ADL), Top-1 Clas 67.55 -> 62.25.
"""

from wsol_tf.experiments import synthetic_demo
from wsol_tf.reproduction.runs import Run

NAME = "cub_mini"
TITLE = "CUB-200-2011 classes 001-010, TinyVGG-GAP from scratch"
SEEDS = (0,)
# The synthetic runs' recipe (TinyVGG-GAP, 96 px, SGD 0.02 cosine), for longer: 300 images.
COMMON = {**synthetic_demo.COMMON, "dataset": "cub", "epochs": 30}
PAPER = {
    "CAM": {"gt_known_loc": 51.09, "top1_clas": 67.55, "top1_loc": 34.41},
    "ADL": {"gt_known_loc": 74.78, "top1_clas": 62.25, "top1_loc": 49.69},
}


def runs(data_dir, seeds=SEEDS, **overrides):
    settings = {**COMMON, "data_dir": str(data_dir), **overrides}
    return [Run(NAME, "CAM", s, {**settings, "method": "cam"}) for s in seeds] + [
        Run(NAME, "ADL", s, {**settings, **synthetic_demo.ADL}) for s in seeds
    ]
