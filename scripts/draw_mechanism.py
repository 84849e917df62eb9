"""Draw the core pipeline diagram to assets/mechanism.png.

python scripts/draw_mechanism.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

OUT = Path(__file__).resolve().parent.parent / "assets" / "mechanism.png"
AUDIO, LATENT, IMAGE = "#dbeafe", "#fef3c7", "#dcfce7"

# (x, y, label, colour); the top row goes audio -> image, the bottom row comes back.
BOXES = {
    "wav": (0.0, 1.0, "audio clip\n8 kHz, ~1 s", AUDIO),
    "spec": (2.0, 1.0, "dB spectrogram\n128 x 128, normalised", AUDIO),
    "enc": (4.0, 1.0, "audio encoder\n(VAE)", AUDIO),
    "z": (6.0, 1.0, "latent z\n≈ N(0, I)", LATENT),
    "gen": (8.0, 1.0, "GAN generator G", IMAGE),
    "img": (10.0, 1.0, "image\nPNG / JPEG", IMAGE),
    "proj": (10.0, -1.0, "projection: inversion\nencoder + refinement", IMAGE),
    "zhat": (6.0, -1.0, "recovered ẑ", LATENT),
    "dec": (4.0, -1.0, "audio decoder\n(VAE)", AUDIO),
    "spec2": (2.0, -1.0, "spectrogram\nde-normalised", AUDIO),
    "wav2": (0.0, -1.0, "waveform\nGriffin-Lim", AUDIO),
}
ARROWS = [
    ("wav", "spec"),
    ("spec", "enc"),
    ("enc", "z"),
    ("z", "gen"),
    ("gen", "img"),
    ("img", "proj"),
    ("proj", "zhat"),
    ("zhat", "dec"),
    ("dec", "spec2"),
    ("spec2", "wav2"),
]


def main() -> None:
    fig, ax = plt.subplots(figsize=(13, 3.6))
    width, height = 1.8, 0.9
    for x, y, label, colour in BOXES.values():
        box = FancyBboxPatch(
            (x - width / 2, y - height / 2), width, height,
            boxstyle="round,pad=0.05", facecolor=colour, edgecolor="#334155",
        )  # fmt: skip
        ax.add_patch(box)
        ax.text(x, y, label, ha="center", va="center", fontsize=8.5)
    for start, end in ARROWS:
        (x0, y0), (x1, y1) = BOXES[start][:2], BOXES[end][:2]
        if y0 == y1:
            sign = 1 if x1 > x0 else -1
            p0, p1 = (x0 + sign * width / 2, y0), (x1 - sign * width / 2, y1)
        else:
            p0, p1 = (x0, y0 - height / 2), (x1, y1 + height / 2)
        ax.annotate("", xy=p1, xytext=p0, arrowprops={"arrowstyle": "-|>", "color": "#334155"})
    ax.text(5.0, 1.75, "audio → image", ha="center", fontsize=11, weight="bold")
    ax.text(5.0, -1.8, "image → audio", ha="center", fontsize=11, weight="bold")
    ax.set_xlim(-1.1, 11.1)
    ax.set_ylim(-2.1, 2.0)
    ax.set_axis_off()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=120, bbox_inches="tight")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
