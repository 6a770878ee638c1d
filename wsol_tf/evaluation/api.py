"""Evaluate a run's checkpoint, or saved score maps, as a library call
(`python -m wsol_tf.evaluate` wraps it).

What can refuse the evaluation is checked before the work and before TensorFlow is imported:
the workdir's config, that the output folders are writable, and the split's annotations.
"""

import os

from wsol_tf.data.datasets import load_split
from wsol_tf.evaluation.chosen_threshold import PAPER_THRESHOLD
from wsol_tf.files import check_pattern_free, check_writable, write_json


def evaluate(
    workdir=None,
    checkpoint=None,
    dataset=None,
    data_dir=None,
    split="test",
    cam_threshold=0.2,
    batch_size=32,
    out_dir=None,
    cam="classic",
    cam_curve_interval=0.001,
    scoremaps=None,
    save_scoremaps=None,
    num_pictures=8,
    workers=None,
    print_fn=print,
    readout=None,
):
    """Evaluates a workdir's checkpoint, or saved score maps; writes metrics.json and pictures.

    With ``scoremaps`` no model is built: the ``.npy`` maps in that folder are scored against
    ``dataset``/``data_dir``/``split`` (``workdir`` then only supplies defaults). Otherwise the
    model, image size and dataset come from the workdir's config.json; the dataset, folder and
    split can be overridden. GT boxes that are empty or stick out of their image are scored as
    given, with a warning (``suspect_gt_boxes`` in metrics.json).

    ``cam`` is an extractor name or a ``wsol_tf.evaluation.extractors.CamSpec`` (layers,
    smoothing, Score-CAM options); metrics.json records it as ``cam`` and ``cam_spec``.
    ``workers`` threads scan the maps' contours (None: one per core, at most 8); the numbers
    do not depend on it. ``readout`` (the commands' "given", "default" or "auto";
    `wsol_tf.evaluation.readout.resolve`) lets the run's read-out chosen on validation replace
    ``cam`` and, when ``cam_threshold`` is None, the threshold; None: ``cam`` as given.
    ``cam_threshold`` None without a read-out is the paper's 0.2.

    Returns:
        The metrics dict (see ``LocalizationEvaluator.compute``) plus run information.
    """
    from wsol_tf.evaluation import extractors
    from wsol_tf.runs.config import TrainConfig

    cam = extractors.resolve(cam)  # a bad extractor option fails before any file is read
    config = TrainConfig.load(check_pattern_free(workdir, "--workdir")) if workdir else None
    if config is None and not scoremaps:
        raise ValueError("--workdir is required unless --scoremaps is given.")
    if config is not None:
        dataset_given = dataset
        dataset = dataset or config.dataset
        if not (data_dir or (dataset_given and dataset_given != config.dataset)):
            data_dir = config.data_dir
    if not dataset:
        raise ValueError("--scoremaps without --workdir needs --dataset (and --data_dir).")
    out_dir = out_dir or workdir
    if not out_dir:
        raise ValueError("--scoremaps without --workdir needs --out_dir for metrics.json.")
    check_writable(out_dir, "--out_dir")  # before the work, not after it
    if save_scoremaps:
        check_writable(save_scoremaps, "--save_scoremaps")
    if scoremaps and not os.path.isdir(scoremaps):
        raise FileNotFoundError(f"--scoremaps folder {scoremaps} does not exist")
    # The training run's split options (e.g. its held-out "val") apply to its own dataset.
    same_data = config is not None and dataset == config.dataset and data_dir == config.data_dir
    records = load_split(dataset, data_dir, split, **(config.split_options() if same_data else {}))
    num_boxes, masks = getattr(records, "num_boxes", None), getattr(records, "mask_paths", None)
    if num_boxes is not None and not num_boxes.any() and not masks:
        raise ValueError(
            f"{dataset} split {split!r} ({len(records)} images) has no boxes or masks: "
            "localization cannot be evaluated on it."
        )

    if not scoremaps:
        _check_classes(workdir, records, print_fn)

    from wsol_tf.data.pipeline import skip_log_scope
    from wsol_tf.evaluation.evaluator import evaluate_model, evaluate_scoremaps
    from wsol_tf.runs.checkpoints import load_model

    if cam_threshold is None and readout is None:
        cam_threshold = PAPER_THRESHOLD
    with skip_log_scope() as skip_log:  # this evaluation's unreadable files only
        info = {"dataset": dataset, "split": split}
        if scoremaps:
            cam_threshold = PAPER_THRESHOLD if cam_threshold is None else cam_threshold
            print_fn(f"Evaluating score maps in {scoremaps} on {dataset} {split}")
            metrics = evaluate_scoremaps(
                scoremaps,
                records,
                cam_threshold=cam_threshold,
                cam_curve_interval=cam_curve_interval,
                out_dir=out_dir,
                num_overlays=num_pictures,
                workers=workers,
                print_fn=print_fn,
            )
            info["scoremaps"] = scoremaps
        else:
            model, config, checkpoint = load_model(workdir, checkpoint, records.num_classes)
            if readout is not None:
                from wsol_tf.evaluation import readout as readouts

                cam, cam_threshold, source = readouts.resolve(
                    workdir, checkpoint, cam, cam_threshold, readout
                )
                print_fn(f"read-out: {source}")
                info["readout"] = source
            print_fn(f"Evaluating {checkpoint} on {dataset} {split} ({len(records)} images)")
            metrics = evaluate_model(
                model,
                records,
                image_size=config.image_size,
                resize_size=config.eval_resize_size,
                batch_size=batch_size,
                cam_threshold=cam_threshold,
                cam=cam,
                cam_curve_interval=cam_curve_interval,
                out_dir=out_dir,
                num_overlays=num_pictures,
                save_scoremaps=save_scoremaps,
                workers=workers,
                print_fn=print_fn,
            )
            info.update(
                {
                    "checkpoint": checkpoint,
                    "model": config.model,
                    "method": config.method,
                    "cam": cam.name,
                    "cam_spec": cam.to_dict(),
                }
            )
            if save_scoremaps:
                info["saved_scoremaps"] = save_scoremaps
    metrics.update(info)
    unreadable = skip_log.to_json()
    metrics["unreadable_files"] = unreadable["skipped"]
    metrics["num_skipped"] = metrics.get("num_skipped", 0) + unreadable["num_skipped"]
    suspect = metrics.get("suspect_gt_boxes")
    if suspect:
        first = suspect["examples"][0]
        print_fn(
            f"warning: {suspect['count']} GT box(es) are empty or outside their image, scored "
            f"as given (first: {first['image']}: box {first['box']} {first['problem']} in "
            f"{first['width']}x{first['height']}); see suspect_gt_boxes in metrics.json"
        )
    write_metrics(out_dir, metrics)
    return metrics


