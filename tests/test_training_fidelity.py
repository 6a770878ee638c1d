"""Training under tf.distribute: mirrored == one device, multi-worker, exact resume after
SIGKILL, learning-rate groups, schedules, per-replica ADL draws, mixed precision, NaN stop."""

import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from wsol_tf import training
from wsol_tf.data import synthetic
from wsol_tf.data.datasets import load_split
from wsol_tf.runs.config import TrainConfig
from wsol_tf.training.distribute import make_strategy
from wsol_tf.training.schedules import WarmupSchedule, is_new_layer
from wsol_tf.training.trainer import Trainer

IMAGE_SIZE = (32, 48)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "tiny"
    synthetic.generate(
        root, num_classes=3, train_per_class=8, test_per_class=4, seed=2, min_size=40, max_size=64
    )
    return str(root)


def config(data_dir, workdir, **overrides):
    settings = dict(
        model="tinyvgg",
        dataset="cub",
        data_dir=data_dir,
        method="cam",
        epochs=1,
        batch_size=8,
        lr=0.01,
        image_size=IMAGE_SIZE,
        seed=5,
        workdir=str(workdir),
        log_every=1,
        tensorboard=False,
    )
    settings.update(overrides)
    return TrainConfig.from_settings(**settings)


def python(script, *args, env=None, timeout=300):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
    )


PER_REPLICA_DRAWS = """
import json, sys
from wsol_tf.training.distribute import split_cpu
split_cpu(2)
import numpy as np
import tensorflow as tf
from wsol_tf.layers import ADL
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    layer = ADL(drop_rate=0.75, gamma=0.9, seed=int(sys.argv[1]))
x = tf.constant(np.abs(np.random.default_rng(0).normal(size=(1, 5, 7, 2))) + 0.1, tf.float32)
peak = np.unravel_index(np.argmax(x.numpy()[0].mean(-1)), (5, 7))
@tf.function
def step():
    # Drop branch <=> the per-sample peak is zeroed.
    return strategy.run(lambda: layer(x, training=True)[0, peak[0], peak[1], 0] == 0.0)
draws = []
for _ in range(400):
    draws.append([bool(v) for v in strategy.experimental_local_results(step())])
print("DRAWS" + json.dumps(draws))
"""


