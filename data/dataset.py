"""The `Dataset` record and the `DATASETS` registry that each source module adds its own to.

Only the record and the registry: `wsol_tf.data.datasets` scans the source modules (so that
every record is there) and holds the lookups; a source module imports this module, never
that one, so the scan cannot meet a half-imported source. No TensorFlow.
"""

import dataclasses
from collections.abc import Callable

from wsol_tf.registry import Registry


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One dataset: everything the commands know about it before reading a file.

    Attributes:
        load: `load(data_dir, split, **options)` -> `Records` (file sources) or `TfdsSource`
            (tfds): the images, labels and boxes of one split, before any image is decoded.
        options: the keyword options `load` accepts (anything else is refused by name).
        needs_data_dir: whether --data_dir must be given.
        default_splits: the splits `python -m wsol_tf.data check` visits without --split: a
            tuple, or a function of the data_dir returning the splits that folder has.
        generator_key: for a generated dataset, a function returning its generator's cache
            key: the same file names are other pictures under another key, so a run's data
            identity records it (`training.workdir.data_identity`).
    """

    load: Callable
    options: tuple = ()
    needs_data_dir: bool = False
    default_splits: tuple | Callable = ("train", "test")
    generator_key: Callable | None = None

    def splits_in(self, data_dir):
        """The default splits of the dataset folder `data_dir` (a list)."""
        splits = self.default_splits
        return list(splits(data_dir) if callable(splits) else splits)


# "synthetic" first: the default, and the one that needs nothing on disk.
DATASETS = Registry("dataset", flag="--dataset", order=lambda name: (name != "synthetic", name))
