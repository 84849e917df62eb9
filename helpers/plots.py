"""The figures the notebooks show. Each function returns a matplotlib ``Figure``.

Taught in ``01_preprocess.ipynb``.
"""

from __future__ import annotations

from pathlib import Path

import librosa.display
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from helpers.config import FrontEnd


def show_spectrogram(ax: Axes, spectrogram_db: np.ndarray, front_end: FrontEnd, title: str = "") -> None:
    """Draw one dB spectrogram ``(n_freq, n_frames)`` with time and frequency axes (80 dB range)."""
    spectrogram_db = np.squeeze(spectrogram_db)
    librosa.display.specshow(
        spectrogram_db,
        sr=front_end.sample_rate,
        hop_length=front_end.hop_length,
        n_fft=front_end.n_fft,
        y_coords=np.arange(front_end.n_freq) * front_end.sample_rate / front_end.n_fft,
        x_axis="time",
        y_axis="linear",
        ax=ax,
        cmap="magma",
        vmin=float(spectrogram_db.max()) - 80.0,
        vmax=float(spectrogram_db.max()),
    )
    ax.set_title(title, fontsize=9)


def digit_examples_figure(
    clips: np.ndarray, spectrograms_db: np.ndarray, digits: np.ndarray, front_end: FrontEnd
) -> Figure:
    """One waveform and one spectrogram per digit 0-9 (first clip of each digit)."""
    fig, axes = plt.subplots(4, 5, figsize=(16, 9), constrained_layout=True)
    time_axis = np.arange(front_end.clip_samples) / front_end.sample_rate
    for digit in range(10):
        row, col = 2 * (digit // 5), digit % 5
        matches = np.flatnonzero(digits == digit)
        if len(matches) == 0:
            axes[row, col].set_axis_off()
            axes[row + 1, col].set_axis_off()
            continue
        i = matches[0]
        axes[row, col].plot(time_axis, clips[i], linewidth=0.6)
        axes[row, col].set(title=f"digit {digit}: waveform", xlim=(0, time_axis[-1]), ylim=(-1, 1))
        show_spectrogram(axes[row + 1, col], spectrograms_db[i], front_end, f"digit {digit}: dB spectrogram")
    return fig


def histograms_figure(values: dict[str, np.ndarray], title: str) -> Figure:
    """Side-by-side histograms, one per named array (e.g. SC and LSD per clip)."""
    fig, axes = plt.subplots(1, len(values), figsize=(5 * len(values), 3.2), constrained_layout=True)
    for ax, (name, data) in zip(np.atleast_1d(axes), values.items(), strict=True):
        ax.hist(data, bins=30, color="tab:blue", alpha=0.8)
        ax.axvline(np.median(data), color="black", linestyle="--", label=f"median {np.median(data):.1f}")
        ax.set(xlabel=name, ylabel="clips")
        ax.legend()
    fig.suptitle(title)
    return fig


def image_row_figure(images: np.ndarray, labels: np.ndarray, title: str) -> Figure:
    """A row of images with their labels as titles; images ``(n, h, w, c)`` in [0, 1]."""
    fig, axes = plt.subplots(1, len(images), figsize=(1.3 * len(images), 1.8), constrained_layout=True)
    for ax, image, label in zip(np.atleast_1d(axes), images, labels, strict=True):
        ax.imshow(np.squeeze(image), cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=1)
        ax.set_title(str(label), fontsize=9)
        ax.set_axis_off()
    fig.suptitle(title)
    return fig


def digit_rows_figure(images: np.ndarray, digits: np.ndarray, per_row: int, title: str) -> Figure:
    """One row per digit present: the first ``per_row`` images ``(n, h, w, c)`` in [0, 1] whose
    digit is that row's, labelled on the left (``03_gan_and_projection.ipynb``)."""
    rows = [int(d) for d in np.unique(digits) if d >= 0]
    fig, axes = plt.subplots(
        len(rows),
        per_row,
        figsize=(0.9 * per_row + 0.6, 0.9 * len(rows) + 0.5),
        squeeze=False,
        constrained_layout=True,
    )
    for row, digit in zip(axes, rows, strict=True):
        chosen = np.flatnonzero(np.asarray(digits) == digit)[:per_row]
        for k, ax in enumerate(row):
            ax.set_axis_off()
            if k < len(chosen):
                image = images[chosen[k]]
                ax.imshow(np.squeeze(image), cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=1)
        row[0].text(-0.15, 0.5, f"'{digit}'", transform=row[0].transAxes, ha="right", va="center")
    fig.suptitle(title)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save ``fig`` as a PNG (creating the folder) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def loss_curves_figure(history: dict[str, list[float]], keys: list[str], title: str) -> Figure:
    """One panel per loss key: training curve and, when logged, the validation curve."""
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), constrained_layout=True)
    for ax, key in zip(np.atleast_1d(axes), keys, strict=True):
        ax.plot(history[key], label="train")
        if f"val_{key}" in history:
            ax.plot(history[f"val_{key}"], label="held-out voices")
        ax.set(title=key, xlabel="epoch")
        ax.legend()
    fig.suptitle(title)
    return fig


