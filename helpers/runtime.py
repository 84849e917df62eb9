"""Where training runs: the ``tf.distribute`` strategy this machine offers, and batch sizes for it.

Every training notebook builds and trains its models inside ``strategy().scope()`` with a
global batch of ``global_batch(per_replica)``; on one device both are no-ops. Custom
``train_step``s divide their gradients by the replica count (``replica_mean``), because the
replicas' gradients are summed. Taught in ``02_audio_autoencoder.ipynb``.
"""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf

from helpers.config import Preset


def strategy(devices: list[str] | None = None) -> tf.distribute.Strategy:
    """The strategy for this machine: a TPU when one is attached (Colab's TPU runtime), a
    ``MirroredStrategy`` across the visible GPUs when there are two or more, otherwise the
    default strategy (one device). ``devices`` forces a ``MirroredStrategy`` over exactly
    those devices (``["/cpu:0", "/cpu:1"]`` after splitting the CPU, as the tests do)."""
    if devices:
        return tf.distribute.MirroredStrategy(devices)
    if os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_NAME"):
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def global_batch(per_replica: int, chosen: tf.distribute.Strategy | None = None) -> int:
    """The batch to feed ``fit``: ``per_replica`` examples for each replica of ``chosen``
    (default: the strategy in scope)."""
    chosen = chosen or tf.distribute.get_strategy()
    return per_replica * chosen.num_replicas_in_sync


def replica_mean(gradients: list) -> list:
    """Gradients of a per-replica mean loss, divided by the number of replicas in sync, for a
    custom ``train_step``: the optimizer sums the replicas' gradients, so this makes the sum a
    mean over the global batch. Unchanged on one device."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas == 1:
        return gradients
    return [None if g is None else tf.math.scalar_mul(1.0 / replicas, g) for g in gradients]


def with_global_batches(preset: Preset, chosen: tf.distribute.Strategy) -> Preset:
    """``preset`` with every ``*batch_size`` multiplied by the replicas of ``chosen``, so each
    replica sees the preset's batch (the preset itself is unchanged on one device)."""
    replicas = chosen.num_replicas_in_sync
    if replicas == 1:
        return preset
    changes = {}
    for part in dataclasses.fields(preset):
        value = getattr(preset, part.name)
        if dataclasses.is_dataclass(value):
            sizes = {
                f.name: getattr(value, f.name) * replicas
                for f in dataclasses.fields(value)
                if f.name.endswith("batch_size")
            }
            if sizes:
                changes[part.name] = dataclasses.replace(value, **sizes)
    return dataclasses.replace(preset, **changes)
