import numpy as np
import pytest

from helpers import metrics


def test_spectral_convergence_reference_points():
    rng = np.random.default_rng(0)
    ref = rng.uniform(0.1, 1.0, size=(3, 16, 20))
    assert np.all(metrics.spectral_convergence_db(ref, ref) < -200)
    np.testing.assert_allclose(metrics.spectral_convergence_db(ref, np.zeros_like(ref)), 0.0, atol=1e-9)
    np.testing.assert_allclose(metrics.spectral_convergence_db(ref, 1.1 * ref), -20.0, atol=1e-9)


def test_log_spectral_distance_reference_points():
    ref = np.random.default_rng(1).uniform(0.1, 1.0, size=(2, 16, 20))
    np.testing.assert_allclose(metrics.log_spectral_distance_db(ref, ref), 0.0, atol=1e-9)
    np.testing.assert_allclose(metrics.log_spectral_distance_db(ref, 10 * ref), 20.0, atol=1e-9)


def test_metrics_are_finite_on_silence():
    zeros = np.zeros((1, 8, 8))
    assert np.isfinite(metrics.spectral_convergence_db(zeros, zeros)).all()
    assert metrics.log_spectral_distance_db(zeros, zeros)[0] == pytest.approx(0.0)


def test_stoi_of_identical_and_noisy_signals():
    rng = np.random.default_rng(0)
    t = np.arange(8000 * 3) / 8000
    speechlike = (np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).reshape(3, -1)
    clean = metrics.stoi_joined(speechlike, speechlike, 8000)
    noisy = metrics.stoi_joined(speechlike, speechlike + rng.normal(scale=2.0, size=speechlike.shape), 8000)
    assert clean > 0.99 and noisy < clean - 0.2


def test_latent_moments_of_a_standard_normal():
    moments = metrics.latent_moments(np.random.default_rng(0).normal(size=(20000, 8)))
    assert moments["latent_mean_abs"] < 0.02 and abs(moments["latent_std_mean"] - 1) < 0.02
