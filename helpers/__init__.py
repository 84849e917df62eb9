"""The code behind the notebooks: each notebook tells the story and imports what it runs from here.

Which modules each notebook teaches (``models/`` holds one file per model family):

* ``01_preprocess``: ``config`` (presets, environment variables, paths), ``datasets``
  (sources, downloads, speaker-disjoint splits), ``audio`` (clips, dB spectrograms,
  Griffin-Lim), ``features`` and ``streaming`` (the feature folders, in memory or streamed),
  ``metrics`` (spectral convergence, log-spectral distance, STOI), ``versions``.
* ``02_audio_autoencoder``: ``models/autoencoder`` (the spectrogram VAE and its whitening),
  ``models/listener`` (the spoken-digit classifier), ``autoencoder_eval``, ``training``
  (resumable fits), ``runtime`` (devices and global batches), ``artifacts`` (model bundles).
* ``03_gan_and_projection``: ``models/gan`` (the invertible DCGAN), ``models/semantic``
  (the digit head and the drawing reader), ``block_dct`` (the code that survives JPEG),
  ``projection`` (image -> ``z``), ``models/classifier`` (the judge), ``projection_eval``.
* ``04_round_trip``: ``round_trip`` (the bridge), ``round_trip_eval``, ``damage`` (JPEG,
  resizing, noise), ``images``, ``recording`` (your own voice), ``convert`` (the command line).
* ``05_paired_generation``: ``paired_data``, ``models/paired``, ``paired_eval``.
* ``06_token_transformer``: ``models/tokens``, ``tokens_pipeline``, ``tokens_eval``.
* ``07_evaluation``: ``results`` (the benchmarks' results file and its tables).

``plots`` draws every notebook's figures; ``errors`` holds the error types, each naming the
file and the fix.
"""
