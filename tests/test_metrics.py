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