def latent_pca_figure(latents: np.ndarray, labels: np.ndarray, title: str) -> Figure:
    """Latents ``(n, d)`` projected on their first two principal components, coloured by label."""
    from sklearn.decomposition import PCA

    points = PCA(n_components=2).fit_transform(latents)
    fig, ax = plt.subplots(figsize=(5.5, 4.5), constrained_layout=True)
    scatter = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=14, vmin=-0.5, vmax=9.5)
    fig.colorbar(scatter, ax=ax, ticks=range(10), label="digit")
    ax.set(title=title, xlabel="PC 1", ylabel="PC 2")
    return fig


def spectrogram_rows_figure(
    rows: dict[str, np.ndarray], front_end: FrontEnd, column_titles: list[str]
) -> Figure:
    """A grid of dB spectrograms: one row per name in ``rows`` (each ``(n, F, T)``), one column per clip."""
    n_cols = len(column_titles)
    fig, axes = plt.subplots(
        len(rows), n_cols, figsize=(2.3 * n_cols, 2.2 * len(rows)), constrained_layout=True
    )
    axes = np.atleast_2d(axes)
    for r, (name, spectrograms) in enumerate(rows.items()):
        for c in range(n_cols):
            show_spectrogram(axes[r, c], spectrograms[c], front_end, f"{column_titles[c]}: {name}")
            axes[r, c].set(xlabel="", ylabel="")
    return fig


