"""Issue 30: the one-line promise for inputs that are not flags. A broken module of
WSOL_TF_METHOD_MODULES, a wrong TF_CONFIG, a config.json field of the wrong kind, a damaged
classes.json or run.json, an unusable WSOL_TF_CACHE, and a checkpoint of another class count
each get one line naming the variable or file and exit status 2 (not a traceback, not a
flood of TensorFlow warnings), before TensorFlow is imported where the input is known then.

The messages are checked in-process; the commands run as subprocesses only where the exit
status and the one line are the subject: with a `tensorflow` that cannot be imported on the
path (about a second each), and once with TensorFlow for the class-count mismatch.
"""

import copy
import json
import os
import subprocess
import sys
import textwrap

import pytest
from absl import flags

from wsol_tf import methods
from wsol_tf.runs.cluster import check_cluster_config
from wsol_tf.runs.config import TrainConfig
from wsol_tf.runs.model import build_wsol_model
from wsol_tf.training import workdir as run_folder

VARIABLE = methods.EXTRA_MODULES_VARIABLE


# --- helpers -----------------------------------------------------------------------------------


def run_command(*args, env):
    """(exit status, stdout, stderr lines without TensorFlow's start-up chatter)."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env}
    if VARIABLE not in env:
        full_env.pop(VARIABLE, None)  # this machine's own extra methods are not the subject
    result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                            env=full_env, timeout=300)  # fmt: skip
    chatter = ("I0000", "W0000", "E0000", "WARNING: All log messages")
    lines = [line for line in result.stderr.splitlines()
             if line.strip() and not line.startswith(chatter)]  # fmt: skip
    return result.returncode, result.stdout, lines


def write_module(folder, name, text):
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.fixture()
def registry(monkeypatch):
    """The method registry, restored after the test (a module loaded here may register)."""
    monkeypatch.setattr(methods, "_REGISTRY", copy.deepcopy(methods._REGISTRY))  # same classes
    monkeypatch.setattr(methods, "_LOAD_ERRORS", [])
    return methods._REGISTRY


PARAMS = """
    import dataclasses
    from wsol_tf.methods import Method, param, register


    @dataclasses.dataclass(frozen=True)
    class Params:
        {field}

        def validate(self, method_name):
            return self


    @register
    class Theirs(Method):
        name = "{name}"
        Params = Params
