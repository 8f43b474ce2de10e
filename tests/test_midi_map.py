"""MIDI without ports: the byte parser (running status, sysex, real-time bytes, junk), the map (CC, 14-bit,
notes, pads, channel filter), MIDI learn, and map files (TOML and JSON round trips, clear errors)."""

from __future__ import annotations

import json
import random

import pytest

from rt_samplernn.commands.midi_options import add_midi_arguments
from rt_samplernn.errors import UserError
from rt_samplernn.live.midi import (
    Mapping,
    MidiController,
    MidiMap,
    MidiParser,
    default_map,
    default_map_path,
    find_port,
    load_map,
    map_to_dict,
    save_map,
)
from rt_samplernn.live.midi.mapfile import dumps_toml
from rt_samplernn.live.params import FloatSpec, Parameters


def parse(*messages):
    p = MidiParser()
    out = []
    for m in messages:
        out += list(p.feed(m))
    return out


def controller(voices=1, midi_map=None, tmp_path=None, **kw):
    params = Parameters(voices=voices, temperature=FloatSpec(0.5, 1.5, 1.0, smoothing_ms=0), **kw)
    return MidiController(
        params,
        midi_map or default_map(voices),
        map_path=(tmp_path / "map.toml") if tmp_path else "/nonexistent/map.toml",
    )


# -- parser ---------------------------------------------------------------------------------------------


def test_parser_complete_messages():
    assert parse([0xB0, 1, 64], [0x91, 36, 100], [0xC2, 5]) == [(0xB0, 1, 64), (0x91, 36, 100), (0xC2, 5, 0)]


def test_parser_running_status_within_and_across_messages():
    assert parse([0xB3, 1, 10, 1, 20], [1, 30]) == [(0xB3, 1, 10), (0xB3, 1, 20), (0xB3, 1, 30)]


def test_parser_skips_sysex_common_and_realtime():
    got = parse(
        [0xB0, 7, 1],
        [0xF0, 0x7E, 0x7F, 0x06, 0x01],
        [0x10, 0x20, 0xF7],  # sysex, split
        [7, 99],  # sysex cancelled running status: stray data
        [0xF8],
        [0xFE],
        [0xFA],
        [0xFF],  # clock, active sensing, start, reset
        [0xB0, 0xF8, 7, 0xF8, 2],  # clock in the middle of a message
        [0xF2, 0x10, 0x20],
        [0x10],  # song position cancels running status
        [0xF4],
        [0xF5, 1],
        [0xFD],  # undefined status bytes
        [0x90, 60],
        [0x80, 60, 0],
    )  # a truncated note-on dropped by the next status
    assert got == [(0xB0, 7, 1), (0xB0, 7, 2), (0x80, 60, 0)]


def test_parser_ignores_values_out_of_range_and_not_ints():
    assert parse([0xB0, 1, 300, -4, 2.5, None, "x", True, 5]) == [(0xB0, 1, 5)]


def test_parser_survives_random_junk_and_recovers():
    rng = random.Random(1234)
    p = MidiParser()
    for _ in range(3000):
        list(p.feed([rng.randrange(-50, 400) for _ in range(rng.randrange(0, 8))]))
    assert list(p.feed([0xF7])) == [] and list(p.feed([0xB5, 9, 9])) == [(0xB5, 9, 9)]


# -- mapping ------------------------------------------------------------------------------------------


def test_default_map_drives_temperature_gain_voices_and_buttons():
    c = controller(voices=2)
    p = c.params
    c.feed([0xB0, 1, 127])
    assert p["temperature"].target == 1.5 and p["temperature.2"].target == 1.5
    c.feed([0xB4, 22, 0])  # CC 22 = voice 2, any channel
    assert p["temperature.2"].target == 0.5 and p["temperature.1"].target == 1.5
    c.feed([0xB0, 7, 0])
    assert p["gain"].target == 0.0
    v = p["reset"].version
    c.feed([0xB0, 103, 127])  # press
    c.feed([0xB0, 103, 127])  # held (no new edge)
    c.feed([0xB0, 103, 0])  # release
    assert p["reset"].version != v
    v2 = p["reset"].version
    c.feed([0xB0, 103, 100])
    assert p["reset"].version != v2  # the next press fires again
    c.feed([0xB0, 104, 0])
    assert p["watchdog"].target is False
    c.feed([0xB0, 104, 127])
    assert p["watchdog"].target is True


