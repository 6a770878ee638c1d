"""Localize arbitrary images with a trained model: classes, a box in original pixels, overlay.

Each image goes through `wsol_tf.deployment.localize_ops.localize_batch`, the function the
exported SavedModel runs, so both give the same box for the same image: resized (no crop) to
the network input, the top-1 class's score map cut at the CAM threshold, the box scaled back
to the original image's pixels, rounded and clipped.

A user's photo is first turned as its JPEG's EXIF Orientation tag says (`read_user_image`,
`wsol_tf.data.exif`), so the classes, box, overlay and size are those of the picture every
viewer shows; the SavedModel takes pixels, which its caller turns.
"""

import os

import cv2
import numpy as np
import tensorflow as tf

from wsol_tf.data.decode import decode_uint8, path_bytes
from wsol_tf.data.exif import apply_orientation, jpeg_exif_orientation
from wsol_tf.data.folder import is_image_file  # one rule for every reader of folders
from wsol_tf.data.pipeline import decode_image
from wsol_tf.deployment.localize_ops import localize_batch
from wsol_tf.errors import error_text
from wsol_tf.evaluation import extractors
from wsol_tf.evaluation.visualize import draw_boxes, overlay_heatmap, save_png


def find_images(paths, skip=None):
    """Files given directly, plus image files found under given folders (`is_image_file`: the
    training folder's rule; a FIFO named x.jpg would block the reader forever, so it is not).

    Args:
        paths: file or folder paths.
        skip: a folder not to look into (localize's --out: inside a given folder, the overlays
            of an earlier call there would be read as images, and more added each call).

    Returns:
        List of file paths: files in the order given, each folder's images sorted.

    Raises:
        FileNotFoundError naming a path that does not exist; ValueError naming one that is
        neither a file nor a folder, and when nothing is found.
    """
    skip = os.path.realpath(skip) if skip else None
    found = []
    for path in paths:
        if os.path.isdir(path):
            walked, seen = [], set()
            # Linked subfolders are followed, as --dataset=folder follows linked class
            # folders; each real folder is read once, so a link to a parent ends there.
            for root, folders, files in os.walk(path, followlinks=True):
                real = os.path.realpath(root)
                if real in seen:
                    folders[:] = []
                    continue
                seen.add(real)
                folders[:] = [f for f in folders if os.path.realpath(os.path.join(root, f)) != skip]
                walked.append((root, files))
            for root, files in sorted(walked):
                found.extend(
                    p for p in (os.path.join(root, f) for f in sorted(files)) if is_image_file(p)
                )
        elif os.path.isfile(path):
            found.append(path)
        elif os.path.exists(path):
            raise ValueError(f"{path}: not a file or folder (a FIFO, a device, ...)")
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    if not found:
        raise ValueError(f"no image found in {list(paths)}")
    return found


# File names may have 255 bytes; a stem longer than this is cut, leaving room for "_<n>.png".
MAX_STEM_BYTES = 200


def _short_stem(stem):
    """`stem` cut to MAX_STEM_BYTES bytes of the file system's encoding (whole characters)."""
    while len(os.fsencode(stem)) > MAX_STEM_BYTES:
        stem = stem[:-1]
    return stem


def overlay_names(paths):
    """One PNG name per image, unique within the call: "<stem>.png", and "<stem>_<n>.png"
    (smallest free n) for a later image whose stem was taken; a stem over MAX_STEM_BYTES
    bytes is cut to it, so a name stays within the 255 bytes a file name may have.

    Names depend on the list alone, never on files already in the output folder, so running
    the same command again replaces its overlays instead of adding copies.
    """
    taken, names = set(), []
    for path in paths:
        stem = _short_stem(os.path.splitext(os.path.basename(path))[0])
        name, n = f"{stem}.png", 1
        while name.lower() in taken:  # case-insensitive file systems
            name, n = f"{stem}_{n}.png", n + 1
        taken.add(name.lower())
        names.append(name)
    return names


def _entry(path):
    """The folder entry `path` names: its folder resolved, case folded (case-insensitive file
    systems, as `overlay_names`), the name itself kept (a link is its own entry)."""
    path = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path)).lower()


def check_out_folder(out_dir, paths, images, names):
    """Refuses an --out whose overlays would replace an input image or be read as one.

    Args:
        out_dir: the overlays' folder (--out).
        paths: the files and folders given (`find_images`' argument).
        images: the images found (`find_images`).
        names: their overlay names (`overlay_names`).

    Raises:
        ValueError naming --out and the file: when --out is a given folder (the next call would
        read this call's overlays as images, and its "<stem>.png" replace a given PNG), or when
        an overlay would replace an input image (`localize photos/a.png --out=photos`).
    """
    out = os.path.realpath(out_dir)
    for path in paths:
        if os.path.isdir(path) and os.path.realpath(path) == out:
            raise ValueError(
                f"--out={out_dir} is the folder {path} given as input: its overlays would "
                "replace images there or be read as images by the next call; give another folder."
            )
    inputs = {_entry(path): path for path in images}
    for name in names:
        image = inputs.get(_entry(os.path.join(out_dir, name)))
        if image is not None:
            raise ValueError(
                f"--out={out_dir}: the overlay {name} would replace the input image {image}; "
                "give another folder."
            )


def read_image(path):
    """(H, W, 3) float32 RGB in [0, 255]; ValueError naming the file and why (one line)."""
    try:
        return decode_image(path)  # a str path as bytes (`path_bytes`: any file name)
    except (tf.errors.OpError, ValueError) as error:
        raise ValueError(f"{path}: cannot decode as an image ({error_text(error)})") from None


