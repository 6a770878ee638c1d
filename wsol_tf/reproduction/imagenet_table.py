"""ImageNet classifiers as WSOL models, no training: the RESULTS.md ImageNet table
(`python -m wsol_tf.reproduce --tables=imagenet [--imagenet_dir=...]`, issue 29).

Each backbone with an ImageNet head (EfficientNet-Lite0/1/2) is evaluated as it is: its own
1000-way head, its last feature map, every extractor. The validation images are split in two
fixed halves (sorted image ids, alternate images): on the *selection* half the CAM threshold
(best GT-known Loc) is chosen for each extractor, and the extractor for each backbone (best
MaxBoxAccV2); the *report* half gives every number of the table. A centered box, its size
chosen on the selection half, is scored on the report half.

Library code: explicit arguments, no FLAGS.
"""

from __future__ import annotations

import os

import numpy as np

from wsol_tf.evaluation.extractors import CamSpec
from wsol_tf.evaluation.readout import at_threshold

# Score-CAM at 16 channels (its default 64 takes ~65 forward passes per image: hours for
# three backbones on 2 cores); every other extractor at its defaults.
IMAGENET_CAMS = (
    CamSpec("classic"), CamSpec("gradcam"), CamSpec("gradcampp"), CamSpec("layercam"),
    CamSpec("eigencam"), CamSpec("scorecam", scorecam_max_channels=16),
)  # fmt: skip
# Published ImageNet numbers the table stands beside (not like-for-like: other backbones, the
# full 50,000 validation images).
REFERENCES = (
    ("ADL paper, Table 3: ResNet50-SE CAM", {"top1_loc": 46.19}),
    ("ADL paper, Table 3: ResNet50-SE ADL", {"top1_loc": 48.53}),
    ("wsolevaluation: CAM, VGG16 / InceptionV3 / ResNet50", {"maxboxacc_v2": "60.0 / 63.4 / 63.7"}),
    ("wsolevaluation: centre baseline", {"maxboxacc_v2": 52.5}),
    ("wsolevaluation: few-shot fully supervised baseline", {"maxboxacc_v2": 64.0}),
)


def halves(records):
    """(selection rows, report rows): the images sorted by id, alternately (the first to
    selection); fixed, whatever the file order."""
    order = sorted(range(len(records)), key=lambda r: str(records.image_ids[r]))
    return np.array(order[0::2], np.int64), np.array(order[1::2], np.int64)


def evaluate_backbone(name, records, *, cams=IMAGENET_CAMS, pretrained="imagenet",
                      out_root=None, cam_curve_interval=0.01, batch_size=32,
                      print_fn=print):  # fmt: skip
    """Rows of one backbone: one per extractor, chosen on the selection half and reported on
    the report half; the row of the extractor chosen for the backbone has "chosen": True."""
    from wsol_tf.evaluation.chosen_threshold import best_threshold
    from wsol_tf.evaluation.evaluator import evaluate_model
    from wsol_tf.models.check_pretrained import imagenet_model

    model, source = imagenet_model(name, pretrained)
    size = model.image_size
    selection_rows, report_rows = halves(records)
    parts = {"selection": records.subset(selection_rows), "report": records.subset(report_rows)}
    rows = []
    for spec in cams:
        found = {}
        for part, subset in parts.items():
            out_dir = None
            if out_root:
                label = spec.describe().replace(" ", "").replace("/", "-")
                out_dir = os.path.join(out_root, name, label, part)
            found[part] = evaluate_model(
                model, subset, image_size=size, resize_size=(size[0] + 32, size[1] + 32),
                batch_size=batch_size, cam=spec, cam_curve_interval=cam_curve_interval,
                out_dir=out_dir, num_overlays=8 if part == "report" else 0,
                print_fn=lambda *_: None,
            )  # fmt: skip
        tau = best_threshold(found["selection"])
        report = found["report"]
        row = {
            "model": name, "weights": source, "cam": spec.describe(), "tau": tau,
            "selection_maxboxacc_v2": found["selection"]["maxboxacc_v2"],
            "top1_clas": report["top1_clas"],
            "gt_known_loc": at_threshold(report, tau, "gt_known_loc"),
            "top1_loc": at_threshold(report, tau, "top1_loc"),
            "maxboxacc_v2": report["maxboxacc_v2"],
            "maxboxacc_v2_per_iou": {k: v["accuracy"]
                                     for k, v in report["maxboxacc_v2_per_iou"].items()},
            "num_images": report["num_images"], "seconds": report.get("seconds"),
            "overlays": report.get("overlays"), "chosen": False,
        }  # fmt: skip
        rows.append(row)
        print_fn(f"{name} {row['cam']}: report MaxBoxAccV2 {row['maxboxacc_v2']:.2f}, "
                 f"Top-1 Loc {row['top1_loc']:.2f} at tau {tau:g}")  # fmt: skip
    best = max(range(len(rows)), key=lambda i: (rows[i]["selection_maxboxacc_v2"], -i))
    rows[best]["chosen"] = True
    return rows