def test_pads_select_a_slot_and_prime():
    c = controller()
    p = c.params
    v = p["prime"].version
    c.feed([0x99, 38, 100])  # note 38 on channel 10: pad 2
    assert p["slot"].target == 2 and p["prime"].version != v
    v = p["prime"].version
    c.feed([0x99, 38, 0])  # note-on velocity 0 is a note-off
    c.feed([0x89, 38, 64])
    c.feed([0x90, 36 + len(p.slots), 100])  # beyond the last pad
    assert p["prime"].version == v and p["slot"].target == 2


def test_channel_filter_hears_only_its_channel():
    c = controller(midi_map=MidiMap(default_map().mappings, channel=2))
    c.feed([0xB0, 1, 0])
    c.feed([0xB1, 1, 0])
    assert c.params["temperature"].target == 1.0 and c.ignored == 2
    c.feed([0xB2, 1, 0])
    assert c.params["temperature"].target == 0.5
    c.set_channel(None)
    c.feed([0xB0, 1, 127])
    assert c.params["temperature"].target == 1.5


def test_mapping_channel_restricts_one_mapping():
    c = controller(midi_map=MidiMap((Mapping("gain", "cc", 10, channel=3),)))
    c.feed([0xB0, 10, 0])
    assert c.params["gain"].target == 1.0
    c.feed([0xB3, 10, 0])
    assert c.params["gain"].target == 0.0


def test_fourteen_bit_cc_pairs_msb_and_lsb():
    spec = FloatSpec(0.0, 16383.0, 0.0, smoothing_ms=0)
    c = controller(midi_map=MidiMap((Mapping("temperature", "cc", 3, fourteen_bit=True),)))
    c.params.temperature.spec = spec
    t = c.params["temperature"]
    c.feed([0xB0, 3, 0x40])  # MSB alone: LSB taken as 0
    assert t.target == pytest.approx(0x40 << 7)
    c.feed([0xB0, 35, 0x05])  # LSB
    assert t.target == pytest.approx((0x40 << 7) | 5)
    c.feed([0xB0, 3, 0x7F, 35, 0x7F])  # both, with running status
    assert t.target == pytest.approx(16383)
    c.feed([0xB1, 35, 0])  # LSB on another channel pairs with that channel's MSB (0)
    assert t.target == pytest.approx(0)


def test_a_flood_in_one_batch_writes_each_parameter_once_with_the_latest_value():
    c = controller()
    t = c.params["temperature"]
    v = t.version
    for i in range(10_000):
        c._receive([0xB0, 1, i % 128])
    assert t.version == v  # nothing written until the batch is flushed
    c._flush()
    assert t.version == v + 1 or t.version > v  # one write
    assert t.target == pytest.approx(0.5 + (9_999 % 128) / 127)
    assert c.messages == 10_000


def test_a_master_knob_after_a_voice_knob_in_one_batch_still_sets_that_voice():
    """The batch applies each parameter's latest value in the order the latest values came."""
    c = controller(voices=2)
    voice2 = c.params["temperature.2"]
    c._receive([0xB0, 1, 64])  # the master first ...
    c._receive([0xB0, 22, 10])  # ... then voice 2's knob ...
    c._receive([0xB0, 1, 0])  # ... then the master to the bottom: the voices follow it
    c._flush()
    assert voice2.target == pytest.approx(0.5) and c.params["temperature"].target == pytest.approx(0.5)


def test_odd_messages_never_raise():
    c = controller()
    odd = [
        [],
        [0xF0],
        [0xF7],
        [0xF8] * 40,
        [0xB0],
        [0xB0, 1],
        [1, 2, 3],
        [0xE0, 0, 64],
        [0xA0, 1, 2],
        [0xD0, 5],
        [0xC0, 9],
        [0xB0, 1, 999],
        [0x90, 200, 1],
        [0xFF, 0xFF],
        list(range(256)),
    ]
    for m in odd * 10:
        c.feed(m)
    assert c.errors == 0
    c.feed([0xB0, 1, 0])
    assert c.params["temperature"].target == 0.5


def test_the_default_map_binds_every_declared_default_and_voices_from_one():
    from rt_samplernn.live.params import PARAMETERS

    m = {(x.param, x.kind, x.number) for x in default_map(3).mappings}
    for d in PARAMETERS:
        if d.midi is not None:
            assert (d.name, *d.midi) in m
    assert {("temperature.1", "cc", 21), ("temperature.2", "cc", 22), ("temperature.3", "cc", 23)} <= m
    assert not any(x.param == "temperature.0" for x in default_map(3).mappings)
    assert not any("." in x.param for x in default_map(1).mappings)