def read_user_image(path, apply_exif_orientation=True):
    """A user's photo as it is displayed: ((H, W, 3) float32 RGB numpy array in [0, 255], the
    EXIF orientation applied to its stored pixels (1..8, `wsol_tf.data.exif`)).

    The orientation is the JPEG's EXIF tag (1 for a file without one, or any other format),
    or 1 when `apply_exif_orientation` is False (the stored pixels, as `read_image` and the
    datasets read them). Alpha is dropped as `wsol_tf.data.decode` documents.

    Raises:
        ValueError naming the file and why (one line) when it is not a readable image.
    """
    try:
        data = tf.io.read_file(path_bytes(path))  # a str path as bytes: any file name
        image = decode_uint8(data).numpy()
    except (tf.errors.OpError, ValueError) as error:
        raise ValueError(f"{path}: cannot decode as an image ({error_text(error)})") from None
    orientation = jpeg_exif_orientation(data.numpy()) if apply_exif_orientation else 1
    return apply_orientation(image, orientation).astype(np.float32), orientation


class Localizer:
    """A trained model's `localize_batch` as one traced function (any image size).

    Args:
        model: a `WSOLModel` with its weights.
        cam: score-map extractor name (`wsol_tf.evaluation.extractors.names()`) or a
            `CamSpec` (its options: layers, smoothing).
    """

    def __init__(self, model, cam="classic"):
        self.model = model
        self.spec = extractors.prepare(model, cam)
        self.cam = self.spec.name
        self.image_size = tuple(int(s) for s in model.image_size)
        extractor = extractors.build(self.spec)
        self._run = tf.function(
            lambda images, threshold: localize_batch(
                model, extractor, images, self.image_size, threshold
            ),
            input_signature=[
                tf.TensorSpec([None, None, None, 3], tf.float32),
                tf.TensorSpec([], tf.float32),
            ],
        )

    def __call__(self, images, cam_threshold=0.2):
        """(B, H, W, 3) float RGB in [0, 255] -> dict of numpy outputs (`localize_batch`)."""
        images = tf.convert_to_tensor(images, tf.float32)
        outputs = self._run(images, tf.constant(float(cam_threshold), tf.float32))
        return {k: v.numpy() for k, v in outputs.items()}


def localize(
    scorer, class_names, path, *, cam_threshold=0.2, top_k=5, out_dir=None, overlay_name=None,
    apply_exif_orientation=True,
):  # fmt: skip
    """One image: top classes with softmax scores, the top-1 class's box, an overlay.

    Args:
        scorer: a `Localizer` (`make_scorer`), or another callable with its outputs, e.g.
            the pseudo-box localizer (`wsol_tf.pseudo_box.serving.PseudoBoxLocalizer`: no
            ``cam``, so the overlay shows the box alone).
        class_names: name per class index (or None for indices only).
        path: image file.
        cam_threshold: CAM threshold tau of the box (None: the scorer takes none).
        top_k: how many classes to list.
        out_dir: where the overlay PNG goes (None: no picture).
        overlay_name: its file name (`overlay_names`; default "<stem>.png"); an existing
            file of that name is replaced.
        apply_exif_orientation: turn a JPEG as its EXIF Orientation tag says before the
            model (`read_user_image`); False: the stored pixels, as the datasets read them.

    Returns:
        JSON-serialisable dict: ``image``, ``size`` [H, W], ``exif_orientation`` (always: the
        EXIF orientation applied, 1..8; 1 when none was: no tag, not a JPEG, or
        `apply_exif_orientation` False), ``top_classes`` (list of {``index``, ``name``,
        ``score``}), ``box`` [x0, y0, x1, y1] in original pixels, ``box_input`` in input
        pixels, ``box_found`` (False: nothing above the threshold, a flat map; the box is then
        no localization), ``overlay`` (path or None). ``size``, ``box`` and the overlay are in
        the frame `wsol_tf.data.exif.apply_orientation(stored pixels, exif_orientation)`
        gives: the displayed one when the tag is applied.

    Raises:
        ValueError naming the file when it is not a readable image.
    """
    image, orientation = read_user_image(path, apply_exif_orientation)  # (H, W, 3)
    original_hw = tuple(int(s) for s in image.shape[:2])
    outputs = scorer(image[None], cam_threshold)
    probs = outputs["scores"][0].astype(np.float64)
    order = np.argsort(-probs, kind="stable")[: max(1, top_k)]
    box = [int(v) for v in outputs["box_original"][0]]
    found = bool(outputs["box_found"][0])
    overlay_path = None
    if out_dir:
        pixels = np.clip(image, 0, 255).astype(np.uint8)
        if "cam" in outputs:
            cam = outputs["cam"][0]
            size = (original_hw[1], original_hw[0])
            heat = cv2.resize(cam, size, interpolation=cv2.INTER_LINEAR)
            pixels = overlay_heatmap(pixels, np.clip(heat, 0, 1))
        picture = draw_boxes(pixels, None, box if found else None)  # no map: the box alone
        overlay_path = os.path.join(out_dir, overlay_name or overlay_names([path])[0])
        save_png(overlay_path, picture)
    return {
        "image": path,
        "size": list(original_hw),
        "exif_orientation": orientation,
        "top_classes": [
            {
                "index": int(c),
                "name": class_names[c] if class_names else str(int(c)),
                "score": float(probs[c]),
            }
            for c in order
        ],
        "box": box,
        "box_input": [int(v) for v in outputs["box"][0]],
        "box_found": found,
        "cam_threshold": None if cam_threshold is None else float(cam_threshold),
        "overlay": overlay_path,
    }


def make_scorer(model, cam="classic"):
    """The `Localizer` that `localize` takes (kept here so callers need one import); `cam`
    is an extractor name or a `CamSpec`."""
    return Localizer(model, cam)
