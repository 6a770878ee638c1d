"""Replacing a workdir (`--noresume`, `make demo`, `reproduce --fresh`) removes earlier runs
only: a folder of files that are no run is refused, neither moved nor deleted, and nothing in
it is lost."""

import pytest

from wsol_tf.runs.config import TrainConfig
from wsol_tf.training import workdir as workdir_lib

SETTINGS = dict(
    model="tinyvgg", dataset="synthetic", method="cam", epochs=1, batch_size=4,
    image_size=(32, 48), seed=0,
)  # fmt: skip


def config_in(folder):
    return TrainConfig.from_settings(**SETTINGS, workdir=str(folder))


@pytest.mark.parametrize("resume", [True, False])
def test_delete_refuses_a_folder_that_holds_no_run(tmp_path, resume):
    folder = tmp_path / "cam"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / "checkpoints").mkdir()  # a run's name beside them does not make it a run
    with pytest.raises(workdir_lib.RunMismatch, match=r"not a training run.*notes\.txt"):
        workdir_lib.prepare(
            config_in(folder), {}, 3, resume=resume, replace="delete", print_fn=print
        )
    assert (folder / "notes.txt").read_text() == "mine"


def test_delete_still_removes_an_earlier_run_and_its_leftovers(tmp_path):
    folder = tmp_path / "cam"
    folder.mkdir()
    (folder / "config.json").write_text("{}")  # a run, even an unreadable one
    (folder / "overlays").mkdir()
    lines = []
    plan = workdir_lib.prepare(
        config_in(folder), {}, 3, resume=False, replace="delete", print_fn=lines.append
    )
    assert plan.action == "new" and not folder.exists()
    assert lines == [f"{folder} --noresume: the earlier run: deleted"]


@pytest.mark.parametrize("resume", [True, False])  # --noresume; the runner's replace="move"
def test_move_refuses_a_folder_that_holds_no_run_and_leaves_it_where_it_is(tmp_path, resume):
    """Issue 30 row 3: --noresume renamed a dataset folder given by mistake."""
    folder = tmp_path / "birds"
    (folder / "images").mkdir(parents=True)
    (folder / "images.txt").write_text("1 a.jpg\n")
    with pytest.raises(workdir_lib.RunMismatch, match=r"not a training run.*images, images\.txt"):
        workdir_lib.prepare(config_in(folder), {}, 3, resume=resume, replace="move", print_fn=print)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["birds"]  # no birds.replaced-*
    assert (folder / "images.txt").read_text() == "1 a.jpg\n"
    with pytest.raises(workdir_lib.RunMismatch, match="Nothing was moved"):
        workdir_lib.remove_run(str(folder), "move", print_fn=print)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["birds"]


def test_a_run_that_saved_no_checkpoint_gives_way_to_another_and_is_kept_aside(tmp_path):
    folder = tmp_path / "cam"
    config_in(folder).save(str(folder))  # a run stopped before its first checkpoint
    (folder / "unreadable_files.json").write_text('{"num_skipped": 3}')
    other = TrainConfig.from_settings(**{**SETTINGS, "lr": 0.5}, workdir=str(folder))
    lines = []
    plan = workdir_lib.prepare(other, {}, 3, print_fn=lines.append)  # replace="refuse"
    (aside,) = tmp_path.glob("cam.replaced-*")
    assert plan.action == "new" and (aside / "unreadable_files.json").exists()
    assert lines[0].startswith(f"{folder} holds a run that saved no checkpoint: moved to")


def test_a_run_with_a_checkpoint_is_still_refused_when_settings_differ(tmp_path):
    folder = tmp_path / "cam"
    config_in(folder).save(str(folder))
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "ckpt-1.index").write_bytes(b"")
    other = TrainConfig.from_settings(**{**SETTINGS, "lr": 0.5}, workdir=str(folder))
    with pytest.raises(workdir_lib.RunMismatch, match=r"holds another run.*lr"):
        workdir_lib.prepare(other, {}, 3, print_fn=print)
    assert (folder / "checkpoints" / "ckpt-1.index").exists()