def test_a_version_1_map_names_voices_from_0_and_is_read_from_1(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text(
        'version = 1\n[[mapping]]\nparam = "temperature.0"\ncc = 30\n'
        '[[mapping]]\nparam = "temperature.3"\ncc = 33\n[[mapping]]\nparam = "gain"\ncc = 7\n'
        "[params.temperature]\nminimum = 0.1\nmaximum = 2.0\n"
    )
    m = load_map(path)
    assert [(x.param, x.number) for x in m.mappings] == [("temperature.1", 30), ("temperature.4", 33), ("gain", 7)]
    assert m.specs["temperature"].minimum == 0.1
    c = controller(voices=2, midi_map=m)
    c.feed([0xB0, 30, 0])
    assert c.params["temperature.1"].target == 0.1 and c.params["temperature.2"].target == 1.0
    resaved = save_map(c.midi_map, tmp_path / "new.toml").read_text()
    assert "version = 2" in resaved and 'param = "temperature.1"\ncc = 30' in resaved


def test_the_temperature_range_is_settable_in_the_map_file(tmp_path):
    path = tmp_path / "range.toml"
    path.write_text(
        '[params.temperature]\nminimum = 0.01\nmaximum = 1.2\ndefault = 0.8\n[[mapping]]\nparam = "temperature"\ncc = 1\n'
    )
    params = Parameters(voices=2)
    c = MidiController(params, load_map(path), map_path=tmp_path / "x.toml")
    c.feed([0xB0, 1, 0])
    assert params["temperature"].target == 0.01 and params["temperature.2"].target == 0.01
    (tmp_path / "zero.toml").write_text("[params.temperature]\nminimum = 0.0\nmaximum = 1.2\n")
    with pytest.raises(UserError, match="temperature range 0..1.2: the minimum must be > 0"):
        MidiController(Parameters(), load_map(tmp_path / "zero.toml"), map_path=tmp_path / "x.toml")


# -- learn ----------------------------------------------------------------------------------------------


def test_learn_binds_the_next_cc_and_replaces_the_old_binding():
    c = controller()
    p = c.params
    lv = c.learn_version
    c.arm_learn("temperature")
    assert c.learning == "temperature" and c.learn_version != lv
    c.feed([0xF8])  # clock does not bind
    c.feed([0xE0, 0, 64])  # pitch bend does not bind
    assert c.learning == "temperature"
    c.feed([0xB2, 74, 0])
    assert c.learning is None and c.last_bound == Mapping("temperature", "cc", 74, 2)
    assert c.last_bound.describe() == "CC 74 ch 3"
    assert p["temperature"].target == 1.0  # the learning message itself changes nothing
    assert [m for m in c.mappings if m.param == "temperature"] == [Mapping("temperature", "cc", 74, 2)]  # CC 1 is gone
    c.feed([0xB2, 74, 127])
    assert p["temperature"].target == 1.5
    c.feed([0xB0, 1, 0])  # the old control does nothing now
    assert p["temperature"].target == 1.5


def test_learn_takes_a_control_away_from_its_old_parameter():
    c = controller()
    c.arm_learn("temperature")
    c.feed([0xB0, 7, 10])  # CC 7 was gain's
    assert [m for m in c.mappings if m.param == "gain"] == []
    c.feed([0xB0, 7, 0])
    assert c.params["temperature"].target == 0.5 and c.params["gain"].target == 1.0


def test_learn_a_note_for_a_trigger_and_pads_for_slot_and_cancel():
    c = controller()
    c.arm_learn("reset")
    c.feed([0x90, 60, 90])
    assert c.last_bound == Mapping("reset", "note", 60, 0)
    v = c.params["reset"].version
    c.feed([0x90, 60, 90])
    assert c.params["reset"].version != v
    c.arm_learn("slot")
    c.feed([0x90, 48, 90])
    assert [m for m in c.mappings if m.param == "slot"] == [Mapping("slot", "pads", 48, 0)]
    c.feed([0x90, 50, 90])
    assert c.params["slot"].target == 2
    c.arm_learn("gain", fourteen_bit=True)
    c.cancel_learn()
    c.feed([0xB0, 20, 1])
    assert c.learning is None and [m for m in c.mappings if m.param == "gain"] == [Mapping("gain", "cc", 7)]
    c.arm_learn("gain", fourteen_bit=True)
    c.feed([0xB0, 20, 1])
    assert c.last_bound == Mapping("gain", "cc", 20, 0, fourteen_bit=True)
    with pytest.raises(UserError, match="parameters:"):
        c.arm_learn("volume")


# -- files ----------------------------------------------------------------------------------------------


def full_map():
    return MidiMap(
        mappings=(
            Mapping("temperature", "cc", 1),
            Mapping("temperature.1", "cc", 22, channel=15),
            Mapping("gain", "cc", 7, channel=0, fourteen_bit=True),
            Mapping("reset", "note", 60, 9),
            Mapping("slot", "pads", 36),
        ),
        channel=4,
        specs={
            "temperature": FloatSpec(0.25, 4.0, 1.0, curve="log", power=1.5, smoothing_ms=12.5),
            "gain": FloatSpec(0.0, 2.0, 1.0, power=2.0, smoothing_ms=0.0),
        },
        slots=("pads/kick.wav", '/abs/voice "1".flac'),
    )


@pytest.mark.parametrize("name", ["map.toml", "map.json"])
def test_a_saved_map_loads_back_identical(tmp_path, name):
    m = full_map()
    path = save_map(m, tmp_path / "sub" / name)
    assert load_map(path) == m
    text = path.read_text()
    assert "temperature.1" in text and ("\nchannel = 5\n" in text or '"channel": 5,' in text)


def test_toml_is_readable_and_uses_one_based_channels():
    text = dumps_toml(map_to_dict(full_map()))
    assert text.startswith("# rt-samplernn MIDI map")
    assert "[params.temperature]\nminimum = 0.25\nmaximum = 4.0" in text
    assert '[[mapping]]\nparam = "temperature.1"\ncc = 22\nchannel = 16' in text
    assert "fourteen_bit = true" in text


def test_controller_saves_to_the_config_folder_and_loads_back(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert default_map_path() == tmp_path / "cfg" / "rt-samplernn" / "midi-map.toml"
    params = Parameters(voices=2)
    c = MidiController(params)  # nothing saved yet: the default map
    assert c.mappings == list(default_map(2).mappings)
    c.arm_learn("gain")
    c.feed([0xB0, 70, 1])
    params.set_specs({"temperature": FloatSpec(0.6, 1.4, 1.0, smoothing_ms=5.0)})
    path = c.save_map()
    assert path == default_map_path() and path.exists()
    params2 = Parameters(voices=2)
    c2 = MidiController(params2)  # the saved map is the starting map now
    assert c2.midi_map == c.midi_map
    assert params2["temperature.1"].spec.minimum == 0.6


@pytest.mark.parametrize(
    "text,word",
    [
        ("version = 3", "version 3 not supported; supported: 1, 2"),
        ('[[mapping]]\nparam = "gain"\ncc = 300', "must be an integer 0..127"),
        ('[[mapping]]\nparam = "gain"\ncc = 3\nnote = 4', "exactly one of cc / note / pads"),
        ('[[mapping]]\nparam = "gain"\ncc = 3\nchannel = 17', "must be 1..16"),
        ("channel = 0", "must be 1..16"),
        ('[[mapping]]\nparam = "gain"\ncc = 40\nfourteen_bit = true', "14-bit needs a CC 0..31"),
        ("[params.temperature]\nminimum = 2.0\nmaximum = 1.0", "minimum must be below maximum"),
        ('[params.temperature]\ncurve = "exp"\nminimum = 0.5\nmaximum = 1.0', "curves: linear, log"),
        ('colour = "red"', "unknown key"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_bad_map_files_name_the_problem(tmp_path, text, word):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UserError, match=word) as e:
        load_map(path)
    assert "bad.toml" in str(e.value)


def test_unknown_parameter_in_a_map_is_an_error_but_extra_voices_are_kept(tmp_path):
    with pytest.raises(UserError, match="'volume' unknown; parameters: temperature"):
        controller(midi_map=MidiMap((Mapping("volume", "cc", 3),)))
    with pytest.raises(
        UserError,
        match=r"\[params.temprature\]: no such continuous parameter; ranges exist for: "
        "temperature, min_p, gain",
    ):
        controller(midi_map=MidiMap(specs={"temprature": FloatSpec(0.5, 1.0, 0.5)}))
    c = controller(midi_map=MidiMap((Mapping("temperature.5", "cc", 3),)))
    c.feed([0xB0, 3, 0])  # a voice this engine does not have: ignored
    assert c.mappings == [Mapping("temperature.5", "cc", 3)]
    with pytest.raises(UserError, match="no such MIDI map file"):
        load_map(tmp_path / "none.toml")
    (tmp_path / "m.json").write_text("{")
    with pytest.raises(UserError, match="not valid JSON"):
        load_map(tmp_path / "m.json")
    assert json.loads(json.dumps(map_to_dict(full_map())))["channel"] == 5


# -- ports and CLI ----------------------------------------------------------------------------------------


def test_find_port_by_index_exact_name_and_substring():
    ports = ["system:midi_capture_1", "a2j:Launchkey MK3 MIDI 1", "a2j:Launchkey MK3 MIDI 2"]
    assert find_port(1, ports) == 1 and find_port("2", ports) == 2
    assert find_port("launchkey", ports) == 1
    assert find_port("a2j:Launchkey MK3 MIDI 2", ports) == 2
    with pytest.raises(UserError, match="'nanokontrol' not found; ports: 0: system:midi_capture_1; 1: a2j"):
        find_port("nanokontrol", ports)
    with pytest.raises(UserError, match="7: out of range"):
        find_port("7", ports)


def test_midi_arguments():
    import argparse

    parser = argparse.ArgumentParser()
    add_midi_arguments(parser)
    a = parser.parse_args([])
    assert a.midi is None and a.midi_map is None and a.seed_slot == [] and a.midi_api == "auto"
    a = parser.parse_args(
        [
            "--midi",
            "virtual",
            "--midi-map",
            "x.toml",
            "--midi-channel",
            "3",
            "--seed-slot",
            "a.wav",
            "--seed-slot",
            "b.wav",
        ]
    )
    assert (a.midi, a.midi_map, a.midi_channel, a.seed_slot) == ("virtual", "x.toml", 3, ["a.wav", "b.wav"])


def test_this_machines_python_rtmidi_has_jack():
    """MIDI goes through JACK on machines without an ALSA sequencer (like this one): the build must have it."""
    rtmidi = pytest.importorskip("rtmidi")
    assert rtmidi.API_UNIX_JACK in rtmidi.get_compiled_api(), rtmidi.get_compiled_api()


@pytest.mark.parametrize(
    "compiled,sequencer,env,want",
    [
        (("alsa", "jack"), False, None, "jack"),  # no /dev/snd/seq: JACK
        (("alsa", "jack"), True, None, "alsa"),  # the sequencer exists: ALSA
        (("alsa", "jack"), True, "jack", "jack"),  # $RT_SAMPLERNN_MIDI_API wins
        (("alsa",), False, None, None),  # nothing usable: a clear error
    ],
)
def test_api_choice_falls_back_to_jack_without_an_alsa_sequencer(monkeypatch, compiled, sequencer, env, want):
    rtmidi = pytest.importorskip("rtmidi")
    from rt_samplernn.live.midi import ports as midi

    ids = {"alsa": rtmidi.API_LINUX_ALSA, "jack": rtmidi.API_UNIX_JACK}
    monkeypatch.setattr(rtmidi, "get_compiled_api", lambda: [ids[name] for name in compiled])
    monkeypatch.setattr(midi.sys, "platform", "linux")
    monkeypatch.setattr(midi, "alsa_sequencer_present", lambda: sequencer)
    if env:
        monkeypatch.setenv("RT_SAMPLERNN_MIDI_API", env)
    else:
        monkeypatch.delenv("RT_SAMPLERNN_MIDI_API", raising=False)
    if want is None:
        with pytest.raises(UserError, match="no MIDI API"):
            midi.choose_api()
    else:
        assert midi.choose_api() == ids[want]
    assert midi.choose_api("alsa") == ids["alsa"]
    with pytest.raises(UserError, match="unknown; APIs: auto, alsa, jack, coremidi, winmm"):
        midi.choose_api("oss")


def test_the_saved_map_remembers_the_seed_slots_in_order(tmp_path, monkeypatch):
    import argparse

    import numpy as np
    import soundfile

    from tests.midi_helpers import start_from_args

    wav = tmp_path / "pad.wav"
    soundfile.write(str(wav), np.zeros(800, np.float32), 8000)
    c = controller(tmp_path=tmp_path)
    assert c.midi_map.slots == ()
    c.params.load_slot(2, wav)
    assert c.midi_map.slots == ("", "", str(wav))
    path = c.save_map()
    assert load_map(path).slots == ("", "", str(wav))

    from rt_samplernn.live.devices import NO_DEVICE
    from rt_samplernn.live.engine import Engine
    from rt_samplernn.live.player import Player
    from tests.stream_helpers import tiny_bundle

    engine = Engine(tiny_bundle(tmp_path / "tiny"), provider="cpu")
    player = Player(engine, device=NO_DEVICE)  # never started
    args = argparse.Namespace(midi="virtual", midi_map=str(path), midi_channel=4, midi_api="jack", seed_slot=[str(wav)])
    monkeypatch.setattr(MidiController, "open", lambda self, port, api=None: "no port: this test is about the map")
    ctl = start_from_args(args, engine, player)
    try:
        assert [s and s.path for s in ctl.params.slots[:4]] == [None, None, wav, wav]
        assert ctl.channel == 3 and player._block_hooks == (ctl.control.tick,)
    finally:
        ctl.close()