def recovery_histogram_figure(cosines: dict[str, np.ndarray], threshold: float = 0.99) -> Figure:
    """Histograms of cos(z_hat, z) per projection method, with the recovery threshold marked
    (``03_gan_and_projection.ipynb``)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.2), constrained_layout=True)
    bins = np.linspace(min(0.0, min(float(c.min()) for c in cosines.values())), 1.0, 60)
    for name, cos in cosines.items():
        ax.hist(cos, bins=bins, alpha=0.6, label=f"{name}: {np.mean(cos >= threshold):.0%} recovered")
    ax.axvline(threshold, color="black", linestyle="--", label=f"cos = {threshold}")
    ax.set(xlabel="cos(z_hat, z)", ylabel="images", title="latent recovery")
    ax.legend(fontsize=8)
    return fig


def projection_pairs_figure(targets: np.ndarray, recovered: np.ndarray, cos: np.ndarray) -> Figure:
    """Target images (top) above ``G(z_hat)`` (bottom), each titled with its cos(z_hat, z)."""
    n = len(targets)
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3.0), constrained_layout=True, squeeze=False)
    for i in range(n):
        for row, image in enumerate((targets[i], recovered[i])):
            axes[row, i].imshow(
                np.squeeze(image), cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=1
            )
            axes[row, i].set_axis_off()
        axes[0, i].set_title(f"cos {cos[i]:.3f}", fontsize=8)
    fig.suptitle("target G(z) (top) and G(z_hat) from its projection (bottom)")
    return fig


def round_trip_figure(
    image: np.ndarray, spectrograms_db: dict[str, np.ndarray], front_end: FrontEnd
) -> Figure:
    """The generated image beside one dB spectrogram ``(F, T)`` per named stage of the trip
    (``04_round_trip.ipynb``)."""
    n = 1 + len(spectrograms_db)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.0), constrained_layout=True)
    axes[0].imshow(np.squeeze(image), cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=1)
    axes[0].set_title("the image (PNG file)", fontsize=9)
    axes[0].set_axis_off()
    for ax, (name, spectrogram_db) in zip(axes[1:], spectrograms_db.items(), strict=True):
        show_spectrogram(ax, spectrogram_db, front_end, name)
    return fig


def voice_figure(
    recording: np.ndarray, begin: int, front_end: FrontEnd, image: np.ndarray, heard: str = ""
) -> Figure:
    """A whole recording ``(n,)`` with the clip cut from it (``begin`` onwards) shaded, beside
    the image the clip became, titled with ``heard`` (a short line: what the listener heard)
    (``04_round_trip.ipynb``)."""
    fig, (wave_ax, image_ax) = plt.subplots(
        1, 2, figsize=(9.0, 2.6), gridspec_kw={"width_ratios": [3.2, 1]}, constrained_layout=True
    )
    seconds = np.arange(len(recording)) / front_end.sample_rate
    wave_ax.plot(seconds, recording, linewidth=0.5, color="0.3")
    start = begin / front_end.sample_rate
    wave_ax.axvspan(
        start, start + front_end.clip_seconds, color="tab:orange", alpha=0.3, label="the clip used"
    )
    wave_ax.set_xlabel("time (s)")
    wave_ax.set_title("your recording", fontsize=9)
    wave_ax.legend(loc="upper right", fontsize=8)
    image_ax.imshow(np.squeeze(image), cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=1)
    image_ax.set_title("its image" + (f"\n{heard}" if heard else ""), fontsize=9)
    image_ax.set_axis_off()
    return fig


def damage_penalty_figure(rows: list[dict], reference: str = "ae") -> Figure:
    """Bars of each path's spectral-convergence penalty over ``reference`` (dB, lower is better)
    and its median cos(z_hat, z), from ``RoundTripReport.table()`` (``04_round_trip.ipynb``)."""
    base = next(row["sc_db"] for row in rows if row["path"] == reference)
    damaged = [row for row in rows if row["latent_cos"] is not None]
    names = [row["path"] for row in damaged]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2), constrained_layout=True)
    left.bar(names, [row["sc_db"] - base for row in damaged], color="tab:red")
    left.set(ylabel="dB", title=f"spectral convergence penalty over the {reference} path")
    right.bar(names, [row["latent_cos"] for row in damaged], color="tab:blue")
    right.set(ylim=(0, 1), ylabel="median cos(z_hat, z)", title="latent recovered from the image")
    for ax in (left, right):
        ax.tick_params(axis="x", labelrotation=30)
    return fig


def pairs_figure(
    spectrograms_db: np.ndarray, images: np.ndarray, digits: np.ndarray, front_end: FrontEnd
) -> Figure:
    """Training pairs: each clip's dB spectrogram ``(F, T)`` above its partner image
    (``05_paired_generation.ipynb``)."""
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(2.0 * n, 3.8), constrained_layout=True, squeeze=False)
    for i in range(n):
        show_spectrogram(axes[0, i], spectrograms_db[i], front_end, f"spoken {digits[i]}")
        axes[0, i].set(xlabel="", ylabel="")
        axes[1, i].imshow(
            np.squeeze(images[i]), cmap="gray" if images.shape[-1] == 1 else None, vmin=0, vmax=1
        )
        axes[1, i].set_axis_off()
    fig.suptitle("a clip and the image it is paired with")
    return fig


def _panels(n: int, width: float, height: float, max_cols: int = 4) -> tuple[Figure, np.ndarray]:
    """A figure with ``n`` panels of ``width`` x ``height`` inches, at most ``max_cols`` a row;
    the flat array of its axes, unused ones hidden."""
    n_cols = min(n, max_cols)
    n_rows = -(-n // n_cols)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(width * n_cols, height * n_rows), constrained_layout=True
    )
    axes = np.atleast_1d(axes).ravel()
    for ax in axes[n:]:
        ax.set_axis_off()
    return fig, axes


def collages_figure(collages: dict[str, np.ndarray], scores: dict[str, str] | None = None) -> Figure:
    """One panel per model: its digit collage (one row per spoken digit, 0 at the top), titled
    with the model's name and an optional score line (``05_paired_generation.ipynb``)."""
    fig, axes = _panels(len(collages), 3.3, 3.9)
    for ax, (name, grid) in zip(axes, collages.items(), strict=False):
        ax.imshow(np.squeeze(grid), cmap="gray" if grid.shape[-1] == 1 else None, vmin=0, vmax=1)
        ax.set_title(name + (f"\n{scores[name]}" if scores and name in scores else ""), fontsize=9)
        ax.set_axis_off()
    fig.suptitle("images for held-out voices: one row per spoken digit (0 at the top)")
    return fig


