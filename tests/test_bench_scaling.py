"""The paper scaling model of bench/scaling.py against hand-computed values."""

import importlib.util
import pathlib

import pytest

_PATH = pathlib.Path(__file__).resolve().parents[1] / "bench" / "scaling.py"
_SPEC = importlib.util.spec_from_file_location("bench_scaling", _PATH)
scaling = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(scaling)


def test_ring_allreduce_bytes_golden():
    # 2 * (8 - 1) / 8 * 25e6 params * 4 B = 1.75 * 1e8 = 175e6 B.
    assert scaling.allreduce_bytes(25_000_000, 8) == pytest.approx(175e6)
    # One replica sends nothing.
    assert scaling.allreduce_bytes(25_000_000, 1) == 0.0
    # 64 replicas: 2 * 63 / 64 * 1e8 = 196.875e6 B.
    assert scaling.allreduce_bytes(25_000_000, 64) == pytest.approx(196.875e6)


def test_epoch_estimate_golden_cub():
    # 5994 CUB images, 25M params, 0.1 s compute per step, batch 32 per replica.
    one = scaling.epoch_estimate(5994, 25_000_000, 0.1, 1)
    assert one["steps"] == 187  # floor(5994 / 32): the remainder batch is dropped
    assert one["comm_s"] == 0.0
    assert one["epoch_s"] == pytest.approx(18.7)
    # 8 replicas in one host: floor(5994 / 256) = 23 steps; 175e6 B / 300e9 B/s.
    eight = scaling.epoch_estimate(5994, 25_000_000, 0.1, 8)
    assert eight["steps"] == 23
    assert eight["comm_s"] == pytest.approx(175e6 / 300e9)
    assert eight["epoch_s"] == pytest.approx(23 * (0.1 + 175e6 / 300e9))  # 2.3134 s
    # 64 replicas cross hosts: floor(5994 / 2048) = 2 steps; 196.875e6 B / 25e9 B/s.
    many = scaling.epoch_estimate(5994, 25_000_000, 0.1, 64)
    assert many["steps"] == 2
    assert many["comm_s"] == pytest.approx(7.875e-3)
    assert many["epoch_s"] == pytest.approx(0.21575)


def test_epoch_estimate_custom_links_and_batch():
    # 1000 images, batch 10 x 4 replicas = 40 -> 25 steps; 2 * 3/4 * 1000 * 2 B = 3000 B
    # over 1000 B/s = 3 s per step on top of 1 s compute: 100 s.
    r = scaling.epoch_estimate(
        1000, 1000, 1.0, 4, per_replica_batch=10, bytes_per_param=2,
        intra_host_bytes_per_s=1000.0, replicas_per_host=4,
    )  # fmt: skip
    assert (r["steps"], r["comm_s"], r["epoch_s"]) == (25, pytest.approx(3.0), pytest.approx(100.0))
    # The same ring crossing hosts uses the inter-host link.
    r = scaling.epoch_estimate(
        1000, 1000, 1.0, 4, per_replica_batch=10, bytes_per_param=2,
        inter_host_bytes_per_s=500.0, replicas_per_host=2,
    )  # fmt: skip
    assert r["comm_s"] == pytest.approx(6.0)


def test_invalid_arguments_are_refused():
    with pytest.raises(ValueError, match="replicas=0"):
        scaling.allreduce_bytes(10, 0)
    with pytest.raises(ValueError, match="per_replica_batch=0"):
        scaling.epoch_estimate(10, 10, 0.1, 1, per_replica_batch=0)
