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


def test_cosine_rows_and_recovery_rate():
    z = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    z_hat = np.array([[2.0, 0.0], [0.0, -1.0], [1.0, 0.9]])
    np.testing.assert_allclose(metrics.cosine_rows(z, z_hat), [1.0, -1.0, 1.9 / np.sqrt(2 * 1.81)])
    assert metrics.recovery_rate(z, z_hat) == pytest.approx(2 / 3)
    assert metrics.recovery_rate(z, z_hat, threshold=0.999) == pytest.approx(1 / 3)


def test_frechet_distance_reference_points():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-4)
    # a pure shift adds its squared length; a scale s of unit covariance adds k (s - 1)^2
    assert metrics.frechet_distance(a, a + np.array([3.0, 0.0, 4.0])) == pytest.approx(25.0, abs=1e-3)
    assert metrics.frechet_distance(a, 2.0 * a) == pytest.approx(3.0, rel=0.1)
