"""The worker's resampler to the device rate: every block gives back its share at once, and the filter is clean."""

from __future__ import annotations

import numpy as np
import pytest

from rt_samplernn.live.resample import DeviceResampler

BLOCK = 256  # the worker's block, model frames


def blocks(resampler: DeviceResampler, audio: np.ndarray) -> list[np.ndarray]:
    return [resampler.process(audio[i : i + BLOCK]) for i in range(0, len(audio) - BLOCK + 1, BLOCK)]


@pytest.mark.parametrize("source_rate", [8000, 16000, 22050, 44100])
def test_every_block_gives_back_its_share_of_device_frames(source_rate):
    """No lumps: soxr gave nothing for four 8 kHz blocks, then 140 ms at once, and a 50 ms ring ran dry."""
    resampler = DeviceResampler(source_rate, 48000, 2)
    noise = np.random.default_rng(0).standard_normal((source_rate * 2, 2)).astype(np.float32) * 0.1
    out = blocks(resampler, noise)
    share = BLOCK * 48000 / source_rate
    lengths = np.array([len(o) for o in out[1:]])  # the first block also fills the filter's look-ahead
    assert lengths.min() >= share - 1 and lengths.max() <= share + 1, (share, lengths.min(), lengths.max())
    assert all(o.shape[1] == 2 and o.dtype == np.float32 for o in out)


def test_the_look_ahead_is_a_few_milliseconds_and_counted():
    resampler = DeviceResampler(8000, 48000, 1)
    out = blocks(resampler, np.zeros((8000, 1), np.float32))
    given = sum(len(o) for o in out)
    fed = len(out) * BLOCK
    assert resampler.delay_frames == pytest.approx(fed * 6 - given)
    assert 0 < resampler.delay_frames / 48000 < 0.02  # under 20 ms, where soxr held up to 150 ms


@pytest.mark.parametrize("tone_hz", [1000.0, 2000.0, 3000.0])
def test_images_of_an_8khz_tone_are_85_db_down(tone_hz):
    """Upsampling 8 -> 48 kHz mirrors a tone above 4 kHz unless the filter removes it; up to 3/4 of the model's
    Nyquist the mirror images stay 85 dB under the tone, and the tone keeps its level."""
    rate = 8000
    t = np.arange(rate * 3) / rate
    tone = (0.5 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)[:, None]
    out = np.concatenate(blocks(DeviceResampler(rate, 48000, 1), tone))[48000:, 0]  # past the start
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    freqs = np.fft.rfftfreq(len(out), 1 / 48000)
    level = spectrum[np.abs(freqs - tone_hz) < 20].max()
    images = spectrum[freqs > 4100].max()
    assert 20 * np.log10(images / level) < -85.0
    assert out.std() == pytest.approx(0.5 / np.sqrt(2), rel=0.02)


ON_ANOTHER_CPU = """
import argparse, json
import numpy as np
from rt_samplernn.commands.fx_options import build_rack
from rt_samplernn.live.resample import DeviceResampler

resampler = DeviceResampler(8000, 48000, 2)
lengths = [len(resampler.process(np.zeros((256, 2), np.float32))) for _ in range(40)]
notices = []
args = argparse.Namespace(fx=[], vst3=[], limiter="-1")
rack = build_rack(args, 8000, 1, notices.append)
print(json.dumps({"steady": resampler.steady, "given": sum(lengths), "rack": rack is not None, "notices": notices}))
"""


@pytest.mark.parametrize("cpu", ["Haswell", "Nehalem"])
def test_a_cpu_without_avx_resamples_with_soxr_and_plays_without_the_limiter_instead_of_crashing(cpu):
    """pedalboard's wheels need AVX: importing it on an SSE-only CPU (qemu -cpu Nehalem) kills the process with
    an illegal instruction. There the worker resamples with soxr's stream and the default limiter is left off
    with a notice; where AVX is (Haswell) both are pedalboard's."""
    from tests.cpu_paths import run_on

    seen = run_on(cpu, ON_ANOTHER_CPU)
    has_avx = cpu == "Haswell"
    assert seen["steady"] is has_avx and seen["rack"] is has_avx
    assert seen["given"] > 40 * 1536 * 0.85  # it resamples either way (soxr holds its last lump back)
    assert bool(seen["notices"]) is not has_avx
    assert all("needs a CPU with AVX" in n for n in seen["notices"])
