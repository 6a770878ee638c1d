"""Dataset names -> Records of a split, one entry point for every source."""

from wsol_tf.data.cub import load_cub

DATASETS = ("synthetic", "cub")


def load_split(dataset, data_dir, split):
    """Records of `split` of `dataset`.

    Args:
        dataset: "synthetic" (embedded; generated into the cache on first use,
            or into `data_dir` when given) or "cub" (a CUB_200_2011 folder).
        data_dir: the dataset folder (required for "cub").
        split: "train" or "test".
    """
    if dataset == "synthetic":
        from wsol_tf.data.synthetic import ensure_synthetic

        return load_cub(str(ensure_synthetic(cache_dir=data_dir)), split)
    if dataset == "cub":
        if not data_dir:
            raise ValueError("--dataset=cub needs --data_dir=<folder of CUB_200_2011>.")
        return load_cub(data_dir, split)
    raise ValueError(f"--dataset={dataset!r}: valid datasets: {', '.join(DATASETS)}.")