def centered_box(records, image_size):
    """GT-known Loc of the centered box on the report half, its size chosen on the selection
    half (image_size + 32 resize and center crop, as the classifiers are evaluated)."""
    from wsol_tf.reproduction.baselines import centered_box_baseline

    selection_rows, report_rows = halves(records)
    resize = (image_size[0] + 32, image_size[1] + 32)
    chosen = centered_box_baseline(records.subset(selection_rows), image_size, resize)
    report = centered_box_baseline(records.subset(report_rows), image_size, resize)
    index = report["fractions"].index(chosen["best_fraction"])
    return {"fraction": chosen["best_fraction"], "gt_known_loc": report["accuracy"][index]}


def markdown(rows, baseline, imagenet_dir, num_images) -> str:
    """The table, the references and the caveat."""
    lines = [
        f"ImageNet classifiers evaluated as they are, no training: each backbone's own 1000-way "
        f"head and last feature map, on `{imagenet_dir}` ({num_images} validation images). "
        "Threshold (per extractor) and extractor (per backbone, **bold**) chosen on one half "
        "of the images (alternate images by id); every number on the other half.",
        "",
        "| backbone | extractor | Top-1 Clas | GT-known Loc | Top-1 Loc | MaxBoxAccV2 "
        "(IoU 0.3 / 0.5 / 0.7) | tau | selection-half MaxBoxAccV2 | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        per = r["maxboxacc_v2_per_iou"]
        ious = " / ".join(f"{per[k]:.1f}" for k in sorted(per, key=float))
        cam = f"**{r['cam']}**" if r["chosen"] else r["cam"]
        seconds = f"{r['seconds']:.0f}" if r.get("seconds") is not None else "–"
        lines.append(
            f"| {r['model']} | {cam} | {r['top1_clas']:.1f} | {r['gt_known_loc']:.1f} | "
            f"{r['top1_loc']:.1f} | {r['maxboxacc_v2']:.1f} ({ious}) | {r['tau']:g} | "
            f"{r['selection_maxboxacc_v2']:.1f} | {seconds} |"
        )
    if baseline:
        lines.append(
            f"| centered box (224 px input, side fraction {baseline['fraction']:.2f}, chosen on "
            f"the selection half) | – | – | {baseline['gt_known_loc']:.1f} | – | – | – | – | – |"
        )
    lines += ["", "Published ImageNet numbers (full 50,000 images, other backbones):", ""]
    for label, values in REFERENCES:
        text = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in values.items())
        lines.append(f"- {label}: {text}")
    lines += [
        "",
        "Caveat: this is a sample of the validation set on which EfficientNet-Lite0 classifies "
        "82.3% of the images (about 75% published on the full set): it is easier than the full "
        "set, and these numbers are not comparable digit for digit with the published ones.",
    ]
    return "\n".join(lines) + "\n"