@pytest.mark.slow
def test_each_replica_draws_its_own_adl_branch_reproducibly():
    first = python(PER_REPLICA_DRAWS, "11")
    assert first.returncode == 0, first.stderr[-3000:]
    draws = np.array(json.loads(first.stdout.split("DRAWS")[-1]))  # (steps, replicas)
    steps = len(draws)
    # Independent draws disagree with probability 2 * 0.75 * 0.25 = 0.375 per step.
    disagree = np.mean(draws[:, 0] != draws[:, 1])
    sigma = np.sqrt(0.375 * 0.625 / steps)
    assert abs(disagree - 0.375) <= 3 * sigma, disagree
    for replica in range(2):  # each replica still drops with probability drop_rate
        assert abs(draws[:, replica].mean() - 0.75) <= 3 * np.sqrt(0.75 * 0.25 / steps)
    again = python(PER_REPLICA_DRAWS, "11")
    assert json.loads(again.stdout.split("DRAWS")[-1]) == draws.tolist()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_multi_worker_processes_complete_two_steps(tiny_data, tmp_path):
    ports = [free_port(), free_port()]
    workers = [f"127.0.0.1:{p}" for p in ports]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_CONFIG=json.dumps(tf_config))
        command = [
            sys.executable, "-m", "wsol_tf.train", "--strategy=multi_worker", "--dataset=cub",
            f"--data_dir={tiny_data}", "--method=adl", "--epochs=1", "--steps_per_epoch=2",
            "--batch_size=8", "--image_size=32,48", f"--workdir={tmp_path / 'mw'}",
            "--log_every=1", "--notensorboard",
        ]  # fmt: skip
        processes.append(
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    outputs = []
    try:
        for process in processes:
            # A lone worker waits for its peer forever: bound each with a timeout that kills.
            outputs.append(process.communicate(timeout=240))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err[-3000:]
    chief_out = outputs[0][0]
    assert "2 replica(s)" in chief_out and "step 2/2" in chief_out
    with open(tmp_path / "mw" / "train_log.json") as f:
        assert json.load(f)[0]["step"] == 2
    assert os.path.isfile(tmp_path / "mw" / "checkpoints" / "checkpoint")
    assert not os.path.exists(tmp_path / "mw" / "worker_1_scratch")


KILLABLE_RUN = """
import os, signal, sys
from wsol_tf import evaluation, training
from wsol_tf.runs.config import TrainConfig
kill_at = sys.argv[3]
def print_fn(line):
    print(line, flush=True)
    if kill_at and line.startswith(kill_at):
        os.kill(os.getpid(), signal.SIGKILL)  # as a crashed machine would: no cleanup
config = TrainConfig.from_settings(
                     model="tinyvgg", dataset="cub", data_dir=sys.argv[1], method="adl",
                     epochs=3, batch_size=4, lr=0.02, image_size=(32, 48), seed=9,
                     workdir=sys.argv[2], checkpoint_every_steps=2, log_every=1,
                     deterministic=True, tensorboard=False)
training.train(config, print_fn=print_fn)
"""


def checkpoint_weights(workdir):
    path = tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
    return {
        name: tf.train.load_variable(path, name)
        for name, _ in tf.train.list_variables(path)
        if name.startswith(("model/", "random_state/", "optimizer/"))
    }


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_equals_uninterrupted_bit_for_bit(tiny_data, tmp_path):
    straight = python(KILLABLE_RUN, tiny_data, str(tmp_path / "straight"), "")
    assert straight.returncode == 0, straight.stderr[-3000:]
    # 24 images / batch 4 = 6 steps per epoch; killed at epoch 2, step 5 (global step 11),
    # after the checkpoint of global step 10 and before the epoch's end.
    killed = python(KILLABLE_RUN, tiny_data, str(tmp_path / "resumed"), "epoch 2/3 step 5/6")
    assert killed.returncode == -signal.SIGKILL
    assert "epoch 2/3 step 5/6" in killed.stdout
    resumed = python(KILLABLE_RUN, tiny_data, str(tmp_path / "resumed"), "")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resumed from" in resumed.stdout and "(step 10)" in resumed.stdout
    a, b = (
        checkpoint_weights(str(tmp_path / "straight")),
        checkpoint_weights(str(tmp_path / "resumed")),
    )
    assert a.keys() == b.keys() and len(a) > 40
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    with open(tmp_path / "resumed" / "train_log.json") as f:
        assert [h["epoch"] for h in json.load(f)] == [1, 2, 3]


def one_step_deltas(data_dir, workdir, lr_groups):
    cfg = config(data_dir, workdir, epochs=1, steps_per_epoch=1, lr_groups=lr_groups).validate()
    trainer = Trainer.from_config(
        cfg, load_split("cub", data_dir, "train"), make_strategy("one_device")
    )
    before = {v.path: v.numpy().copy() for v in trainer.model.trainable_variables}
    trainer.train(resume=False)
    return {
        v.path: np.abs(v.numpy() - before[v.path]).sum() for v in trainer.model.trainable_variables
    }


@pytest.mark.slow
def test_pretrained_group_at_one_tenth_moves_ten_times_less(tiny_data, tmp_path):
    plain = one_step_deltas(tiny_data, tmp_path / "plain", "none")
    grouped = one_step_deltas(tiny_data, tmp_path / "grouped", "pretrained_0.1")
    # New: the method's head (every variable under "head/") and layers named as new.
    new = {p for p in plain if p.split("/")[0] == "head" or is_new_layer(p.split("/")[0])}
    backbone = [p for p in plain if p not in new]
    head = sorted(new)
    assert backbone and head
    for path in backbone:
        assert plain[path] > 0
        np.testing.assert_allclose(grouped[path] * 10, plain[path], rtol=2e-3, err_msg=path)
    for path in head:
        np.testing.assert_allclose(grouped[path], plain[path], rtol=1e-6, err_msg=path)


def test_warmup_and_step_schedule_golden_values():
    schedule = WarmupSchedule(0.1, 100, "step", boundaries=(50, 80), decay=0.1, warmup_steps=10)
    values = [float(schedule(s)) for s in (0, 4, 9, 10, 49, 50, 79, 80, 99)]
    np.testing.assert_allclose(
        values, [0.01, 0.05, 0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-5
    )


def test_cosine_schedule_golden_values():
    schedule = WarmupSchedule(0.2, 100, "cosine")
    values = [float(schedule(s)) for s in (0, 25, 50, 100)]
    np.testing.assert_allclose(
        values, [0.2, 0.2 * (1 + np.cos(np.pi / 4)) / 2, 0.1, 0.0], atol=1e-7
    )


@pytest.mark.slow
def test_mixed_float16_trains_with_loss_scaling_and_writes_tensorboard(tiny_data, tmp_path):
    cfg = config(tiny_data, tmp_path / "fp16", precision="mixed_float16", tensorboard=True,
                 val_split="test", method="adl")  # fmt: skip
    history = training.train(cfg, print_fn=lambda *_: None)
    assert np.isfinite(history[0]["loss"]) and "val_top1_loc" in history[0]
    assert os.path.isfile(tmp_path / "fp16" / "best" / "best.json")
    tags = set()
    event_dir = tmp_path / "fp16" / "tensorboard"
    for file in os.listdir(event_dir):
        for event in tf.compat.v1.train.summary_iterator(str(event_dir / file)):
            tags.update(value.tag for value in event.summary.value)
    assert {"train/loss", "train/learning_rate", "cam_overlays", "val/top1_loc"} <= tags


@pytest.mark.slow
def test_non_finite_loss_stops_with_a_clear_message(tiny_data, tmp_path):
    cfg = config(tiny_data, tmp_path / "nan", lr=1e30, epochs=3, checkpoint_every_steps=1)
    with pytest.raises(FloatingPointError, match="stopped. The last good checkpoint is"):
        training.train(cfg, print_fn=lambda *_: None)


SYNC_MOMENTS = """
from wsol_tf.training.distribute import split_cpu
split_cpu(2)
import json
import numpy as np
import tensorflow as tf
from wsol_tf.training.sync_batch_norm import synchronized_moments
# Large mean, small spread: where E[x^2] - E[x]^2 cancels catastrophically.
x = np.random.default_rng(0).normal(1000.0, 0.01, size=(8, 3, 5, 4)).astype(np.float32)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(x).batch(8))
fn = tf.function(lambda b: strategy.run(lambda t: synchronized_moments(t, [0, 1, 2]), (b,)))
mean, var = fn(next(iter(dataset)))
local = [strategy.experimental_local_results(v)[0].numpy().tolist() for v in (mean, var)]
print("MOMENTS" + json.dumps(local))
"""


@pytest.mark.slow
def test_synchronized_moments_match_numpy_over_replicas():
    result = python(SYNC_MOMENTS)
    assert result.returncode == 0, result.stderr[-3000:]
    mean, var = json.loads(result.stdout.split("MOMENTS")[-1])
    x = np.random.default_rng(0).normal(1000.0, 0.01, size=(8, 3, 5, 4)).astype(np.float32)
    reference = x.astype(np.float64)
    np.testing.assert_allclose(mean, reference.mean((0, 1, 2)), rtol=1e-6)
    # Two-pass variance keeps ~1e-4 relative accuracy where E[x^2]-E[x]^2 in float32 has
    # none (its error, ~1000^2 * 6e-8 = 0.06, dwarfs the true variance 1e-4).
    np.testing.assert_allclose(var, reference.var((0, 1, 2)), rtol=1e-2)


def one_step_weights(data_dir, workdir, **overrides):
    cfg = config(data_dir, workdir, epochs=1, steps_per_epoch=1, **overrides).validate()
    trainer = Trainer.from_config(
        cfg, load_split("cub", data_dir, "train"), make_strategy("one_device")
    )
    before = {v.path: v.numpy().copy() for v in trainer.model.trainable_variables}
    trainer.train(resume=False)
    return before, {v.path: v.numpy() for v in trainer.model.trainable_variables}


@pytest.mark.slow
def test_decoupled_weight_decay_shrinks_kernels_only(tiny_data, tmp_path):
    # Decoupled decay subtracts lr * wd * w from kernels before the gradient step; biases
    # and batch-norm parameters are not decayed (as in the L2 mode).
    lr, wd = 0.01, 0.1
    before, plain = one_step_weights(tiny_data, tmp_path / "a", lr=lr, weight_decay=0.0)
    _, decayed = one_step_weights(
        tiny_data, tmp_path / "b", lr=lr, weight_decay=wd, weight_decay_mode="decoupled"
    )
    for path in before:
        expected = -lr * wd * before[path] if path.endswith("/kernel") else 0.0
        np.testing.assert_allclose(decayed[path] - plain[path], expected, atol=2e-7, err_msg=path)


def test_steps_per_loop_groups_steps_without_changing_them(tiny_data, tmp_path):
    """steps_per_loop=1 compiles a one-step function, larger values a tf.range loop of the
    same step (BENCHMARKS.md section 11): 3 steps either way end with the same weights and
    the same epoch loss (ADL, whose draws depend on the step)."""
    results = {}
    for steps_per_loop in (1, 3):
        trainer = Trainer.from_config(
            config(tiny_data, tmp_path / str(steps_per_loop), method="adl", steps_per_epoch=3,
                   steps_per_loop=steps_per_loop, lr=0.05),
            load_split("cub", tiny_data, "train"),
            make_strategy("one_device", 0),
            print_fn=lambda *_: None,
        )  # fmt: skip
        history = trainer.train()
        assert trainer.global_step.numpy() == 3
        results[steps_per_loop] = (history[-1]["loss"], [v.numpy() for v in trainer.model.weights])
    (loss_1, weights_1), (loss_3, weights_3) = results[1], results[3]
    assert loss_3 == pytest.approx(loss_1, rel=1e-6)
    for a, b in zip(weights_1, weights_3, strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    # and the steps did move the weights
    initial = Trainer.from_config(
        config(tiny_data, tmp_path / "fresh", method="adl", steps_per_epoch=3),
        load_split("cub", tiny_data, "train"), make_strategy("one_device", 0),
        print_fn=lambda *_: None,
    ).model.weights  # fmt: skip
    moved = [float(np.max(np.abs(a - b.numpy()))) for a, b in zip(weights_1, initial, strict=True)]
    assert max(moved) > 1e-3
