"""A GPU running out of memory, and cuDNN / cuBLAS failing to start, are explained from TensorFlow's real
exception classes (with the messages TensorFlow gives them), as they reach a run."""

from __future__ import annotations

import pytest
import tensorflow as tf

from dlbook.run.faults import ResourceExhausted, explain_exhaustion

GPU_OOM = (
    "OOM when allocating tensor with shape[256,256,32,32] and type float on "
    "/job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc [Op:Conv2D]"
)


def test_a_gpu_out_of_memory_names_the_gpu_and_the_ways_out(monkeypatch):
    monkeypatch.delenv("DLBOOK_GPU_MEMORY_FRACTION", raising=False)
    explained = explain_exhaustion(tf.errors.ResourceExhaustedError(None, None, GPU_OOM), "outputs/x/1")
    assert isinstance(explained, ResourceExhausted)
    text = str(explained)
    assert text.startswith("A GPU ran out of memory during the run in outputs/x/1 (ResourceExhaustedError: OOM")
    assert "device:GPU:0 by allocator GPU_0_bfc" in text
    assert "trainer.batch_size" in text and "trainer.mixed_precision=mixed_float16" in text


def test_a_packed_job_out_of_memory_names_its_share_of_the_gpu(monkeypatch):
    monkeypatch.setenv("DLBOOK_GPU_MEMORY_FRACTION", "0.225")
    text = str(explain_exhaustion(tf.errors.ResourceExhaustedError(None, None, GPU_OOM), "run"))
    assert "This job was given 22% of its GPU's memory" in text
    assert "hydra.launcher.jobs_per_gpu" in text and "hydra.launcher.gpu_memory_fraction" in text


def test_a_host_allocator_out_of_memory_is_not_called_a_gpu(monkeypatch):
    message = (
        "OOM when allocating tensor with shape[25000,10000] and type float on "
        "/job:localhost/replica:0/task:0/device:CPU:0 by allocator cpu"
    )
    text = str(explain_exhaustion(tf.errors.ResourceExhaustedError(None, None, message), "run"))
    assert text.startswith("The host (TensorFlow's CPU allocator) ran out of memory")
    assert "GPU" not in text.split("(ResourceExhaustedError")[0]


@pytest.mark.parametrize(
    ("error_class", "message", "library"),
    [
        # TensorFlow 2.x: conv ops when cuDNN cannot create its handle (memory taken, or a mismatched cuDNN).
        (
            tf.errors.FailedPreconditionError,
            "DNN library initialization failed. Look at the errors above for more details. [Op:Conv2D]",
            "cuDNN",
        ),
        (
            tf.errors.UnknownError,
            "Failed to get convolution algorithm. This is probably because cuDNN failed to initialize, so try "
            "looking to see if a warning log message was printed above.",
            "cuDNN",
        ),
        (tf.errors.UnimplementedError, "DNN library is not found. [Op:Conv2D]", "cuDNN"),
        # matmul ops when cuBLAS cannot create its handle.
        (
            tf.errors.InternalError,
            "Attempting to perform BLAS operation using StreamExecutor without BLAS support [Op:MatMul]",
            "cuBLAS",
        ),
        (
            tf.errors.InternalError,
            "Blas GEMM launch failed : a.shape=(32, 784), b.shape=(784, 512), m=32, n=512, k=784",
            "cuBLAS",
        ),
    ],
)
def test_cudnn_and_cublas_start_up_failures_are_explained(error_class, message, library, monkeypatch):
    monkeypatch.setenv("DLBOOK_GPU_MEMORY_FRACTION", "0.45")
    explained = explain_exhaustion(error_class(None, None, message), "run")
    assert isinstance(explained, ResourceExhausted)
    text = str(explained)
    assert text.startswith(f"{library} could not start on the GPU ({error_class.__name__}: {message[:40]}")
    assert "nvidia-smi" in text and "pip install 'dlbook[gpu]'" in text and "hydra.launcher.jobs_per_gpu" in text


def test_other_tensorflow_errors_are_left_alone():
    assert (
        explain_exhaustion(tf.errors.InvalidArgumentError(None, None, "Incompatible shapes: [3] vs. [4]"), "run")
        is None
    )
    assert explain_exhaustion(tf.errors.InternalError(None, None, "Something else broke"), "run") is None
    assert explain_exhaustion(ValueError("Blas GEMM launch failed"), "run") is None  # not TensorFlow's
