"""imagenet speed: occlusion, batched over the windows, >= 5x faster than one window per forward (same model,
image, window, stride, all timed in one run: the incremental method imagenet.occlusion runs, and the batched full
forward beside it), and the training throughput of the study's base CNN and of ``imagenet.cnn_best``'s CNN.

Written through the one results writer as ``results/imagenet.speed.json`` + ``.md``. Speed does not depend on
the pixels, so the images are seeded random uint8 (no dataset needed) and the models random-init, built from the
experiments' own configs at the budget. 1 thread, as the experiments train (the 2-core machine is shared).
Timings are medians of interleaved rounds after warm-up; the 5x goal is recorded and reported, > 1x asserted.
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import torch

from dl_assign import registry, results
from dl_assign.engine import TensorLoader, fit
from dl_assign.engine.device import threads, use_bf16
from dl_assign.experiments.imagenet import common as ic
from dl_assign.interpret import occlusion_map

GOAL_SPEEDUP = 5.0
TRAIN_IMAGES = {"smoke": 256, "standard": 2048, "full": 4096}
ROUNDS = {"smoke": 3, "standard": 7, "full": 7}


def _interleaved(fns: dict, rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each function, the functions interleaved round by round (a noisy neighbour or a
    clock change then slows all of them alike instead of whichever ran during it)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


# (name, batch, fast, method): the fast path is amp_bf16 + channels-last, as imagenet.occlusion runs its maps
OCCLUSION_RUNS = (("incremental", None, True, "incremental"), ("batched", None, True, "batched"),
                  ("one_per_forward", 1, False, "batched"), ("batched_plain", None, False, "batched"),
                  ("one_per_forward_fast", 1, True, "batched"))


def occlusion_speed(model, window: int, stride: int, rounds: int, batch: int = 256, amp_bf16: str = "auto") -> dict:
    """ms per map on one seeded image, medians of interleaved rounds: the incremental method (``batch`` copies
    per call, ``amp_bf16``, channels-last: what ``imagenet.occlusion`` runs), the batched full forward in the
    same precision and layout, one window per forward (plain fp32 calls: the reference), and each of the last
    two with the other's precision and layout (what batching alone buys); every map must agree. The speed-ups
    are medians of the per-round ratios."""
    image = torch.randn(3, 64, 64, generator=torch.Generator().manual_seed(0))

    def run(b, fast, method):
        return occlusion_map(model, image, 1, window, stride, batch_size=b or batch,
                             amp_bf16=amp_bf16 if fast else False, channels_last=fast, method=method)

    reference = run(1, False, "batched")
    out = {"occlusion_windows": float(reference.numel()),
           "occlusion_max_abs_diff": float((run(batch, False, "batched") - reference).abs().max()),
           "occlusion_incremental_max_abs_diff": float((run(batch, False, "incremental") - reference).abs().max()),
           "occlusion_fast_path_max_abs_diff": float((run(batch, True, "incremental") - reference).abs().max())}
    times = _interleaved({name: (lambda b=b, fast=fast, method=method: run(b, fast, method))
                          for name, b, fast, method in OCCLUSION_RUNS}, rounds)
    for name, seconds in times.items():
        out[f"occlusion_ms_{name}"] = 1000 * statistics.median(seconds)

    def ratio(slow, fast):
        return statistics.median(a / b for a, b in zip(times[slow], times[fast]))

    out["occlusion_speedup"] = ratio("one_per_forward", "incremental")
    out["occlusion_speedup_batched_full_forward"] = ratio("one_per_forward", "batched")
    out["occlusion_speedup_incremental_vs_batched"] = ratio("batched", "incremental")
    out["occlusion_speedup_batching_plain"] = ratio("one_per_forward", "batched_plain")
    out["occlusion_speedup_batching_fast"] = ratio("one_per_forward_fast", "batched")
    return out


def train_speed(cfg, n_images: int) -> dict:
    """Training images/s of ``cfg``'s CNN through ``engine.fit`` (2 epochs on seeded random images, the faster one)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n_images, 3, 64, 64), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 100, (n_images,), generator=g)
    model = ic.build_model(cfg, 100)
    one = dataclasses.replace(cfg, epochs=2, warmup_epochs=0.0)
    loader = TensorLoader(x, y, cfg.batch_size, shuffle=True, transform=ic.train_transform(cfg.augment, cfg.pad),
                          drop_last=True)
    history = fit(model, loader, None, one, progress=False)
    seconds = min(h["seconds"] for h in history)
    seen = len(loader) * cfg.batch_size
    return {"images_per_s": seen / seconds, "ms_per_image_epoch": 1000 * seconds / seen,
            "params": ic.n_params(model), "mflop_per_image": ic.flops_per_image(model) / 1e6}