def loss_panels_figure(histories: dict[str, dict[str, list[float]]]) -> Figure:
    """One panel per model with each of its logged losses against the epoch
    (``05_paired_generation.ipynb``)."""
    fig, axes = _panels(len(histories), 3.6, 2.8)
    for ax, (name, history) in zip(axes, histories.items(), strict=False):
        for key, values in history.items():
            if key != "epoch":
                ax.plot(np.arange(1, len(values) + 1), values, label=key)
        ax.set(title=name, xlabel="epoch")
        ax.legend(fontsize=7)
    return fig


def codebook_usage_figure(tokens: dict[str, np.ndarray], codes: dict[str, int]) -> Figure:
    """One panel per codebook: how often each code is used, most used first, with the perplexity
    (``06_token_transformer.ipynb``). A dead codebook shows as a few tall bars and a long flat tail."""
    from helpers.metrics import codebook_perplexity

    fig, axes = _panels(len(tokens), 4.2, 2.8)
    for ax, (name, ids) in zip(axes, tokens.items(), strict=False):
        share = np.bincount(np.asarray(ids).ravel(), minlength=codes[name]) / np.asarray(ids).size
        ax.bar(np.arange(codes[name]), np.sort(share)[::-1], width=1.0)
        perplexity = codebook_perplexity(ids, codes[name])
        used = f"{np.count_nonzero(share)} of {codes[name]} codes used"
        ax.set(title=f"{name}: {used}, perplexity {perplexity:.1f}", xlabel="code, by rank", ylabel="share")
        ax.title.set_fontsize(9)
    return fig


def fidelity_ladder_figure(
    rungs: dict[str, float | None], references: dict[str, float] | None = None
) -> Figure:
    """Median spectral convergence (dB, lower is better) of each stage the sound passes, best
    first, with dashed reference lines (``07_evaluation.ipynb``)."""
    names = [name for name, value in rungs.items() if value is not None]
    values = [rungs[name] for name in names]
    fig, ax = plt.subplots(figsize=(7.5, 3.4), constrained_layout=True)
    bars = ax.barh(names, values, color=plt.cm.viridis(np.linspace(0.15, 0.85, len(names))))
    ax.bar_label(bars, labels=[f"{v:.1f} dB" for v in values], padding=3, fontsize=8)
    for i, (name, value) in enumerate((references or {}).items()):
        ax.axvline(
            value,
            color="k",
            linestyle=("--", ":", "-.")[i % 3],
            linewidth=1,
            label=f"{name} ({value:.1f} dB)",
        )
    ax.invert_yaxis()
    ax.set(xlabel="spectral convergence, median over held-out clips (dB; further left is better)")
    ax.set_xlim(min(values) * 1.15, 0)
    if references:
        ax.legend(fontsize=8, loc="lower left")
    ax.set_title("what each stage costs the sound")
    return fig


