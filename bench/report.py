"""Collect the benchmark results (bench/results/*.json) into bench/results.md and bench/results.json.

Both carry the machine (CPU model, cores, memory), the versions (Python, TensorFlow, Keras, dlbook) and
the thread settings (TensorFlow's intra- and inter-op pools as dlbook sets them, OMP_NUM_THREADS) of the
machine this runs on, which is the machine `make bench` measured on (gpu_sweep names its own device).
results.md opens with a summary table, dlbook beside its peer with the ratio and the goal, then lists
every figure of every benchmark.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
THREAD_VARIABLES = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
# The timed workloads of runner_overhead and backends, with the book sections they come from.
WORKLOADS = {
    "imdb_dense": "IMDB dense (3.5)",
    "mnist_convnet": "MNIST convnet (5.1)",
    "imdb_lstm": "IMDB LSTM (6.2)",
    "jena_gru": "Jena GRU (6.3)",
}


# --------------------------------------------------------------------------------------------------
# Where the figures were measured.


def machine() -> dict[str, Any]:
    """CPU model, cores, memory and OS of this machine."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):  # not every OS has these sysconf names
        memory = None
    return {
        "cpu_model": model,
        "cpu_cores": os.cpu_count(),
        "memory_gib": round(memory, 1) if memory else None,
        "platform": platform.platform(),
    }


