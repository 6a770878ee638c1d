"""Train a WSOL model: `python -m wsol_tf.train --model=tinyvgg --dataset=synthetic ...`.

Flags are read here only; the library takes a `TrainConfig`. A workdir holding another run
is refused (naming the settings that differ) before anything is written; `--noresume` moves
it aside and starts over (a folder that holds no run is refused, never moved),
`--fork_from=<run>` starts a new run from another run's checkpoint (see
`wsol_tf.training.workdir`). One process writes a workdir: a second one is refused, naming
the holder of its lock (`wsol_tf.training.lock`). Resuming skips a kept checkpoint whose
files are damaged for the newest intact one, with a warning naming the file. Bad input gets
one line and exit status 2.
"""

from absl import app, flags, logging

from wsol_tf import cli, methods, train_flags, training
from wsol_tf.errors import report_at_start

FLAGS = flags.FLAGS
# One flag per TrainConfig field and per method hyperparameter (wsol_tf.train_flags).
try:
    train_flags.define_flags(FLAGS)
except flags.DuplicateFlagError as error:  # a WSOL_TF_METHOD_MODULES method's flag is taken
    taken = methods.flag_taken(error)
    if taken is None:
        raise
    report_at_start(taken)  # one line from cli.run, not a traceback
# They are defined in wsol_tf.train_flags: adopted, `--help` lists them (not only --helpfull).
flags.adopt_module_key_flags(train_flags)
flags.DEFINE_boolean(
    "choose_readout", True,
    "After training, when the run has a validation split (--val_per_class), choose its "
    "read-out on it (extractor and CAM threshold by validation MaxBoxAccV2, "
    "eval_val/readout.json), which evaluate, localize and export then use by default.",
)  # fmt: skip


def config_from_flags():
    """TrainConfig from --experiment's settings, overridden by every flag given explicitly."""
    return train_flags.config_from_flags(FLAGS)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    config = config_from_flags().validate()
    if config.experiment:
        print(f"Settings of experiment {config.experiment}, overridden by the flags given.")
    choose_readout = FLAGS.choose_readout and config.val_per_class
    if choose_readout:
        from wsol_tf.data.datasets import load_split

        # The read-out is chosen on "val" after training: a bad line or a missing image there
        # is named now (annotations only), not once the training is done.
        load_split(config.dataset, config.data_dir, "val", **config.split_options())
    training.train(config, resume=FLAGS.resume, fork_from=FLAGS.fork_from)
    from wsol_tf.training.distribute import is_chief_process

    if choose_readout and is_chief_process():
        from wsol_tf.evaluation import readout

        print("Choosing the read-out on the validation split (--nochoose_readout skips it)")
        readout.choose(config.workdir, reuse=True)
    return 0


if __name__ == "__main__":
    cli.run(main)
