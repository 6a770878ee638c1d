"""tfds sources with tfds.testing.mock_data over locally written metadata; offline errors."""

import os
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from wsol_tf.data.datasets import load_split
from wsol_tf.data.pipeline import make_dataset
from wsol_tf.data.tfds_sources import trimap_box


def fake_prepared(name, data_dir, split_sizes):
    """Writes a tfds dataset's metadata (no data) so its builder counts as prepared."""
    builder = tfds.builder(name, data_dir=str(data_dir))
    splits = [tfds.core.SplitInfo(name=s, shard_lengths=[n], num_bytes=0, filename_template=None)
              for s, n in split_sizes.items()]  # fmt: skip
    builder.info.set_splits(tfds.core.SplitDict(splits))
    os.makedirs(builder.data_path, exist_ok=True)
    builder.info.write_to_directory(builder.data_path)


def _mocked(examples, signature):
    def as_dataset(self, split, **kwargs):
        return tf.data.Dataset.from_generator(lambda: iter(examples), output_signature=signature)

    return as_dataset


def test_tfds_cub_boxes_to_pixels(tmp_path):
    fake_prepared("caltech_birds2011", tmp_path, {"train": 3, "test": 2})
    # 40 x 60 (h x w), bbox (ymin, xmin, ymax, xmax) = (0.25, 0.1, 0.75, 0.5)
    # -> x0 = 0.1 * 60 = 6, y0 = 10, x1 = 30, y1 = 30.
    examples = [
        {"image": np.full((40, 60, 3), 30 * i, np.uint8), "label": i,
         "bbox": np.array([0.25, 0.1, 0.75, 0.5], np.float32)}
        for i in range(3)
    ]  # fmt: skip
    signature = {
        "image": tf.TensorSpec((None, None, 3), tf.uint8),
        "label": tf.TensorSpec((), tf.int64),
        "bbox": tf.TensorSpec((4,), tf.float32),
    }
    with tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_FILES, data_dir=str(tmp_path),
                                as_dataset_fn=_mocked(examples, signature)):  # fmt: skip
        source = load_split("tfds_cub", str(tmp_path), "train")
        assert len(source) == 3 and source.num_classes == 200
        batch = next(iter(make_dataset(source, training=False, image_size=(20, 30), batch_size=3,
                                       eval_resize="resize")))  # fmt: skip
        np.testing.assert_array_equal(batch["index"].numpy(), [0, 1, 2])
        np.testing.assert_array_equal(batch["label"].numpy(), [0, 1, 2])
        np.testing.assert_array_equal(batch["num_boxes"].numpy(), [1, 1, 1])
        np.testing.assert_allclose(batch["boxes"].numpy()[:, 0], [[3, 5, 15, 15]] * 3)
        np.testing.assert_allclose(batch["image"].numpy()[2, 0, 0], [60, 60, 60])
        assert len(load_split("tfds_cub", str(tmp_path), "test")) == 2
        with pytest.raises(ValueError, match="no split 'val'"):
            load_split("tfds_cub", str(tmp_path), "val")


def test_trimap_box_hand_values():
    mask = np.full((6, 8, 1), 2, np.uint8)  # background
    mask[1:4, 2:5] = 1  # pet rows 1..3, cols 2..4
    mask[4, 5] = 3  # outline pixel
    boxes, count = trimap_box(tf.constant(mask))
    np.testing.assert_array_equal(boxes.numpy(), [[2, 1, 6, 5]])
    assert int(count) == 1
    boxes, count = trimap_box(tf.constant(np.full((6, 8, 1), 2, np.uint8)))
    assert int(count) == 0


def test_tfds_pets_random_mock_trains(tmp_path):
    fake_prepared("oxford_iiit_pet", tmp_path, {"train": 4})
    with tfds.testing.mock_data(num_examples=4, policy=tfds.testing.MockPolicy.USE_FILES,
                                data_dir=str(tmp_path)):  # fmt: skip
        source = load_split("tfds_pets", str(tmp_path), "train")
        assert source.num_classes == 37
        batches = list(make_dataset(source, training=True, image_size=16, batch_size=2, seed=1))
        assert [b["image"].shape for b in batches] == [(2, 16, 16, 3)] * 2
        assert sorted(np.concatenate([b["index"].numpy() for b in batches])) == [0, 1, 2, 3]


@pytest.mark.parametrize("dataset", ["tfds_cub", "tfds_pets", "tfds_imagenet"])
def test_not_prepared_fails_at_once(tmp_path, dataset):
    started = time.perf_counter()
    with pytest.raises(FileNotFoundError, match="is not prepared .*never downloads"):
        load_split(dataset, str(tmp_path), "train")
    assert time.perf_counter() - started < 10  # no download, no retry loop


def test_imagenet_manual_dir_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="ILSVRC2012_img_train.tar"):
        load_split("tfds_imagenet", str(tmp_path), "train", manual_dir=str(tmp_path / "m"))
