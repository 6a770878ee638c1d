"""Tests for wsol_tf.evaluation.visualize: colours (RGB), grid layout, PNG round trip (BGR)."""

import cv2
import numpy as np
import pytest

from wsol_tf.evaluation.visualize import (
    colorize_scoremap,
    draw_boxes,
    overlay_grid,
    overlay_heatmap,
    save_png,
)

H, W = 40, 64
GT = (5, 5, 20, 30)
PRED = (30, 10, 60, 35)


def _image(value=0):
    return np.full((H, W, 3), value, dtype=np.uint8)


def test_draw_boxes_colours_in_rgb():
    image = _image()
    out = draw_boxes(image, [GT], PRED, thickness=1)
    assert out.shape == (H, W, 3) and out.dtype == np.uint8
    assert tuple(out[5, 10]) == (255, 0, 0)  # GT top edge: red
    assert tuple(out[30, 20]) == (255, 0, 0)  # (x1, y1) is inclusive
    assert tuple(out[10, 40]) == (0, 255, 0)  # predicted top edge: green
    assert tuple(out[35, 60]) == (0, 255, 0)
    assert tuple(out[15, 12]) == (0, 0, 0)  # inside the GT box: untouched
    assert not image.any()  # input not modified


def test_draw_boxes_accepts_none_and_single_box():
    out = draw_boxes(_image(), np.array(GT), None)
    assert tuple(out[5, 10]) == (255, 0, 0)
    assert not (out[..., 1] == 255).any()


def test_colorize_and_overlay():
    ramp = np.tile(np.linspace(0, 1, W), (H, 1))  # (H, W), low left, high right
    heat = colorize_scoremap(ramp)
    assert heat.shape == (H, W, 3) and heat.dtype == np.uint8
    r, _, b = heat[0, -1].astype(int)
    assert r > 100 and b == 0  # high = red in RGB
    r, _, b = heat[0, 0].astype(int)
    assert b > 100 and r == 0  # low = blue in RGB

    image = _image(200)
    np.testing.assert_array_equal(overlay_heatmap(image, ramp, alpha=0.0), image)
    np.testing.assert_array_equal(overlay_heatmap(image, ramp, alpha=1.0), heat)
    half = overlay_heatmap(image, ramp)
    expected = np.rint(0.5 * image.astype(float) + 0.5 * heat.astype(float)).astype(np.uint8)
    np.testing.assert_array_equal(half, expected)
    with pytest.raises(ValueError, match="match"):
        overlay_heatmap(image, ramp.T)


def test_grid_layout_and_boxes_on_third_panel():
    images = np.stack([_image(10), _image(20)])
    maps = np.zeros((2, H, W))
    grid = overlay_grid(images, maps, [np.array([GT]), np.array([GT, PRED])], [PRED, None])
    assert grid.shape == (2 * H, 3 * W, 3) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[:H, :W], images[0])  # row 0, image panel
    np.testing.assert_array_equal(grid[H:, :W], images[1])
    np.testing.assert_array_equal(grid[:H, W : 2 * W], colorize_scoremap(maps[0]))
    assert tuple(grid[5, 2 * W + 10]) == (255, 0, 0)  # GT red in the overlay panel
    assert tuple(grid[10, 2 * W + 40]) == (0, 255, 0)  # prediction green
    assert tuple(grid[H + 10, 2 * W + 40]) == (255, 0, 0)  # 2nd row: PRED given as a GT box


def test_grid_captions_and_validation():
    images = [_image(), _image()]
    maps = [np.zeros((H, W)), np.ones((H, W))]
    plain = overlay_grid(images, maps, [GT, GT], [PRED, PRED])
    captioned = overlay_grid(images, maps, [GT, GT], [PRED, PRED], captions=["iou 0.71", ""])
    assert captioned.shape == plain.shape
    assert (captioned[:H, :W] != plain[:H, :W]).any()
    np.testing.assert_array_equal(captioned[H:], plain[H:])  # empty caption: nothing drawn
    with pytest.raises(ValueError, match="scoremaps"):
        overlay_grid(images, maps[:1], [GT, GT], [PRED, PRED])
    with pytest.raises(ValueError, match="uint8"):
        overlay_grid([np.zeros((H, W, 3))], maps[:1], [GT], [PRED])


def test_save_png_round_trip_is_bgr_on_disk(tmp_path):
    image = draw_boxes(_image(), [GT], PRED, thickness=1)
    path = save_png(tmp_path / "nested" / "dir" / "grid.png", image)
    assert path.exists()
    back = cv2.imread(str(path))  # cv2 reads BGR
    assert tuple(back[5, 10]) == (0, 0, 255)  # red, in BGR order
    assert tuple(back[10, 40]) == (0, 255, 0)
    np.testing.assert_array_equal(cv2.cvtColor(back, cv2.COLOR_BGR2RGB), image)