def versions() -> dict[str, str]:
    """Versions of Python and of the packages the benchmarks ran."""
    found = {"python": platform.python_version()}
    for package in ("tensorflow", "jax", "torch", "keras", "dlbook"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def threads() -> dict[str, Any]:
    """TensorFlow's thread pools as a dlbook run sets them up here, and the variables that change them."""
    settings: dict[str, Any] = {name: os.environ.get(name, "unset") for name in THREAD_VARIABLES}
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf

        from dlbook.run.runtime import apply_thread_limits
    except ImportError:
        return settings
    apply_thread_limits()  # what every dlbook run does before its first op
    settings["tf_intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads()
    settings["tf_inter_op_threads"] = tf.config.threading.get_inter_op_parallelism_threads()
    return settings


def _pool(value: int) -> str:
    return f"{value} (TensorFlow chooses, by the number of cores)" if value == 0 else str(value)


# --------------------------------------------------------------------------------------------------
# Formatting figures.


def number(value: float) -> str:
    """A figure with as many digits as it deserves: 464,604 / 484 / 37.2 / 0.476."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"


def readable(value: Any) -> str:
    """One line for any JSON value: {median, min, max} as "m (min-max)", other objects as "key value, ..."."""
    if isinstance(value, dict):
        if "median" in value:
            spread = (
                f"{number(value['min'])}-{number(value['max'])}"
                if "min" in value
                else ", ".join(number(item) for item in value.get("all", []))
            )
            return f"{number(value['median'])} ({spread})" if spread else number(value["median"])
        return "; ".join(f"{key} {readable(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(readable(item) for item in value)
    return number(value)


def _most_at_once(jobs: list[dict]) -> int:
    """The most jobs that ran at the same time, from their start and end times."""
    events = sorted([(job["start"], 1) for job in jobs] + [(job["end"], -1) for job in jobs])
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


def gpu_sweep_line(result: dict) -> str:
    """gpu_sweep.json in one sentence: the device, the command, where each job ran and how fast."""
    jobs = sorted(result.get("jobs", []), key=lambda job: job.get("index", 0))
    placed = ", ".join(
        f"job {job.get('index')} on {job.get('slot')} (CUDA_VISIBLE_DEVICES={job.get('cuda_visible_devices')}, "
        f"{number(job['step_ms'])} ms)"
        for job in jobs
    )
    at_once = f" (at most {_most_at_once(jobs)} at once)" if jobs and "start" in jobs[0] else ""
    text = f"{len(jobs)} jobs{at_once} on {result.get('device', '?')}: {placed}"
    if result.get("command"):
        text += f"; command `{result['command']}`"
    if result.get("note"):
        text += f"; {result['note']}"
    return text


def soak_line(result: dict) -> str:
    """soak.json in one sentence: the sweep, its failures, the results lost, the resume."""
    failed = result.get("failed") or {}
    how = ", ".join(f"job {job} {kind}" for job, kind in failed.items())
    again = ", ".join(str(job) for job in result.get("ran_again_on_resume", []))
    return (
        f"{result.get('jobs')} jobs on {result.get('cpu_workers')} CPU workers "
        f"in {number(result.get('sweep_seconds'))} s: "
        f"{result.get('completed')} completed, {len(failed)} failed ({how}; as intended: "
        f"{'yes' if result.get('failed_as_intended') else 'NO'}), {result.get('results_lost')} results lost; "
        f"the resume took {number(result.get('resume_seconds'))} s, ran job(s) {again or 'none'} again and ended with "
        f"{result.get('completed_after_resume')} of {result.get('jobs')} completed"
    )


def bad_values_line(result: dict) -> str:
    """bad_values.json in one sentence: values tried, how they ended, the findings."""
    findings = result.get("findings") or []
    shown = "; ".join(
        f"{item['experiment']} {item['override']}: {', '.join(item['problems'])}" for item in findings[:5]
    )
    return (
        f"{result.get('values_tried')} wrong values (seed {result.get('seed')}) for the keys of "
        f"{len(result.get('experiments', []))} experiments in {number(result.get('seconds'))} s: "
        f"{result.get('accepted_exit_0')} usable (exit 0), {result.get('refused_exit_2')} refused in one paragraph "
        f"(exit 2), {result.get('tracebacks')} tracebacks, {result.get('completed_although_failed')} runs marked "
        f"completed although the command failed{'; ' + shown if shown else ''}"
    )


# Benchmarks whose JSON reads best as one sentence rather than a row per key.
ONE_LINE: dict[str, Callable[[dict], str]] = {
    "gpu_sweep": gpu_sweep_line,
    "soak": soak_line,
    "bad_values": bad_values_line,
}


# --------------------------------------------------------------------------------------------------
# The summary: dlbook beside its peer.


def _get(results: dict, name: str, *keys: str) -> Any:
    value: Any = results.get(name, {})
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def summary_rows(results: dict[str, dict]) -> list[list[str]]:
    """[what, dlbook, peer, ratio, goal] for each headline figure whose benchmark has run."""
    rows = []

    def add(what: str, ours: Any, peer: Any, ratio: Any, goal: str = "") -> None:
        if ours is not None:
            shown = [readable(item) if item is not None else "-" for item in (ours, peer, ratio)]
            rows.append([what, *shown, goal])

    def add_workloads(what: str, benchmark: str, ours: str, peer: str, ratio: str, workloads, goal: str = ""):
        """One row per workload; the key templates name the workload as {w}."""
        for workload in workloads:
            add(
                what.format(label=WORKLOADS[workload]),
                *(_get(results, benchmark, key.format(w=workload)) for key in (ours, peer, ratio)),
                goal,
            )

    add_workloads(
        "runner overhead: {label} epoch, s (peer: the book's plain Keras script)",
        "runner_overhead",
        "{w}_dlbook_seconds",
        "{w}_plain_seconds",
        "{w}_ratio",
        ("imdb_dense", "mnist_convnet", "imdb_lstm"),
        "<= 1.03",
    )
    for key, label in (
        ("dlbook_help", "`dlbook --help`"),
        ("dlbook_cfg_job", "`dlbook train --cfg job experiment=imdb`"),
    ):
        imported = _get(results, "startup", "tensorflow_imported", key)
        add(
            f"start-up: {label}, s",
            _get(results, "startup", f"{key}_seconds"),
            None,
            None,
            "no TensorFlow import: " + ("NO, it imports it" if imported else "yes"),
        )
    add(
        "start-up: to the first training step, IMDB 3.5, s (peer: plain script)",
        _get(results, "startup", "first_step_dlbook_seconds"),
        _get(results, "startup", "first_step_plain_seconds"),
        _get(results, "startup", "first_step_ratio"),
        f"(importing TensorFlow + Keras: {readable(_get(results, 'startup', 'import_tensorflow_keras_seconds'))})",
    )
    add(
        "memory: peak RSS of the IMDB 3.5 run, MiB (peer: plain script)",
        _get(results, "memory", "dlbook_peak_rss_mib"),
        _get(results, "memory", "plain_peak_rss_mib"),
        _get(results, "memory", "ratio_dlbook_over_plain"),
        "<= 0.5",
    )
    add(
        "input pipeline: cats vs dogs images/s after the first epoch (peer: ImageDataGenerator's way)",
        _get(results, "image_pipeline", "images_per_second", "dlbook_later_epochs", "median"),
        _get(results, "image_pipeline", "images_per_second", "book", "median"),
        _get(results, "image_pipeline", "ratio_to_book", "dlbook_later_epochs"),
    )
    add(
        "input pipeline: Jena windows/s (peer: the book's generator)",
        _get(results, "jena_windows", "dlbook_windows_per_second"),
        _get(results, "jena_windows", "book_generator_windows_per_second"),
        _get(results, "jena_windows", "ratio_dlbook_over_book"),
    )
    for backend in ("jax", "torch"):
        add_workloads(
            f"backends: {{label}} epoch on {backend}, s (peer: the same on TensorFlow)",
            "backends",
            f"{{w}}_{backend}_epoch_seconds",
            "{w}_tensorflow_epoch_seconds",
            f"{{w}}_{backend}_ratio_to_tensorflow",
            ("mnist_convnet", "imdb_dense", "imdb_lstm", "jena_gru"),
        )
        first_step = _get(results, "backends", f"first_step_{backend}_seconds")
        first_step_tensorflow = _get(results, "backends", "first_step_tensorflow_seconds")
        add(
            f"backends: to the first training step on {backend}, IMDB 3.5, s (peer: TensorFlow)",
            first_step,
            first_step_tensorflow,
            first_step / first_step_tensorflow if first_step and first_step_tensorflow else None,
        )
    imported = _get(results, "runs_table", "imports_tensorflow_or_keras")
    add(
        f"`dlbook runs` on {_get(results, 'runs_table', 'run_folders')} run folders, s (peer: `dlbook --help`)",
        _get(results, "runs_table", "runs_all_seconds"),
        _get(results, "runs_table", "help_seconds"),
        None,
        "< 1 s; no TensorFlow or Keras import: " + ("yes" if imported == "neither" else f"NO ({imported})"),
    )
    parallel = _get(results, "sweep_throughput", "parallel_seconds")
    basic = _get(results, "sweep_throughput", "basic_seconds")
    add(
        "sweep: 8 jobs, s (dlbook cpu_workers=2; peer: Hydra's basic launcher)",
        parallel,
        basic,
        parallel / basic if parallel and basic else None,
    )
    return rows


# --------------------------------------------------------------------------------------------------


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"


def markdown(results: dict[str, dict], context: dict[str, Any]) -> str:
    """bench/results.md: where it was measured, the summary, then every figure."""
    found, where, pools = context["versions"], context["machine"], context["threads"]
    memory = f", {where['memory_gib']} GiB of memory" if where.get("memory_gib") else ""
    thread_text = ", ".join(f"{name} {pools[name]}" for name in THREAD_VARIABLES)
    if "tf_intra_op_threads" in pools:
        thread_text = (
            f"TensorFlow intra-op threads {_pool(pools['tf_intra_op_threads'])}, "
            f"inter-op {_pool(pools['tf_inter_op_threads'])}; {thread_text}"
        )
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (bench/report.py) on {context['generated']}.",
        f"Machine: {where['cpu_model']}, {where['cpu_cores']} CPU cores{memory} ({where['platform']}).",
        "Versions: " + ", ".join(f"{name} {value}" for name, value in found.items()) + ".",
        f"Threads: {thread_text}.",
        "Each figure is a median over interleaved runs; ratios compare the two sides measured in the same run "
        "(dlbook / peer: below 1 means dlbook is faster or smaller). gpu_sweep ran on the machine it names.",
        "",
        "## Summary",
        "",
        _row(["figure", "dlbook", "peer", "ratio", "goal"]),
        "|---|---|---|---|---|",
        *(_row(row) for row in summary_rows(results)),
        "",
        "## Every figure",
        "",
        _row(["benchmark", "figure", "value"]),
        "|---|---|---|",
    ]
    for stem, result in results.items():
        result = dict(result)
        name = result.pop("benchmark", stem)
        if stem in ONE_LINE:
            lines.append(_row([name, "summary", ONE_LINE[stem](result)]))
            continue
        for key, value in result.items():
            lines.append(_row([name, key, readable(value)]))
    return "\n".join(lines) + "\n"


def main() -> None:
    results = {path.stem: json.loads(path.read_text()) for path in sorted((HERE / "results").glob("*.json"))}
    context = {
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "threads": threads(),
    }
    text = markdown(results, context)
    (HERE / "results.md").write_text(text)
    (HERE / "results.json").write_text(json.dumps({**context, "benchmarks": results}, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