def _check_classes(workdir, records, print_fn):
    """Refuses a split whose classes are not the run's (classes.json) one for one, where they
    share a name or differ in number: its labels would be scored against other classes'
    outputs. Names all different (the same classes named otherwise, e.g. wsol_metadata's
    class_<k> for CUB's folders, or other classes) are scored by index, with a warning."""
    from wsol_tf.runs.checkpoints import class_names

    trained = [str(name) for name in class_names(workdir) or []]
    given = [str(name) for name in records.class_names]
    if not trained or trained == given:
        return
    where = (
        f"{records.source}: its {len(given)} classes are not those of "
        f"{os.path.join(workdir, 'classes.json')} ({len(trained)})"
    )
    k = next((k for k, (a, b) in enumerate(zip(trained, given, strict=False)) if a != b), None)
    if k is not None:
        where += f": class {k} is {given[k]!r} there, {trained[k]!r} in the run"
    if len(trained) != len(given) or set(trained) & set(given):
        raise ValueError(f"{where}; its labels would be scored against other classes' outputs.")
    print_fn(f"warning: {where}; no name is shared: classes are matched by index.")


def write_metrics(out_dir, metrics):
    """The one writer of metrics.json (atomic); returns its path."""
    return write_json(os.path.join(out_dir, "metrics.json"), metrics)


def evaluate_classifier(
    model_name,
    pretrained,
    dataset,
    data_dir,
    split,
    out_dir,
    *,
    cam="classic",
    cam_threshold=None,
    batch_size=32,
    cam_curve_interval=0.001,
    num_pictures=8,
    workers=None,
    print_fn=print,
):
    """Evaluates an ImageNet classifier as it is, with no training run: the backbone `model_name`
    with `pretrained` weights and the weights' own 1000-way head (class indices from the
    split's synset mapping), its CAM from its last feature map. Writes metrics.json and
    pictures to `out_dir`.

    Images are resized to the input + 32 and center-cropped (the EfficientNet evaluation's
    0.875 crop at 224). Everything that can be refused (model, weights, data, out_dir) is
    refused before TensorFlow loads.
    """
    from wsol_tf import models
    from wsol_tf.evaluation import extractors
    from wsol_tf.runs.config import check_pretrained_file

    cam = extractors.resolve(cam)
    spec = models.spec(model_name)  # names the valid models
    if spec.weights.torch is None:
        with_head = [n for n, s in models.BACKBONES.items() if s.weights.torch is not None]
        raise ValueError(
            f"--model={model_name}: no ImageNet head to evaluate without a run; backbones with "
            f"one: {', '.join(with_head)}."
        )
    check_pretrained_file(model_name, pretrained)
    if not out_dir:
        raise ValueError("--model without --workdir needs --out_dir for metrics.json.")
    check_writable(out_dir, "--out_dir")
    records = load_split(dataset, data_dir, split)
    if records.num_classes != 1000:
        raise ValueError(
            f"--data_dir={data_dir}: {records.num_classes} classes, the ImageNet head has 1000 "
            "(is LOC_synset_mapping.txt complete?)."
        )
    from wsol_tf.data.pipeline import skip_log_scope
    from wsol_tf.evaluation.evaluator import evaluate_model
    from wsol_tf.models.check_pretrained import imagenet_model

    threshold = PAPER_THRESHOLD if cam_threshold is None else cam_threshold
    with skip_log_scope() as skip_log:
        model, source = imagenet_model(model_name, pretrained)
        size = model.image_size
        print_fn(f"Evaluating {model_name} ({source}) on {dataset} {split} ({len(records)} images)")
        metrics = evaluate_model(
            model, records, image_size=size, resize_size=(size[0] + 32, size[1] + 32),
            batch_size=batch_size, cam_threshold=threshold, cam=cam,
            cam_curve_interval=cam_curve_interval, out_dir=out_dir, num_overlays=num_pictures,
            workers=workers, print_fn=print_fn,
        )  # fmt: skip
    metrics.update({"dataset": dataset, "split": split, "model": model_name, "weights": source,
                    "method": None, "cam": cam.name, "cam_spec": cam.to_dict()})  # fmt: skip
    unreadable = skip_log.to_json()
    metrics["unreadable_files"] = unreadable["skipped"]
    metrics["num_skipped"] = metrics.get("num_skipped", 0) + unreadable["num_skipped"]
    write_metrics(out_dir, metrics)
    return metrics
