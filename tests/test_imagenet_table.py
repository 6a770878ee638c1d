"""The ImageNet table (issue 29): classifiers evaluated as they are, every choice made on one
half of the images and every number reported on the other."""

import os
import shutil
import subprocess
import sys

import numpy as np
from conftest import ILSVRC_MINI, needs_ilsvrc_mini

from wsol_tf.evaluation.extractors import CamSpec
from wsol_tf.reproduction import imagenet_table


class _Records:
    def __init__(self, ids):
        self.image_ids = ids

    def __len__(self):
        return len(self.image_ids)


def test_the_halves_alternate_sorted_ids_whatever_the_file_order():
    records = _Records(["c", "a", "e", "b", "d"])
    selection, report = imagenet_table.halves(records)
    # Sorted: a(1) b(3) c(0) d(4) e(2) -> selection a, c, e; report b, d.
    assert selection.tolist() == [1, 0, 2] and report.tolist() == [3, 4]
    assert not set(selection) & set(report)


def test_the_markdown_bolds_the_chosen_extractor_and_states_the_caveat():
    row = {"model": "efficientnet_lite0", "cam": "layercam", "tau": 0.25, "top1_clas": 80.0,
           "gt_known_loc": 70.0, "top1_loc": 60.0, "maxboxacc_v2": 65.0,
           "maxboxacc_v2_per_iou": {"0.5": 70.0, "0.3": 90.0, "0.7": 35.0},
           "selection_maxboxacc_v2": 66.0, "seconds": 12.0, "chosen": True}  # fmt: skip
    text = imagenet_table.markdown([row], {"fraction": 0.8, "gt_known_loc": 55.0}, "d", 10)
    assert (
        "| efficientnet_lite0 | **layercam** | 80.0 | 70.0 | 60.0 | 65.0 (90.0 / 70.0 / 35.0)"
        in text
    )
    assert "side fraction 0.80" in text and "| 55.0 |" in text
    assert "46.19" in text and "easier than the full" in text


def test_a_missing_imagenet_folder_is_refused_in_one_line_before_tensorflow(no_tensorflow):
    env = dict(os.environ, **no_tensorflow)
    done = subprocess.run([sys.executable, "-m", "wsol_tf.reproduce", "--tables=imagenet",
                           "--imagenet_dir=/no/such/ilsvrc", "--imagenet_models=tinyvgg"],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert "--imagenet_dir=/no/such/ilsvrc: no val/ folder" in done.stderr
    assert "--imagenet_models: tinyvgg has no ImageNet head" in done.stderr


@needs_ilsvrc_mini
def test_lite0_rows_choose_on_one_half_and_report_on_the_other(tmp_path):
    from wsol_tf.data.datasets import load_split

    root = tmp_path / "ilsvrc"
    (root / "val").mkdir(parents=True)
    (root / "bbox_val").mkdir()
    shutil.copy(os.path.join(ILSVRC_MINI, "LOC_synset_mapping.txt"), root)
    for name in sorted(os.listdir(os.path.join(ILSVRC_MINI, "val")))[:8]:
        shutil.copy(os.path.join(ILSVRC_MINI, "val", name), root / "val")
        stem = os.path.splitext(name)[0]
        shutil.copy(os.path.join(ILSVRC_MINI, "bbox_val", f"{stem}.xml"), root / "bbox_val")
    records = load_split("imagenet", str(root), "val")
    cams = (CamSpec("classic"), CamSpec("layercam"))
    rows = imagenet_table.evaluate_backbone("efficientnet_lite0", records, cams=cams,
                                            print_fn=lambda *a: None)  # fmt: skip
    assert [r["cam"] for r in rows] == ["classic", "layercam"]
    assert sum(r["chosen"] for r in rows) == 1
    chosen = next(r for r in rows if r["chosen"])
    assert chosen["selection_maxboxacc_v2"] == max(r["selection_maxboxacc_v2"] for r in rows)
    for row in rows:
        assert row["num_images"] == 4  # the report half
        assert 0.0 <= row["top1_loc"] <= row["gt_known_loc"] <= 100.0
        assert set(row["maxboxacc_v2_per_iou"]) == {"0.3", "0.5", "0.7"}
        assert np.isclose(np.mean(list(row["maxboxacc_v2_per_iou"].values())),
                          row["maxboxacc_v2"])  # fmt: skip
    box = imagenet_table.centered_box(records, (224, 224))
    assert 0.0 < box["fraction"] <= 1.0 and 0.0 <= box["gt_known_loc"] <= 100.0
