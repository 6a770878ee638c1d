"""Shared test helpers: where the real mini datasets live, a tiny generated set, and a
PYTHONPATH without TensorFlow."""

import os

import pytest

# The real CUB / ImageNet mini sets sit beside the checkout (../shared/data) in CI and on
# developer machines; WSOL_TF_SHARED_DATA points elsewhere. Tests skip when they are absent.
SHARED_DATA = os.environ.get(
    "WSOL_TF_SHARED_DATA",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data"),
)
CUB_MINI = os.path.join(SHARED_DATA, "CUB_200_2011_mini")
needs_cub_mini = pytest.mark.skipif(
    not os.path.isdir(CUB_MINI),
    reason=f"real CUB mini set not found at {CUB_MINI} (set WSOL_TF_SHARED_DATA)",
)
ILSVRC_MINI = os.path.join(SHARED_DATA, "ILSVRC2012_val_mini")
needs_ilsvrc_mini = pytest.mark.skipif(
    not os.path.isdir(ILSVRC_MINI),
    reason=f"real ILSVRC mini set not found at {ILSVRC_MINI} (set WSOL_TF_SHARED_DATA)",
)

# The longest files first: `make test` hands whole files to two processes (pytest-xdist,
# --dist=loadfile) in collection order, and a long file handed out last would run alone at
# the end. Measured: each of these takes one to several minutes; every other file seconds.
LONGEST_FIRST = (
    "test_method_contract.py",
    "test_reproduce_cli.py",
    "test_demo.py",
    "test_training_fidelity.py",
    "test_train_evaluate.py",
)


if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two test processes on two cores: one TensorFlow compute thread each (and in their
    # subprocesses) instead of two each fighting over the cores; about 8% less CPU measured.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        name = os.path.basename(str(item.fspath))
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order inside each file is kept


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """A tiny synthetic set in the CUB layout (3 classes, 8 train / 4 test images each)."""
    from wsol_tf.data import synthetic

    root = tmp_path_factory.mktemp("data") / "tiny"
    synthetic.generate(
        root, num_classes=3, train_per_class=8, test_per_class=4, seed=1, min_size=40, max_size=64
    )
    return str(root)


@pytest.fixture(scope="module")
def no_tensorflow(tmp_path_factory):
    """A PYTHONPATH on which `import tensorflow` (and keras) fails loudly: a command that
    must refuse its input before TensorFlow loads is run with it."""
    root = tmp_path_factory.mktemp("no_tf")
    for name in ("tensorflow", "keras"):
        (root / name).mkdir()
        (root / name / "__init__.py").write_text(
            f"raise ImportError('{name} was imported before the input was checked')\n"
        )
    return {"PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
