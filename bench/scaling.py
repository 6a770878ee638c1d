"""Scaling on paper: expected epoch time on CUB and ImageNet for 1, 8 and 64 replicas.

    .venv/bin/python bench/scaling.py --backbones_json=workdirs/bench/backbones.json

Inputs are the measured CPU step time and parameter count of each backbone
(`bench/bench_backbones.py --json_out`); everything else is an assumption, printed with
the table:

* data parallel, weak scaling: every replica keeps `per_replica_batch` (32, as measured),
  so the global batch is 32 x replicas and an epoch takes floor(images / global batch)
  steps (the Trainer drops the remainder);
* per-replica compute time: ResNet50 is ASSUMED to train at `--gpu_resnet50_img_s`
  (default 400 img/s, the order of published FP32 V100 figures; not a measurement), and
  every other backbone's GPU step time is ResNet50's scaled by their measured CPU step
  time ratio in the same run (relative cost measured, absolute speed assumed). Without a
  ResNet50 measurement, `--gpu_speedup` (GPU / this CPU, assumed) is used instead;
* gradients are all-reduced once per step with a ring: each replica sends and receives
  2 (N - 1) / N x P x 4 bytes (float32 gradients, P parameters);
* link bandwidth: NVLink 300 GB/s when all replicas sit in one host (<= 8), 25 GB/s
  (200 Gb/s network) when the ring crosses hosts; no latency term;
* no overlap of communication with the backward pass (pessimistic) and no input
  pipeline stall (bench_pipeline.py measures the pipeline well above consumption).
"""

import argparse
import json

CUB_TRAIN_IMAGES = 5_994
IMAGENET_TRAIN_IMAGES = 1_281_167
NVLINK_BYTES_PER_S = 300e9
NETWORK_BYTES_PER_S = 25e9
REPLICAS_PER_HOST = 8


def allreduce_bytes(params, replicas, bytes_per_param=4):
    """Bytes each replica sends (and receives) in one ring all-reduce of the gradients."""
    if replicas < 1 or params < 0:
        raise ValueError(f"replicas={replicas} must be >= 1 and params={params} >= 0.")
    return 2.0 * (replicas - 1) / replicas * params * bytes_per_param


def epoch_estimate(
    num_images,
    params,
    compute_step_s,
    replicas,
    per_replica_batch=32,
    bytes_per_param=4,
    intra_host_bytes_per_s=NVLINK_BYTES_PER_S,
    inter_host_bytes_per_s=NETWORK_BYTES_PER_S,
    replicas_per_host=REPLICAS_PER_HOST,
):
    """Expected epoch time of data-parallel training (no compute/communication overlap).

    Args:
        num_images: training images per epoch.
        params: number of parameters (gradients all-reduced per step).
        compute_step_s: seconds of one replica's forward + backward + update on its
            `per_replica_batch` images.
        replicas: number of replicas N.
        per_replica_batch: images per replica per step (global batch = N x this).
        bytes_per_param: gradient element size (4: float32).
        intra_host_bytes_per_s: link bandwidth when N <= replicas_per_host.
        inter_host_bytes_per_s: link bandwidth when the ring crosses hosts.
        replicas_per_host: replicas one host holds.

    Returns:
        dict with steps (per epoch), comm_s (all-reduce per step), step_s, epoch_s.
    """
    if per_replica_batch < 1 or compute_step_s < 0:
        raise ValueError(
            f"per_replica_batch={per_replica_batch} must be >= 1, "
            f"compute_step_s={compute_step_s} >= 0."
        )
    steps = num_images // (per_replica_batch * replicas)
    bandwidth = intra_host_bytes_per_s if replicas <= replicas_per_host else inter_host_bytes_per_s
    comm_s = allreduce_bytes(params, replicas, bytes_per_param) / bandwidth
    step_s = compute_step_s + comm_s
    return {"steps": steps, "comm_s": comm_s, "step_s": step_s, "epoch_s": steps * step_s}


def fmt_seconds(seconds):
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.2f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones_json", required=True, help="bench_backbones.py --json_out")
    parser.add_argument("--gpu_resnet50_img_s", type=float, default=400.0, help="ASSUMED")
    parser.add_argument("--gpu_speedup", type=float, default=100.0, help="ASSUMED GPU/CPU")
    args = parser.parse_args()
    with open(args.backbones_json) as f:
        measured = json.load(f)
    resnet = [r for r in measured["results"] if r["model"] == "resnet50"]
    if resnet:
        speedup = resnet[0]["median_s"] / (measured["batch"] / args.gpu_resnet50_img_s)
        basis = (
            f"ResNet50 ASSUMED at {args.gpu_resnet50_img_s:g} img/s on one GPU "
            f"(= {speedup:.0f}x its CPU step here), others scaled by measured CPU step"
        )
    else:
        speedup = args.gpu_speedup
        basis = f"GPU step = CPU step / {speedup:g} (ASSUMED)"
    print(f"ASSUMPTIONS: {basis}; "
          f"ring all-reduce 2(N-1)/N x P x 4 B per step; {NVLINK_BYTES_PER_S / 1e9:g} GB/s "
          f"within a host (N <= {REPLICAS_PER_HOST}), {NETWORK_BYTES_PER_S / 1e9:g} GB/s across "
          "hosts; no overlap; per-replica batch = the measured batch.")  # fmt: skip
    print("| model | params | CPU step s (measured) | assumed GPU img/s | replicas | "
          "all-reduce MB | comm ms/step | CUB epoch | ImageNet epoch | comm share |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in measured["results"]:
        compute = r["median_s"] / speedup
        batch = measured["batch"]
        for replicas in (1, 8, 64):
            cub = epoch_estimate(CUB_TRAIN_IMAGES, r["params"], compute, replicas, batch)
            imagenet = epoch_estimate(IMAGENET_TRAIN_IMAGES, r["params"], compute, replicas, batch)
            mb = allreduce_bytes(r["params"], replicas) / 1e6
            print(
                f"| {r['model']} | {r['params']:,} | {r['median_s']:.2f} | "
                f"{batch / compute:.0f} | {replicas} | {mb:.0f} | {1e3 * cub['comm_s']:.2f} | "
                f"{fmt_seconds(cub['epoch_s'])} ({cub['steps']} steps) | "
                f"{fmt_seconds(imagenet['epoch_s'])} | "
                f"{100 * cub['comm_s'] / cub['step_s']:.0f}% |",
                flush=True,
            )


if __name__ == "__main__":
    main()