"""


def method_module(folder, stem, field="rate: float = param(0.5, 'A rate.')", name="theirs"):
    return write_module(folder, stem, PARAMS.format(field=field, name=name))


# --- WSOL_TF_METHOD_MODULES --------------------------------------------------------------------


@pytest.mark.parametrize(
    "stem, text, expected",
    [
        ("syntax", "import os\n\ndef f(:\n    pass\n", ":3: syntax error (invalid syntax)."),
        ("raises", "import os\n\nx = 1 / 0\n",
         ":3: importing it raised ZeroDivisionError: division by zero"),
        ("twice", PARAMS.format(field="pass", name="cam"),
         ":14: method name 'cam' is already registered by "),
        ("no_default", PARAMS.format(field="rate: float", name="theirs"),
         ":14: method 'theirs': parameter 'rate' has no default"),
        ("a_list", PARAMS.format(field="rate: list = (1,)", name="theirs"),
         ":14: method 'theirs': parameter 'rate' has type <class 'list'>; a parameter's flag "),
        ("bad_name", PARAMS.format(field="pass", name="my method"),
         ":14: method class Theirs: name 'my method' is not a method name"),
        ("not_a_method", "from wsol_tf.methods import register\n\n@register\nclass X:\n    pass\n",
         ":3: @register: <class 'wsol_tf_user_method_not_a_method.X'> is not a subclass"),
    ],
)  # fmt: skip
def test_a_broken_method_module_is_named_with_its_file_and_line(
    registry, tmp_path, stem, text, expected
):
    path = write_module(tmp_path, stem, text)
    before = registry.items()
    (error,) = methods.load_extra_modules([path])
    assert str(error).startswith(f"{VARIABLE}: {path}{expected}"), str(error)
    assert "\n" not in str(error) and registry.items() == before


def test_a_missing_file_or_module_is_named(registry, tmp_path):
    missing, module = str(tmp_path / "gone.py"), "no_such_module_of_theirs"
    errors = methods.load_extra_modules([missing, module])
    assert [str(e) for e in errors] == [
        f"{VARIABLE}: {missing}: no such file.",
        f"{VARIABLE}: {module}: no such module (give an importable module name or a .py file).",
    ]


def test_a_module_that_fails_half_way_registers_nothing_and_get_names_why(registry, tmp_path):
    text = (
        textwrap.dedent(PARAMS.format(field="pass", name="theirs"))
        + "raise RuntimeError('half way')\n"
    )
    path = write_module(tmp_path, "half", text)
    methods._LOAD_ERRORS.extend(methods.load_extra_modules([path]))
    assert "theirs" not in methods.names()
    with pytest.raises(methods.MethodModuleError, match=f"{VARIABLE}: .*half.py:.*half way"):
        methods.get("theirs")  # the method asked for may have been in it: say why it is not
    assert methods.get("cam").name == "cam"


def test_a_methods_flag_taken_by_train_names_its_file(registry, tmp_path):
    from wsol_tf import train_flags

    path = method_module(tmp_path, "clash", field="rate: float = param(0.5, 'x', flag='lr')")
    assert methods.load_extra_modules([path]) == []
    with pytest.raises(flags.DuplicateFlagError) as error:
        train_flags.define_flags(flags.FlagValues())
    assert str(methods.flag_taken(error.value)) == (
        f"{VARIABLE}: {path}: method 'theirs': parameter 'rate': its flag --lr is one of train's "
        "own flags."
    )


def test_two_methods_claiming_one_flag_are_refused_at_register(registry, tmp_path):
    path = method_module(
        tmp_path, "claims", field="rate: float = param(0.5, 'x', flag='drop_rate')"
    )
    (error,) = methods.load_extra_modules([path])
    assert "its flag --drop_rate is taken by method 'adl'." in str(error)


# --- TF_CONFIG -----------------------------------------------------------------------------------

CLUSTER = {"worker": ["host:1", "host:2"]}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("", "--strategy=multi_worker needs the TF_CONFIG environment variable"),
        ("{oops", "TF_CONFIG is not valid JSON (Expecting property name"),
        ("[1]", "TF_CONFIG must be a JSON object ("),
        ({"task": {"type": "worker", "index": 0}}, 'TF_CONFIG has no "cluster" ('),
        ({"cluster": CLUSTER}, 'TF_CONFIG has no "task" ('),
        ({"cluster": [], "task": {}}, 'TF_CONFIG: "cluster" must map jobs to lists of'),
        ({"cluster": {"worker": "host:1"}, "task": {"type": "worker", "index": 0}},
         'TF_CONFIG: "cluster"."worker" must be a non-empty list of "host:port" addresses, '
         'not "host:1"'),
        ({"cluster": {"ps": ["host:1"]}, "task": {"type": "ps", "index": 0}},
         'TF_CONFIG: job "ps" in "cluster": a multi-worker run has the jobs chief and worker'),
        ({"cluster": CLUSTER, "task": {"type": "worker"}}, 'TF_CONFIG: "task" must be {"type"'),
        ({"cluster": CLUSTER, "task": {"type": "chief", "index": 0}},
         'TF_CONFIG: "task"."type" is "chief", not a job of "cluster" ("worker")'),
        ({"cluster": CLUSTER, "task": {"type": ["worker"], "index": 0}},
         'TF_CONFIG: "task"."type" is ["worker"], not a job of "cluster"'),
        ({"cluster": CLUSTER, "task": {"type": "worker", "index": "1"}},
         'TF_CONFIG: "task"."index" must be a whole number, not "1"'),
        ({"cluster": CLUSTER, "task": {"type": "worker", "index": 2}},
         'TF_CONFIG: "task"."index" 2 is out of range: "cluster"."worker" has 2 address(es)'),
    ],
)  # fmt: skip
def test_a_wrong_tf_config_is_named_before_tensorflow(value, expected):
    text = value if isinstance(value, str) else json.dumps(value)
    with pytest.raises(ValueError) as error:
        check_cluster_config("multi_worker", {"TF_CONFIG": text})
    assert str(error.value).startswith(expected), str(error.value)


def test_tf_config_with_another_strategy_is_checked_as_the_workdir_reads_it():
    worker = {"cluster": CLUSTER, "task": {"type": "worker", "index": 1}}
    assert check_cluster_config("multi_worker", {"TF_CONFIG": json.dumps(worker)}) == worker
    for unset in ({}, {"TF_CONFIG": ""}, {"TF_CONFIG": "{}"}):
        assert check_cluster_config("auto", unset) is None
    alone = {"cluster": {"worker": ["host:1"]}, "task": {"type": "worker", "index": 0}}
    assert check_cluster_config("auto", {"TF_CONFIG": json.dumps(alone)}) == alone
    # Each process would train alone, and only TF_CONFIG's chief write the run's files.
    with pytest.raises(ValueError, match="TF_CONFIG names a cluster of 2 processes but "
                       "--strategy=auto trains in this process alone"):  # fmt: skip
        check_cluster_config("auto", {"TF_CONFIG": json.dumps(worker)})
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        check_cluster_config("auto", {"TF_CONFIG": "[1"})


@pytest.mark.parametrize(
    "spec",
    [
        # Vertex AI's chief, with its worker and side-car evaluator pools and its extra keys.
        {"cluster": {"chief": ["cmle-0:2222"], "worker": ["cmle-1:2222", "cmle-2:2222"],
                     "evaluator": ["cmle-e:2222"]},
         "task": {"type": "chief", "index": 0}, "environment": "cloud", "job": {}},
        {"cluster": {"worker": ["[::1]:2222", "[2001:db8::2]:2222"]},
         "task": {"type": "worker", "index": 1}, "rpc_layer": "grpc"},
    ],
)  # fmt: skip
def test_tf_config_of_a_real_cluster_is_accepted(spec):
    text = json.dumps(spec)
    assert check_cluster_config("multi_worker", {"TF_CONFIG": text}) == spec
    # The evaluator is no training process: a chief with one beside it trains alone.
    alone = {"cluster": {"chief": ["h:1"], "evaluator": ["h:2"]}, "task": spec["task"] | {
        "type": "chief", "index": 0}}  # fmt: skip
    assert check_cluster_config("auto", {"TF_CONFIG": json.dumps(alone)}) == alone
    # The evaluator's own process does not train: one line, not a run that writes nothing.
    evaluator = dict(spec, task={"type": "evaluator", "index": 0})
    with pytest.raises(ValueError, match='"task"."type" is "evaluator": an evaluator does not'):
        check_cluster_config("multi_worker", {"TF_CONFIG": json.dumps(evaluator)})


def test_validate_checks_tf_config(monkeypatch):
    config = TrainConfig.from_settings(strategy="multi_worker", workdir="unused")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": CLUSTER, "task": {"type": "worker"}}))
    with pytest.raises(ValueError, match='TF_CONFIG: "task" must be'):
        config.validate()
    worker = {"cluster": CLUSTER, "task": {"type": "worker", "index": 1}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(worker))
    assert config.validate() is config


# --- config.json, classes.json, run.json read back --------------------------------------------


DELETE = object()


def saved_config(folder, **changes):
    """A workdir holding a config.json with `changes` (DELETE: without that field)."""
    folder.mkdir(parents=True, exist_ok=True)
    values = json.loads(TrainConfig.from_settings(method="adl", workdir=str(folder)).to_json())
    values.update(changes)
    values = {key: value for key, value in values.items() if value is not DELETE}
    (folder / "config.json").write_text(json.dumps(values))
    return folder


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("lr", "abc", '"lr" is "abc", not a number'),
        ("lr", [1, 2], '"lr" is [1, 2], not a number'),
        ("lr", True, '"lr" is true, not a number'),
        ("epochs", "3", '"epochs" is "3", not a whole number'),
        ("epochs", 2.5, '"epochs" is 2.5, not a whole number'),
        ("epochs", None, '"epochs" is null, not a whole number'),
        ("model", 3, '"model" is 3, not a string'),
        ("tensorboard", "yes", '"tensorboard" is "yes", not true or false'),
        ("method_params", [1], '"method_params" is [1], not an object'),
        ("positions", 3, '"positions" is 3, not a list or null'),
        ("positions", [["conv5_3"]], '"positions" is [["conv5_3"]], not a list or null'),
        ("steps_per_epoch", "10", '"steps_per_epoch" is "10", not a whole number or null'),
        ("image_size", 5, '"image_size": [5, 5] is smaller than --model=tinyvgg takes (16'),
        ("image_size", {"h": 32}, '"image_size" is {"h": 32}, not a list'),
        ("method_params", {"drop_rate": "high"},
         '"method_params.drop_rate" is "high", not a number'),
        ("method_params", {"rate": 0.5}, '"method_params": method adl has no parameter "rate"'),
    ],
)  # fmt: skip
def test_a_config_json_field_of_the_wrong_kind_is_named(tmp_path, field, value, expected):
    workdir = saved_config(tmp_path / "w", **{field: value})
    with pytest.raises(ValueError) as error:
        TrainConfig.load(str(workdir))
    message = str(error.value)
    assert message.startswith(f"{workdir}/config.json: not a readable training config ({expected}")
    assert message.endswith(").") and "\n" not in message


def test_an_old_config_json_still_loads(tmp_path):
    # Written by earlier versions: fields missing (their defaults), a field since removed,
    # ADL's parameters at the top level, nulls where a field may be null.
    workdir = saved_config(tmp_path / "w", follow_outside_links=DELETE, entropy_weight=DELETE,
                           method_params=DELETE, removed_field=1, drop_rate=0.6,
                           adl_variant="both", last_stride=None, pretrained=None)  # fmt: skip
    config = TrainConfig.load(str(workdir))
    assert config.entropy_weight == 0.0 and config.last_stride is None
    assert config.method_params == {"drop_rate": 0.6, "variant": "both"}
    assert config.lr == TrainConfig().lr


def test_a_damaged_classes_json_or_run_json_is_named(tmp_path):
    from wsol_tf.runs.checkpoints import class_names, read_run

    workdir = saved_config(tmp_path / "w")
    for text, why in [("", "empty file"), ('{"a": 1}', "expected a JSON list, found an object"),
                      ("[]", "expected class names, found []"),
                      ('["a", null]', 'expected class names, found ["a", null]')]:  # fmt: skip
        (workdir / "classes.json").write_text(text)
        with pytest.raises(ValueError, match=f"{workdir}/classes.json: cannot be read"):
            read_run(str(workdir))
        with pytest.raises(ValueError) as error:
            class_names(str(workdir))
        assert why in str(error.value)
    for text, why in [("[1]", "expected a JSON object, found a list"), ("{", "not valid JSON"),
                      ('{"sessions": 3}', 'expected "data" an object and "sessions" a list'),
                      ('{"data": 5}', 'expected "data" an object')]:  # fmt: skip
        (workdir / "run.json").write_text(text)
        with pytest.raises(ValueError) as error:
            run_folder.read_run_record(str(workdir))
        message = str(error.value)
        assert message.startswith(f"{workdir}/run.json: cannot be read (") and why in message


# --- the commands: one line and exit status 2, before TensorFlow is imported -------------------


def test_bad_inputs_of_every_kind_get_one_line_and_exit_2_before_tensorflow(
    tmp_path, no_tensorflow
):
    syntax = write_module(tmp_path, "syntax", "import os\n\ndef f(:\n    pass\n")
    clash = method_module(tmp_path, "clash", field="rate: float = param(0.5, 'x', flag='lr')")
    bad_config = saved_config(tmp_path / "bad_config", lr="abc")
    bad_classes = saved_config(tmp_path / "bad_classes")
    (bad_classes / "classes.json").write_text('{"a": 1}')
    train = ["wsol_tf.train", "--dataset=synthetic", "--epochs=1", "--batch_size=8",
             "--image_size=32,48", "--notensorboard"]  # fmt: skip
    new = tmp_path / "new_run"
    worker = {"cluster": CLUSTER, "task": {"type": "worker", "index": 2}}
    (tmp_path / "a_file").write_text("")
    cases = [  # (argv, environment, the one line expected)
        ([*train, f"--workdir={new}"], {VARIABLE: syntax},
         f"error: {VARIABLE}: {syntax}:3: syntax error (invalid syntax)."),
        ([*train, f"--workdir={new}"], {VARIABLE: clash},
         f"error: {VARIABLE}: {clash}: method 'theirs': parameter 'rate': its flag --lr is"),
        (["wsol_tf.evaluate", f"--workdir={bad_config}"], {VARIABLE: str(tmp_path / "gone.py")},
         f"error: {VARIABLE}: {tmp_path / 'gone.py'}: no such file."),
        ([*train, "--strategy=multi_worker", f"--workdir={new}"], {"TF_CONFIG": json.dumps(worker)},
         'error: TF_CONFIG: "task"."index" 2 is out of range'),
        (["wsol_tf.evaluate", f"--workdir={bad_config}"], {},
         f'error: {bad_config}/config.json: not a readable training config ("lr" is "abc"'),
        (["wsol_tf.localize", f"--workdir={bad_classes}", str(tmp_path)], {},
         f"error: {bad_classes}/classes.json: cannot be read (expected a JSON list"),
        ([*train, f"--workdir={new}"], {"WSOL_TF_CACHE": str(tmp_path / "a_file" / "cache")},
         f"error: WSOL_TF_CACHE={tmp_path / 'a_file' / 'cache'}: cannot write the synthetic"),
    ]  # fmt: skip
    failures = []
    for argv, env, expected in cases:
        status, _, lines = run_command(*argv, env={**no_tensorflow, **env})
        if status != 2 or len(lines) != 1 or not lines[0].startswith(expected):
            failures.append(f"{argv[0]} {env}: exit {status}, stderr {lines[-3:]}")
    assert not failures, "\n".join(failures)
    assert not new.exists()  # refused before anything was written


def test_a_path_tensorflow_takes_for_a_pattern_is_refused_at_start(tmp_path, no_tensorflow):
    """'[' or '\\' in a run's folder: TensorFlow wrote its checkpoints there but never found them
    again (resume called them damaged, a SavedModel exported there did not load)."""
    for name in ("run [1]", "run\\1"):
        config = TrainConfig.from_settings(model="tinyvgg", workdir=str(tmp_path / name))
        with pytest.raises(ValueError, match=r"holds '.', which TensorFlow reads as a file patt"):
            config.validate()
    run, new = saved_config(tmp_path / "old [1]"), tmp_path / "new [1]"
    (run / "classes.json").write_text('["a", "b"]')
    cases = [
        (["wsol_tf.train", "--dataset=synthetic", f"--workdir={new}"], "--workdir"),
        (["wsol_tf.evaluate", f"--workdir={run}"], "--workdir"),
        (["wsol_tf.localize", f"--workdir={run}", str(tmp_path)], "--workdir"),
        (["wsol_tf.export", f"--workdir={tmp_path}", f"--out={tmp_path / 'x [2]'}"], "--out"),
    ]  # fmt: skip
    for argv, flag in cases:
        status, _, lines = run_command(*argv, env=no_tensorflow)
        assert status == 2 and len(lines) == 1, (argv, lines)
        assert lines[0].startswith(f"error: {flag}=") and "file pattern" in lines[0]
    assert not new.exists() and not (tmp_path / "x [2]").exists()


def test_help_is_printed_despite_a_broken_method_module_with_a_warning(tmp_path, no_tensorflow):
    raises = write_module(tmp_path, "raises", "import os\n\nx = 1 / 0\n")
    env = {**no_tensorflow, VARIABLE: raises}
    status, stdout, lines = run_command("wsol_tf.train", "--help", env=env)
    assert status == 0 and "--epochs" in stdout
    assert lines == [
        f"warning: {VARIABLE}: {raises}:3: importing it raised ZeroDivisionError: division by zero"
    ]


# --- a checkpoint of another class count: one line, no TensorFlow warnings after it ------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A workdir whose checkpoint holds a 3-class model (and a step, as training's does)."""
    import tensorflow as tf

    root = tmp_path_factory.mktemp("msg")
    config = TrainConfig.from_settings(model="tinyvgg", dataset="cub", method="cam",
                                       image_size=(32, 48), workdir=str(root / "run"))  # fmt: skip
    os.makedirs(config.workdir)
    config.save()
    checkpoint = tf.train.Checkpoint(model=build_wsol_model(config, 3), global_step=tf.Variable(1))
    tf.train.CheckpointManager(checkpoint, str(root / "run" / "checkpoints"), 1).save(1)
    return root


def test_a_checkpoint_of_another_class_count_is_one_line(tiny_run):
    import cv2
    import numpy as np

    (tiny_run / "run" / "classes.json").write_text(json.dumps(["a", "b", "c", "d"]))
    image = str(tiny_run / "image.png")
    cv2.imwrite(image, np.zeros((40, 60, 3), np.uint8))
    status, _, lines = run_command("wsol_tf.localize", f"--workdir={tiny_run / 'run'}", image,
                                   env={})  # fmt: skip
    assert status == 2
    assert len(lines) == 1, lines[:5]  # before: the error, then ~35 TensorFlow warning lines
    assert lines[0].startswith(f"error: checkpoint {tiny_run / 'run'}/checkpoints/ckpt-1 does not")
    assert "4 classes (classes.json)" in lines[0] and "shape (256, 3)" in lines[0]