def recovery_time_figure(points: dict[str, tuple[float, float]]) -> Figure:
    """Projection methods as points: milliseconds per image (log scale) against the share of
    latents recovered (``07_evaluation.ipynb``)."""
    fig, ax = plt.subplots(figsize=(6, 3.6), constrained_layout=True)
    for name, (milliseconds, recovered) in points.items():
        ax.scatter(milliseconds, 100 * recovered, s=60, label=name)  # a legend: close points overlap
    ax.set_xscale("log")
    times = [milliseconds for milliseconds, _ in points.values()]
    ax.set_xlim(min(times) / 3, max(times) * 3)
    ax.set(
        xlabel="milliseconds per image (batched, log scale)",
        ylabel="recovered, cos ≥ 0.99 (%)",
        ylim=(-5, 110),
    )
    ax.legend(fontsize=8, loc="center right")
    ax.set_title("projection: how much comes back, and how fast")
    return fig


def method_comparison_figure(rows: list[dict], chance: float = 0.1) -> Figure:
    """Left: digit accuracy of every method in each direction (``helpers.results.method_rows``);
    right: its training seconds. Directions a method does not offer are left empty
    (``07_evaluation.ipynb``)."""
    names = [f"{row['method']} ({row['notebook']})" for row in rows]
    y = np.arange(len(rows))
    fig, (left, right) = plt.subplots(
        1,
        2,
        figsize=(11, 0.5 * len(rows) + 1.6),
        constrained_layout=True,
        gridspec_kw={"width_ratios": [3, 1.3]},
    )
    directions = [
        ("audio_to_image", "audio → image (digit read)", "tab:blue"),
        ("image_to_audio", "image → audio (digit heard)", "tab:orange"),
        ("there_and_back", "audio → image → audio (digit heard)", "tab:green"),
    ]
    height = 0.8 / len(directions)
    for k, (key, label, color) in enumerate(directions):
        values = [np.nan if row[key] is None else 100 * row[key] for row in rows]
        left.barh(y + (k - 1) * height, values, height, label=label, color=color)
    left.axvline(100 * chance, color="k", linestyle="--", linewidth=1, label="chance")
    left.set(yticks=y, yticklabels=names, xlim=(0, 100), xlabel="held-out digits recognised (%)")
    left.invert_yaxis()
    left.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False)
    seconds = [np.nan if row["train_seconds"] is None else row["train_seconds"] for row in rows]
    right.barh(y, seconds, color="tab:gray")
    right.set(yticks=y, yticklabels=[], xlabel="training seconds")
    right.invert_yaxis()
    fig.suptitle("every method on the same held-out voices and images")
    return fig


def frequency_energy_figure(maps: dict[str, np.ndarray], corner: int) -> Figure:
    """Heatmaps of energy per 8 x 8 block frequency (``block_dct.frequency_energy``), log scale
    (five decades) shared by all, with the ``corner x corner`` lowest frequencies (the code's) outlined
    (``04_round_trip.ipynb``)."""
    high = np.log10(max(float(np.max(m)) for m in maps.values()))
    low = high - 5.0  # five decades: below that, float rounding, not signal
    fig, axes = plt.subplots(
        1, len(maps), figsize=(3.4 * len(maps), 3.2), constrained_layout=True, squeeze=False
    )
    for ax, (name, energy) in zip(axes[0], maps.items(), strict=True):
        shown = ax.imshow(np.log10(np.maximum(energy, 10.0**low)), cmap="magma", vmin=low, vmax=high)
        ax.add_patch(plt.Rectangle((-0.5, -0.5), corner, corner, fill=False, edgecolor="cyan", linewidth=2))
        ax.set(title=name, xlabel="column frequency", ylabel="row frequency")
    fig.colorbar(shown, ax=axes[0, -1], label="log10 energy")
    return fig
