"""Every target the suite sets for the ``demo`` preset on a 2-core CPU, in one table.

``TARGETS`` bounds measures of each benchmark's JSON (``benchmarks/*.py``), or measures
derived from several of them (``measures``: a penalty against the autoencoder, a ratio to
the real-vs-real distance, a drop from the original clips). The README's results tables
(``results.py``) judge each number with it, notebooks 03, 04 and 06 print their verdicts
with ``verdicts``, and the benchmarks' docstrings point here.

``FLOORS`` are looser bounds that a trained pair must never fall below: the notebooks assert
them outside the ci preset (``floor_misses``), and ``tests/test_shipped_models.py`` holds
the shipped models to them. Taught in ``07_evaluation.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

TOLERANCE = 1e-9  # rounding slack, so that 1.0 - 0.97 counts as a drop of 0.03


@dataclass(frozen=True)
class Target:
    """A bound on one measure: at least ``low``, at most ``high`` (below it when ``strict``)."""

    text: str  # as the README shows it
    low: float | None = None
    high: float | None = None
    strict: bool = False

    def met(self, value: float | None) -> bool | None:
        """Whether ``value`` meets the target; None when it was not measured."""
        if value is None:
            return None
        if self.low is not None and value < self.low - TOLERANCE:
            return False
        if self.high is not None:
            return value < self.high if self.strict else value <= self.high + TOLERANCE
        return True


DAMAGES = ("png", "jpeg90", "jpeg75", "jpeg50", "resize75", "upscale8", "noise02")  # round_trip.py's
DAMAGE_PENALTY_LIMITS = {
    "jpeg90": 0.5,
    "jpeg75": 1.0,
    "jpeg50": 2.0,
    "resize75": 1.5,
    "upscale8": 0.5,
    "noise02": 0.5,
}
PAIRED_MODELS = ("cvae", "vaegan", "cgan", "wgan_gp", "mfcc", "triplet")  # paired.py's, references left out

TARGETS: dict[str, dict[str, Target]] = {
    "preprocess": {
        "clips_per_second": Target("≥ 200 clips/s", low=200),
        "gl_sc_db": Target("≤ −24 dB", high=-24),
    },
    "autoencoder": {
        "sc_db": Target("≤ −6 dB", high=-6),
        "sc_under_baseline_db": Target("6 dB under the digit-mean baseline", low=6),
        "latent_mean_abs": Target("≤ 0.1", high=0.1),
        "latent_std_mean": Target("0.9–1.1", low=0.9, high=1.1),
        "train_seconds": Target("< 8 min", high=480, strict=True),
    },
    "projection": {
        "recovery_rate": Target("≥ 99 %", low=0.99),
        "audio_recovery_rate": Target("≥ 99 %", low=0.99),
        "ms_per_image": Target("≤ 20 ms", high=20),
        "speedup": Target("≥ 10× faster", low=10),
        "fd_to_real": Target("≤ 2 × real", high=2),
        "train_seconds": Target("< 10 min", high=600, strict=True),
    },
    "round_trip": {
        "rt_png_penalty_db": Target("≤ autoencoder + 0.5 dB", high=0.5),
        **{
            f"rt_{damage}_penalty_db": Target(f"≤ +{limit:g} dB", high=limit)
            for damage, limit in DAMAGE_PENALTY_LIMITS.items()
        },
        "digit_drop_rt": Target("≥ original − 3 points", high=0.03),
        "digit_drop_jpeg75": Target("≥ original − 5 points", high=0.05),
        "a2i_digit_acc": Target("≥ 95 %", low=0.95),
        "i2a_digit_acc": Target("≥ 90 %", low=0.90),
        "ms_per_clip_image_to_audio": Target("image → audio ≤ 200 ms", high=200),
    },
    "paired": {
        "best_digit_acc": Target("best model ≥ 90 %", low=0.9),
        "train_seconds_total": Target("all trained in < 20 min", high=1200, strict=True),
    },
    "tokens": {
        "a2i_digit_accuracy": Target("≥ 85 %", low=0.85),
        "i2a_digit_accuracy": Target("≥ 80 %", low=0.80),
        "train_seconds": Target("< 20 min", high=1200, strict=True),
    },
}


FLOORS: dict[str, dict[str, Target]] = {
    "projection": {
        "recovery_rate": Target("≥ 95 % recovered", low=0.95),
        "audio_recovery_rate": Target("≥ 90 % of the test clips' latents recovered", low=0.9),
        "classifier_accuracy": Target("the judge reads ≥ 90 % of real test digits", low=0.9),
        "a2i_digit_acc": Target("≥ 90 % of pictures show the digit said", low=0.9),
        "drawing_digit_acc": Target("≥ 90 % of drawings projected to their digit", low=0.9),
    },
    "round_trip": {
        "latent_cos_median": Target("median cos(ẑ, z) ≥ 0.99", low=0.99),
        "rt_png_penalty_db": Target("the PNG costs ≤ 1 dB", high=1.0),
        "rt_jpeg75_penalty_db": Target("a JPEG 75 costs ≤ 1.5 dB", high=1.5),
        "digit_acc_original": Target("the listener knows ≥ 90 % of the original clips", low=0.9),
        "digit_drop_rt": Target("≤ 5 points fewer digits heard after the round trip", high=0.05),
        "a2i_digit_acc": Target("≥ 90 % of pictures show the digit said", low=0.9),
        "i2a_digit_acc": Target("≥ 85 % of drawings heard as their digit", low=0.85),
    },
    "paired": {"best_digit_acc": Target("the best model draws the digit said ≥ 90 %", low=0.9)},
    "tokens": {
        "a2i_digit_accuracy": Target("audio → image far above chance, ≥ 50 %", low=0.5),
        "i2a_digit_accuracy": Target("image → audio far above chance, ≥ 50 %", low=0.5),
        "train_seconds": Target("trained in < 20 min", high=1200, strict=True),
    },
}


def measures(benchmark: str, result: dict) -> dict:
    """``result`` (one benchmark's JSON, or the notebook summary it shares) with the derived
    measures its targets bound added; a measure that cannot be derived is left out."""
    r = dict(result)

    def has(*keys: str) -> bool:
        return all(r.get(key) is not None for key in keys)

    if benchmark == "autoencoder" and has("sc_db", "baseline_sc_db"):
        r["sc_under_baseline_db"] = r["baseline_sc_db"] - r["sc_db"]
    if benchmark == "projection" and has("fd", "fd_real_baseline"):
        r["fd_to_real"] = r["fd"] / r["fd_real_baseline"]
    if benchmark == "round_trip" and has("ae_sc_db"):
        for damage in DAMAGES:
            if has(f"rt_{damage}_sc_db"):
                r[f"rt_{damage}_penalty_db"] = r[f"rt_{damage}_sc_db"] - r["ae_sc_db"]
    if benchmark == "round_trip" and has("digit_acc_original"):
        for key, heard in (("digit_drop_rt", "digit_acc_rt"), ("digit_drop_jpeg75", "digit_acc_rt_jpeg75")):
            if has(heard):
                r[key] = r["digit_acc_original"] - r[heard]
    if benchmark == "paired" and isinstance(r.get("all"), dict):
        accuracies = [r[name]["digit_acc"] for name in PAIRED_MODELS if name in r]
        r["best_digit_acc"] = max(accuracies, default=None)
        r["train_seconds_total"] = r["all"].get("train_seconds_total")
    return r


def met(benchmark: str, key: str, result: dict) -> bool | None:
    """Whether ``result`` meets the target on ``key`` (None when that measure is missing)."""
    return TARGETS[benchmark][key].met(measures(benchmark, result).get(key))


def verdicts(benchmark: str, result: dict) -> dict[str, bool | None]:
    """Every target of ``benchmark`` judged on ``result``: key -> met, not met or not measured."""
    derived = measures(benchmark, result)
    return {key: target.met(derived.get(key)) for key, target in TARGETS[benchmark].items()}


def floor_misses(benchmark: str, result: dict, *keys: str) -> list[str]:
    """The floors of ``benchmark`` (``keys``, or all) that ``result`` falls below, each as
    ``"key = value (floor)"``; an unmeasured one (None) is no miss. Empty when all hold."""
    derived = measures(benchmark, result)
    chosen = keys or tuple(FLOORS[benchmark])
    floors = FLOORS[benchmark]
    return [
        f"{key} = {derived.get(key)} ({floors[key].text})"
        for key in chosen
        if floors[key].met(derived.get(key)) is False
    ]