def test_overlay_names_depend_on_the_call_alone():
    from wsol_tf.deployment.localizer import overlay_names

    paths = ["a/x.jpg", "b/x.png", "c/x_1.jpg", "d/X.JPG", "e/y.webp"]
    # x_1 is taken by the second x, so the real x_1 gets x_1_1; X collides case-insensitively.
    assert overlay_names(paths) == ["x.png", "x_1.png", "x_1_1.png", "X_2.png", "y.png"]
    # Was: "<250-byte stem>_1.png" passed the 255 bytes a file name may have, and writing it
    # stopped the call. Stems are cut (whole characters: é is 2 bytes) and still unique.
    long = ["a/" + "é" * 125 + ".jpg", "b/" + "é" * 126 + ".png"]
    names = overlay_names(long)
    assert names == ["é" * 100 + ".png", "é" * 100 + "_1.png"]
    assert max(len(n.encode()) for n in names) <= 255


def test_find_images_lists_no_fifo_named_like_an_image(tmp_path):
    # Was: a FIFO named pipe.jpg in a given folder was listed, and reading it blocked localize
    # forever. Now a folder's images follow the training folder's rule (regular files and
    # dangling links); a FIFO named on the command line is refused naming it.
    import os

    from wsol_tf.deployment.localizer import find_images

    (tmp_path / "a.jpg").write_bytes(b"")
    os.mkfifo(tmp_path / "pipe.jpg")
    os.symlink("gone.png", tmp_path / "link.png")  # listed: skipped and named when read
    assert find_images([str(tmp_path)]) == [str(tmp_path / n) for n in ("a.jpg", "link.png")]
    with pytest.raises(ValueError, match="pipe.jpg: not a file or folder"):
        find_images([str(tmp_path / "pipe.jpg")])


def test_find_images_lists_formats_the_decoder_cannot_read_so_they_are_counted(tmp_path):
    # Was: a .tif in a given folder was left out unseen (given directly, it was skipped and
    # counted). Now it is listed, so the reader skips, counts and names it; notes.txt is no
    # image and stays out.
    from wsol_tf.data.decode import why_unreadable
    from wsol_tf.deployment.localizer import find_images

    for name in ("a.jpg", "b.TIF", "c.heic", "notes.txt"):
        (tmp_path / name).write_bytes(b"II*\x00")
    assert find_images([str(tmp_path)]) == [str(tmp_path / n) for n in ("a.jpg", "b.TIF", "c.heic")]
    assert why_unreadable(str(tmp_path / "b.TIF"))  # skipped with a reason, never scored


def test_find_images_follows_linked_folders_once(tmp_path):
    # Was: a linked subfolder was not looked into ("no image found" for a folder of links),
    # while --dataset=folder follows linked class folders. A link back to a parent is read
    # once, not forever.
    import os

    from wsol_tf.deployment.localizer import find_images

    album = tmp_path / "elsewhere" / "album"
    album.mkdir(parents=True)
    (album / "b.png").write_bytes(b"")
    given = tmp_path / "given"
    given.mkdir()
    (given / "a.jpg").write_bytes(b"")
    os.symlink(album, given / "album")
    os.symlink(given, given / "album_loop")  # a link to the folder itself
    assert find_images([str(given)]) == [str(given / "a.jpg"), str(given / "album" / "b.png")]


def test_out_folder_never_replaces_or_rereads_an_input_image(tmp_path):
    # Was: `localize photos/a.png --out=photos` replaced the input a.png with its overlay, and
    # with --out=photos/overlays each rerun localized the last call's overlays too (adding
    # <stem>_1.png, then <stem>_1_1.png, ...). Now an --out inside a given folder is not looked
    # into, and one that is a given folder, or where an overlay is an input image, is refused.
    from wsol_tf.deployment.localizer import check_out_folder, find_images, overlay_names

    photos, out = tmp_path / "photos", tmp_path / "photos" / "overlays"
    out.mkdir(parents=True)
    for path in (photos / "a.png", photos / "b.jpg", out / "a.png"):
        path.write_bytes(b"")
    given = [str(photos)]
    images = find_images(given, skip=str(out))
    assert images == [str(photos / "a.png"), str(photos / "b.jpg")]
    check_out_folder(str(out), given, images, overlay_names(images))  # nothing replaced
    with pytest.raises(ValueError, match="is the folder .* given as input"):
        check_out_folder(str(photos), given, images, overlay_names(images))
    alone = [str(photos / "a.png")]
    with pytest.raises(ValueError, match=r"the overlay a.png would replace the input image"):
        check_out_folder(str(photos), alone, alone, overlay_names(alone))
