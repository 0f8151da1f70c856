"""The settings of dlbook's launcher (``hydra/launcher=dlbook``, the default of `dlbook train -m`)."""

from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class DlbookLauncherConf:
    _target_: str = "hydra_plugins.dlbook_launcher.launcher.DlbookLauncher"
    # GPUs to spread the jobs over: auto (those `nvidia-smi -L` lists, or CUDA_VISIBLE_DEVICES if set),
    # an explicit list of ids such as [0,1,2,3], or [] for none (CPU workers).
    gpus: Any = "auto"
    # How many jobs share one GPU at a time (small models leave a GPU mostly idle).
    jobs_per_gpu: int = 1
    # GPUs given to each job (they all appear in its CUDA_VISIBLE_DEVICES; use with strategy=mirrored).
    gpus_per_job: int = 1
    # With no GPU: how many jobs run at once on the CPU.
    cpu_workers: int = 1
    # TensorFlow threads per job: auto = the machine's cores / the jobs at once, so jobs don't fight over cores.
    threads_per_job: Any = "auto"
    # Fraction of each GPU's memory one job may take (TensorFlow: memory growth up to that limit; JAX:
    # XLA_PYTHON_CLIENT_MEM_FRACTION). auto: 0.9 / jobs_per_gpu when jobs share a GPU, nothing for a job alone.
    gpu_memory_fraction: Any = "auto"
    # true: after the first failed job start no new ones, and end the sweep with a non-zero exit.
    # false: every job runs; failures are marked in status.json and the sweep summary.
    fail_fast: bool = False
    # A sweep-level progress bar (jobs done / running / failed) on stderr.
    progress: bool = True


ConfigStore.instance().store(group="hydra/launcher", name="dlbook", node=DlbookLauncherConf, provider="dlbook")


@dataclass
class DlbookSweeperConf:
    _target_: str = "hydra_plugins.dlbook_launcher.sweeper.DlbookSweeper"
    # Jobs handed to the launcher at once (null: all of them, so the launcher can fill every GPU).
    max_batch_size: int | None = None
    # Sweep values kept in a config file, e.g. {model.units: "16,32,64"} (command-line ones are added).
    params: dict[str, str] | None = None


ConfigStore.instance().store(group="hydra/sweeper", name="dlbook", node=DlbookSweeperConf, provider="dlbook")
