"""The window's pure-NumPy drawing helpers: envelopes, scope trigger, spectrum levels (no Qt)."""

import numpy as np

from rt_samplernn.gui.analysis import (
    Spectrum,
    envelope,
    log_bins,
    peak_dbfs,
    trigger_offset,
)


def test_envelope_columns_hold_min_and_max():
    x = np.zeros(1000, np.float32)
    x[10], x[990] = 0.5, -0.25
    mins, maxs = envelope(x, 10)
    assert mins.shape == maxs.shape == (10,)
    assert maxs[0] == 0.5 and mins[-1] == -0.25
    assert np.all(mins <= maxs)


def test_envelope_of_short_stereo_and_empty_clips():
    stereo = np.stack([np.ones(3), -np.ones(3)], axis=1).astype(np.float32)  # averages to silence
    mins, maxs = envelope(stereo, 8)
    assert mins.shape == (8,) and np.allclose(mins, 0) and np.allclose(maxs, 0)
    mins, maxs = envelope(np.zeros(0, np.float32), 4)
    assert mins.shape == (4,) and not maxs.any()


def test_trigger_finds_a_rising_zero_crossing():
    t = np.arange(4000)
    x = np.sin(2 * np.pi * t / 100 + 1.0).astype(np.float32)
    i = trigger_offset(x, 512)
    assert 0 < i < 100 and x[i - 1] <= 0 < x[i]
    assert trigger_offset(np.ones(100, np.float32), 50) == 0


def test_spectrum_of_a_full_scale_sine_peaks_at_its_frequency_near_0_dbfs():
    rate = 16000
    spec = Spectrum(1024, rate)
    x = np.sin(2 * np.pi * 1000 * np.arange(4096) / rate).astype(np.float32)
    db = spec(x)
    assert abs(spec.freqs[int(np.argmax(db))] - 1000) < rate / 1024
    assert -1.0 < db.max() < 0.5
    assert spec(np.zeros(10, np.float32)).max() == spec.floor_db
    centers, bands = log_bins(spec.freqs, db, 32)
    assert centers.shape == bands.shape == (32,) and abs(centers[int(np.argmax(bands))] - 1000) < 200


def test_peak_dbfs():
    assert peak_dbfs(np.zeros(8)) == -120.0
    assert abs(peak_dbfs(np.array([0.5, -1.0]))) < 1e-9


def test_output_tap_keeps_the_newest_frames_and_records(tmp_path):
    from rt_samplernn.gui.tap import OutputTap

    tap = OutputTap(keep=100)
    tap.open(16000, 2)
    ramp = np.arange(250, dtype=np.float32)
    for start in range(0, 250, 30):  # blocks that wrap the ring several times; the window polls in between
        block = ramp[start : start + 30]
        tap.write(np.stack([block, -block], axis=1))  # L and -R: the mono mix is silence
        tap.snapshot(10)
    assert np.array_equal(tap.snapshot(40), np.zeros(40, np.float32))
    for start in range(0, 250, 30):
        block = ramp[start : start + 30]
        tap.write(np.stack([block, block], axis=1))
        if start % 60 == 0:
            tap.snapshot(10)
    assert np.array_equal(tap.snapshot(40), ramp[-40:])
    tap.write(np.stack([ramp, ramp], axis=1))  # one block longer than the ring
    assert np.array_equal(tap.snapshot(100), ramp[-100:])
    assert not tap.recording
    tap.start_recording(tmp_path / "t.wav", 16000, 2)
    tap.write(np.zeros((1600, 2), np.float32))
    path, seconds = tap.stop_recording()
    assert path == tmp_path / "t.wav" and seconds == 0.1 and not tap.recording
    import soundfile

    assert soundfile.info(str(path)).frames == 1600