def run(budget: str, results_dir, *, write: bool = True) -> dict:
    env = results.env_info()
    study = registry.get("imagenet.cnn_study").config(budget)
    best = registry.get("imagenet.cnn_best").config(budget)
    occ = registry.get("imagenet.occlusion").config(budget)
    t0 = time.perf_counter()
    metrics: dict[str, float] = {}
    with threads(1):
        model = ic.build_model(study, 100).eval()
        metrics |= occlusion_speed(model, occ.window, occ.window_stride, ROUNDS[budget], occ.occlusion_batch,
                                   occ.amp_bf16)
        deep = ic.build_model(best, 100).eval()  # the architecture imagenet.occlusion explains
        metrics |= {f"best/{k}": v for k, v in occlusion_speed(deep, occ.window, occ.window_stride, ROUNDS[budget],
                                                                occ.occlusion_batch, occ.amp_bf16).items()}
        for tag, cfg in (("base", study), ("best", best)):
            metrics |= {f"{tag}/{k}": v for k, v in train_speed(cfg, TRAIN_IMAGES[budget]).items()}
    bf16 = use_bf16(study.amp_bf16)
    config = {"window": occ.window, "window_stride": occ.window_stride, "occlusion_batch": occ.occlusion_batch,
              "train_images": TRAIN_IMAGES[budget], "rounds": ROUNDS[budget], "threads": 1, "bf16": bf16,
              "base_widths": list(study.widths), "best_widths": list(best.widths),
              "best_convs_per_stage": best.convs_per_stage, "batch_size": study.batch_size}
    m = metrics
    prec = "bf16 autocast" if bf16 else "fp32"
    verdict = "met" if m["occlusion_speedup"] >= GOAL_SPEEDUP else "NOT met"
    notes = "\n".join([
        f"One 64x64 image, window {occ.window}, stride {occ.window_stride} ({m['occlusion_windows']:.0f} windows), "
        f"random-init CNNs, 1 thread; every method timed in the same {ROUNDS[budget]} interleaved rounds after a "
        "warm-up (medians; speed-ups are medians of the per-round ratios). The goal is judged on the study's base "
        "CNN, as this benchmark has since it was written; the cnn_best architecture (the model imagenet.occlusion "
        "explains) is reported beside it. The incremental method (`interpret.incremental`) recomputes only the "
        "part of each layer a window changes, batched over the windows; the full-forward batched map is the "
        f"other method. fp32 maps agree with one window per forward to {m['occlusion_max_abs_diff']:.1e} (batched) "
        f"and {m['occlusion_incremental_max_abs_diff']:.1e} (incremental); the fast path ({prec}, channels-last) "
        f"to {m['occlusion_fast_path_max_abs_diff']:.1e}. One forward of these CNNs is compute-bound on a CPU, so "
        "batching alone gains little in one precision; batches are what make the channels-last and bf16 kernels "
        "pay, and the incremental method skips the shallow layers' compute outside the window's reach. "
        f"Training: `engine.fit` on {TRAIN_IMAGES[budget]} seeded "
        f"random 64x64 images, batch {study.batch_size}, {'bf16 autocast' if bf16 else 'fp32'} "
        "(auto: the probe's choice), channels-last, crops + flips; the faster of 2 epochs.", "",
        "| measure | study base CNN | cnn_best CNN | goal |", "|---|---|---|---|",
        f"| occlusion map, incremental ({occ.occlusion_batch} copies per call, {prec}, channels-last; as "
        f"imagenet.occlusion runs it) | {m['occlusion_ms_incremental']:.1f} ms | "
        f"{m['best/occlusion_ms_incremental']:.1f} ms | |",
        f"| occlusion map, batched full forward ({prec}, channels-last) | {m['occlusion_ms_batched']:.1f} ms | "
        f"{m['best/occlusion_ms_batched']:.1f} ms | |",
        f"| occlusion map, one window per forward (fp32) | {m['occlusion_ms_one_per_forward']:.1f} ms | "
        f"{m['best/occlusion_ms_one_per_forward']:.1f} ms | |",
        f"| **speed-up**, incremental vs one window per forward | **x{m['occlusion_speedup']:.1f}** | "
        f"x{m['best/occlusion_speedup']:.1f} | >= x{GOAL_SPEEDUP:.0f}, base CNN ({verdict}) |",
        f"| speed-up, batched full forward vs one window per forward | "
        f"x{m['occlusion_speedup_batched_full_forward']:.1f} | "
        f"x{m['best/occlusion_speedup_batched_full_forward']:.1f} | |",
        f"| incremental vs batched full forward, same precision and layout | "
        f"x{m['occlusion_speedup_incremental_vs_batched']:.1f} | "
        f"x{m['best/occlusion_speedup_incremental_vs_batched']:.1f} | |",
        f"| batching alone, fp32 contiguous both | x{m['occlusion_speedup_batching_plain']:.1f} | "
        f"x{m['best/occlusion_speedup_batching_plain']:.1f} | |",
        f"| batching alone, {prec} channels-last both | x{m['occlusion_speedup_batching_fast']:.1f} | "
        f"x{m['best/occlusion_speedup_batching_fast']:.1f} | |",
        f"| training ({m['base/params'] / 1e6:.2f} M / {m['best/params'] / 1e6:.2f} M params, "
        f"{m['base/mflop_per_image']:.1f} / {m['best/mflop_per_image']:.1f} MFLOP per image) | "
        f"{m['base/images_per_s']:.0f} images/s ({m['base/ms_per_image_epoch']:.2f} ms per image-epoch) | "
        f"{m['best/images_per_s']:.0f} images/s ({m['best/ms_per_image_epoch']:.2f} ms) | |", ""])
    record = results.make_record(
        experiment="imagenet.speed", budget=budget, config=config, seeds=[0], per_seed=[metrics],
        seed_seconds=[time.perf_counter() - t0], artifacts=[{}], wall_seconds=time.perf_counter() - t0,
        dataset={"name": "none (seeded random images)", "source": "", "identity": ""}, figures=[], notes=notes,
        env=env, description="Batched vs one-window-per-forward occlusion, and the imagenet CNNs' training throughput")
    if write:
        results.write_result(record, results_dir)
    return record


def bench_imagenet_speed(budget, results_dir):
    record = run(budget, results_dir)
    m = {k: v["mean"] for k, v in record["metrics"].items()}
    for tag in ("", "best/"):  # both fp32 methods compute the same map as one window per forward
        assert m[f"{tag}occlusion_max_abs_diff"] <= 1e-5 and m[f"{tag}occlusion_incremental_max_abs_diff"] <= 1e-5
    assert m["base/images_per_s"] > 0 and m["best/images_per_s"] > 0
    # the 5x goal is reported (the record and its notes), not asserted: a benchmark measures, and a slower
    # machine must not make `make bench` fail
    assert m["occlusion_speedup"] > 1.0, "batched occlusion is not faster than one window per forward"
