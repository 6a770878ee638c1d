"""Fine-tuning step of the searched CUB recipe: early blocks frozen vs everything trained.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python bench/bench_freeze.py [--batch=16 --steps=2]

The recipe searched on validation (`experiments/pretrained_recipe.py`, `cub_recipe(method)`:
EfficientNet-Lite0 at 224, the 14x14 map, frozen batch norm, SGD Nesterov with decoupled
weight decay and the head at 30x, `freeze_through="block3b_add"`), built by the library's own
path (`TrainConfig.from_settings` -> `Trainer.from_config` -> `training.build.build_parts`,
whose `build_model` applies `--freeze_through`), once as the recipe and once with
`freeze_through=None`, everything else equal. Random init (`pretrained=None`: no download;
speed does not depend on the weights' values). Both sides run `Trainer._train_loop` on the
same in-memory batch (random images in [0, 255] at the recipe's size, so decoding and the data
pipeline's augmentation are out of the comparison), float32, `--steps` steps per round,
rounds interleaved (unfrozen, frozen, ...) after one warm-up round each (tracing), in one
subprocess. Prints both sides' step time and training images per second and the ratio
frozen img/s / unfrozen img/s (per round; median, min-max).
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_training  # noqa: E402
import common  # noqa: E402

NUM_CLASSES = bench_training.NUM_CLASSES  # CUB


def recipe_round(method, freeze_through, batch_size, steps, workdir):
    """A callable running `steps` steps of the Trainer's compiled loop on the recipe's model
    for `method`, with `freeze_through` in place of the recipe's; and the trainer."""
    import tensorflow as tf

    from wsol_tf.experiments.pretrained_recipe import cub_recipe
    from wsol_tf.runs.config import TrainConfig
    from wsol_tf.training.trainer import Trainer

    config = TrainConfig.from_settings(
        **{
            **cub_recipe(method),
            "pretrained": None,
            "freeze_through": freeze_through,
            "batch_size": batch_size,
            "steps_per_loop": steps,
            "epochs": 1,
            "steps_per_epoch": steps,
            "precision": "float32",
            "workdir": workdir,
            "tensorboard": False,
        }
    )
    size = config.image_size[0]
    strategy = tf.distribute.get_strategy()
    records = bench_training.fake_records(batch_size * steps, NUM_CLASSES)
    trainer = Trainer.from_config(config, records, strategy, lambda *_: 0)
    images, labels = bench_training.batch(size, batch_size)
    data = tf.data.Dataset.from_tensors({"image": images, "label": labels}).repeat()
    iterator = iter(strategy.distribute_datasets_from_function(lambda _: data))
    num_steps = tf.constant(steps)

    def run():
        # The loop returns the logged sums by name; reading them waits for the steps.
        return {k: float(v) for k, v in trainer._train_loop(iterator, num_steps).items()}

    return run, trainer


def child(method, batch_size, steps, repeats):
    from wsol_tf.experiments.pretrained_recipe import cub_recipe

    recipe = cub_recipe(method)
    with tempfile.TemporaryDirectory() as workdir:
        unfrozen, t_unfrozen = recipe_round(method, None, batch_size, steps, workdir + "/u")
        frozen, t_frozen = recipe_round(
            method, recipe["freeze_through"], batch_size, steps, workdir + "/f"
        )
        times = common.interleaved({"unfrozen": unfrozen, "frozen": frozen}, repeats)
    per_step = {name: [t / steps for t in ts] for name, ts in times.items()}
    common.emit_result(
        {
            "per_step": per_step,
            # img/s ratio frozen / unfrozen = time ratio unfrozen / frozen, round by round
            "ratios": common.pair_ratios(times["unfrozen"], times["frozen"]),
            "model": recipe["model"],
            "size": list(recipe["image_size"]),
            "freeze_through": recipe["freeze_through"],
            "trainable": {
                "unfrozen": len(t_unfrozen.model.trainable_variables),
                "frozen": len(t_frozen.model.trainable_variables),
            },
        }
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="adl", choices=("adl", "cam"))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    common.check_repeats(args.repeats)
    if args.child:
        child(args.method, args.batch, args.steps, args.repeats)
        return
    print(f"bench_freeze: CUB recipe ({args.method}), batch {args.batch}; {common.machine_line()}")
    r = common.run_child(
        __file__,
        [
            "--child",
            f"--method={args.method}",
            f"--batch={args.batch}",
            f"--steps={args.steps}",
            f"--repeats={args.repeats}",
        ],
    )
    unfrozen, frozen = r["per_step"]["unfrozen"], r["per_step"]["frozen"]
    med, lo, hi = common.stats(r["ratios"])
    unfrozen_ips = [args.batch / t for t in unfrozen]
    frozen_ips = [args.batch / t for t in frozen]
    size = "x".join(str(s) for s in r["size"])
    print(f"float32, in-memory batch, {args.repeats} interleaved rounds; trainable variables: "
          f"{r['trainable']['unfrozen']} unfrozen, {r['trainable']['frozen']} frozen "
          f"(through {r['freeze_through']})")  # fmt: skip
    print("| model | size | batch | steps/round | step s unfrozen | step s frozen | "
          "unfrozen img/s | frozen img/s | frozen/unfrozen img/s (median, min-max) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {r['model']} | {size} | {args.batch} | {args.steps} | {common.fmt(unfrozen)} | "
        f"{common.fmt(frozen)} | {common.fmt(unfrozen_ips, unit='', digits=1)} | "
        f"{common.fmt(frozen_ips, unit='', digits=1)} | {med:.3f}x ({lo:.3f}-{hi:.3f}) |"
    )


if __name__ == "__main__":
    main()
