"""The JACK fixture gives PortAudio a real, paced output device."""

import sounddevice


def test_jack_server_is_listed_by_portaudio(jack):
    names = [d["name"] for d in sounddevice.query_devices()]
    assert any(n == "system" for n in names), names
