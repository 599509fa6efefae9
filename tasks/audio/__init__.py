"""Audio derivatives: fragments, Chromaprint fingerprints, waveform peaks, clip matching.

Every function here works on files and returns small frozen dataclasses; none
opens a database session. ``derive.derive_audio`` is the one coarse entry a
flow wraps as a task; ``matching.match_clip`` finds a clip's asset and offset
through a ``matching.FingerprintIndex`` the caller provides.
"""
