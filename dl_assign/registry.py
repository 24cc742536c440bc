"""The experiment registry: ``@experiment(name, Config)``, ``get(name)``, ``names()``, ``run``.

An experiment is a function ``fn(cfg, seed, ctx) -> SeedResult`` that trains and evaluates
one seed. The registry runs it once per seed in ``cfg.seeds``, aggregates every metric into
mean/std/values and hands the record to the one results writer. An optional ``report``
function turns the per-seed results into Markdown and figures for ``results/<name>.md``.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dl_assign.config import ConfigError, ExperimentConfig, override

_REGISTRY: dict[str, Experiment] = {}


@dataclass
class SeedResult:
    """What one seed of an experiment returns: scalar metrics plus JSON-able artifacts."""

    metrics: dict[str, float]
    artifacts: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunContext:
    """Where a run writes and how it behaves; passed to every experiment function."""

    experiment: str
    budget: str
    results_dir: Path
    checkpoint_dir: Path | None = None
    resume: bool = False
    progress: bool = True
    dataset: dict[str, Any] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    # numbers over all seeds together (a pooled test, say), set by the report; one value each, not per seed
    summary: dict[str, float] = field(default_factory=dict)

    def use_dataset(self, info: dict[str, Any]) -> None:
        """Record which dataset (name, source, identity) the run used; called by experiments."""
        self.dataset = dict(info)

    def checkpoint_path(self, seed: int, tag: str = "") -> Path | None:
        if self.checkpoint_dir is None:
            return None
        suffix = f".{tag}" if tag else ""
        return self.checkpoint_dir / self.experiment / f"{self.budget}.seed{seed}{suffix}.pt"

    def save_figure(self, fig, name: str) -> str:
        """Save a matplotlib figure as ``results/<experiment>.<name>.png``; returns the file name."""
        from dl_assign.engine import distributed
        from dl_assign.viz import save_figure  # matplotlib only when a figure is made

        file_name = f"{self.experiment}.{name}.png"
        if distributed.is_main():  # under torchrun only rank 0 writes results
            save_figure(fig, self.results_dir / file_name)
        if file_name not in self.figures:
            self.figures.append(file_name)
        return file_name


@dataclass(frozen=True)
class Experiment:
    name: str
    config_cls: type[ExperimentConfig]
    fn: Callable[[Any, int, RunContext], SeedResult]
    datasets: tuple[str, ...]
    report: Callable[[Any, list[SeedResult], RunContext], str] | None = None

    @property
    def description(self) -> str:
        return (self.fn.__doc__ or "").strip().splitlines()[0] if self.fn.__doc__ else ""

    def config(self, budget: str = "standard", overrides: list[str] | dict | None = None):
        try:
            cfg = self.config_cls.for_budget(budget)
            return override(cfg, overrides) if overrides else cfg
        except ConfigError as exc:  # name the experiment: the message is all a CLI user sees
            raise ConfigError(f"{self.name}: {exc}") from None

    def run(
        self,
        budget: str = "standard",
        overrides: list[str] | dict | None = None,
        *,
        results_dir: str | Path = "results",
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        progress: bool = True,
        write: bool = True,
    ) -> dict[str, Any]:
        """Run every seed, aggregate, write ``results/<name>.json`` + ``.md``; return the record.

        ``write=False`` writes nothing to ``results_dir``: the record is only returned, and the figures
        the run makes go to a temporary folder that is removed afterwards (a helper run, such as the
        web benchmark training smoke models, must never touch the committed results/).
        """
        if not write:
            import tempfile

            with tempfile.TemporaryDirectory(prefix=f"{self.name}-") as scratch:
                return self.run(budget, overrides, results_dir=scratch, checkpoint_dir=checkpoint_dir,
                                resume=resume, progress=progress, write=True)
        from dl_assign import results
        from dl_assign.engine.device import threads
        from dl_assign.engine.seeding import seed_everything

        cfg = self.config(budget, overrides)
        ctx = RunContext(
            experiment=self.name,
            budget=budget,
            results_dir=Path(results_dir),
            checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else None,
            resume=resume,
            progress=progress,
        )
        env = results.env_info(cfg)  # at the start: the SHA of the code that runs, not of later edits
        start = time.perf_counter()
        outputs: list[SeedResult] = []
        seed_seconds: list[float] = []
        with threads(getattr(cfg, "threads", None)):  # the config's threads (0 = all physical cores)
            for seed in cfg.seeds:
                seed_everything(seed)
                t0 = time.perf_counter()
                out = self.fn(cfg, seed, ctx)
                if not isinstance(out, SeedResult):
                    raise TypeError(f"experiment {self.name} returned {type(out).__name__}, not SeedResult")
                seed_seconds.append(time.perf_counter() - t0)
                outputs.append(out)
        notes = self.report(cfg, outputs, ctx) if self.report else ""
        record = results.make_record(
            experiment=self.name,
            budget=budget,
            config=asdict(cfg),
            seeds=list(cfg.seeds),
            per_seed=[o.metrics for o in outputs],
            seed_seconds=seed_seconds,
            artifacts=[o.artifacts for o in outputs],
            wall_seconds=time.perf_counter() - start,
            dataset=ctx.dataset,
            figures=ctx.figures,
            notes=notes,
            description=self.description,
            env=env,
            summary=ctx.summary,
        )
        if write:
            results.write_result(record, ctx.results_dir)
        return record


def experiment(
    name: str,
    config_cls: type[ExperimentConfig],
    *,
    datasets: tuple[str, ...] = (),
    report: Callable | None = None,
):
    """Register ``fn(cfg, seed, ctx) -> SeedResult`` under ``name`` (e.g. ``fashion.mlp``)."""

    def decorate(fn):
        if name in _REGISTRY:
            raise ValueError(f"experiment {name!r} is registered twice")
        _REGISTRY[name] = Experiment(name, config_cls, fn, tuple(datasets), report)
        return fn

    return decorate


class UnknownExperiment(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; this one is a sentence
        return self.args[0]


def _load_all() -> None:
    import dl_assign.experiments  # noqa: F401  (importing registers every experiment)


def names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def get(name: str) -> Experiment:
    _load_all()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=5, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownExperiment(
            f"unknown experiment {name!r}{hint} (all: {', '.join(sorted(_REGISTRY))})"
        )
    return _REGISTRY[name]
