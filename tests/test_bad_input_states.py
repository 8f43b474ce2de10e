"""Engine states and bookmark files checked like bundles (class 1 and 2 of issue 29), and the live load path's
errors in one line (class 3).

A mutation sweep over a real bookmark file and a real engine state file: every member in turn of another
dtype, another shape, with values out of range, NaN or inf, a header claiming 10^9 elements, or missing, and
every field of the JSON header set to what no engine wrote. Each case must end in a one-line UserError
naming the file (and the member, where one is at fault), or load and then restore-and-play correctly (levels
in range, finite audio). Every load is measured against a clean load of the same file: memory (tracemalloc's
peak) under 2x, and work (Python lines executed, counted by a trace function that stops a load past the
bound) no more than a clean load's (10% over for a slot of another bundle, read by the format's rules), so a
slot count of 10^9 or a 4 GB allocation fails the test instead of running for minutes. No timings.
"""

from __future__ import annotations

import io
import json
import sys
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy_format

from rt_samplernn.cli import main
from rt_samplernn.errors import UserError
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.snapshot import MAX_SLOTS, load_state, load_states, save_state, save_states
from tests.bundle_helpers import tiny_bundle

VOICES = 2
F0, F_TOP, Q = 4, 16, 256  # the bundle below: frame sizes (4, 16), 256 levels


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    """A tiny 2-tier LSTM bundle (two states per tier), its engine, a bookmarks file and a state file."""
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("states")
    _, bundle = tiny_bundle(root / "b", seed=3, frame_sizes=(F0, F_TOP), rnn_type="lstm")
    engine = Engine(bundle, voices=VOICES, seed=4)
    engine.set_temperature(0.7, voice=1)
    engine.generate(37)  # mid block (samples of it not yet returned) and mid noise chunk
    first = engine.snapshot()
    engine.generate(64 * F0)  # a whole noise chunk on
    second = engine.snapshot()
    marks, state = root / "marks.npz", root / "state.npz"
    save_states([None, first, second], marks, bundle_name="b")
    save_state(first, state, bundle_name="b")
    return engine, marks, state


def members(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {name: z[name] for name in z.files}


def write(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]  # numpy's stub takes ** for allow_pickle too
    return path


def claiming(path: Path, arrays: dict[str, np.ndarray], name: str, elements: int) -> Path:
    """The file with member `name`'s .npy header claiming `elements` elements; its bytes (and the zip
    directory's size for it) stay what they were."""
    with zipfile.ZipFile(path, "w") as out:
        for key, value in arrays.items():
            buf = io.BytesIO()
            np.save(buf, value)
            if key == name:
                head = io.BytesIO()
                npy_format.write_array_header_1_0(
                    head,
                    {"descr": npy_format.dtype_to_descr(value.dtype), "fortran_order": False, "shape": (elements,)},
                )
                data = head.getvalue() + value.tobytes()
            else:
                data = buf.getvalue()
            out.writestr(f"{key}.npy", data)
    return path


class TooMuchWork(BaseException):  # not an Exception: no reader's except clause may swallow it
    pass


@contextmanager
def bounded(lines: int | None) -> Iterator[dict[str, int]]:
    """Count the Python lines run inside (and stop past `lines`) and tracemalloc's peak; yields the figures."""
    figures = {"lines": 0, "peak": 0}

    def tracer(frame, event, arg):
        if event == "line":
            figures["lines"] += 1
            if lines is not None and figures["lines"] > lines:
                raise TooMuchWork(f"more than {lines} lines")
        return tracer

    tracemalloc.start()
    sys.settrace(tracer)
    try:
        yield figures
    finally:
        sys.settrace(None)
        figures["peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def plays(engine: Engine, state) -> None:
    """Restore `state` and generate: levels inside the quantizer, finite audio."""
    engine.restore(state, where="the loaded state")
    levels = engine.generate_levels(3 * F_TOP + 5)
    assert levels.min() >= 0 and levels.max() < Q
    assert np.isfinite(engine.generate(50)).all()


def outcome(engine: Engine, path: Path, load: Callable[[Path], list], clean: dict[str, int]) -> str:
    """'refused: MESSAGE' (a one-line UserError naming the file, at load or restore) or 'played'."""
    refused = None
    with bounded(clean["lines"] * 11 // 10) as used:
        try:
            states = load(path)
        except UserError as e:
            states, refused = [], str(e)
    assert used["peak"] < 2 * clean["peak"], f"{path.name}: {used['peak']} bytes at peak, a clean load {clean['peak']}"
    if refused is not None:
        assert "\n" not in refused and refused.startswith(f"{path}"), refused
        return f"refused: {refused}"
    for state in states:
        if state is None:
            continue
        try:
            plays(engine, state)
        except UserError as e:
            assert "\n" not in str(e), str(e)
            return f"refused: {e}"
    return "played"


KINDS = {
    "bookmarks": (lambda spec: lambda p: load_states(p, spec), "1/"),
    "state": (lambda spec: lambda p: [load_state(p, spec)[0]], ""),
}


def _setup(rig, kind):
    engine, marks, state = rig
    make, prefix = KINDS[kind]
    load = make(engine.state_spec())
    path = marks if kind == "bookmarks" else state
    with bounded(None) as clean:
        assert all(s is None or s.voices == VOICES for s in load(path))
    return engine, path, load, prefix, clean


def array_mutations(name: str, value: np.ndarray) -> Iterator[tuple[str, np.ndarray | None, bool]]:
    """(what, the mutated member or None to drop it, whether it must be refused)."""
    yield "text", np.full(value.shape, "x"), True
    yield "another dtype", value.astype(np.float64 if value.dtype != np.float64 else np.float32), True
    yield "another shape", np.concatenate([value.reshape(-1), value.reshape(-1)[:1]]), True
    yield "one axis more", value[None], True
    yield "missing", None, not name.endswith("meta")  # a slot without its header is an empty slot
    if value.dtype.kind == "f":
        for bad in (np.nan, np.inf, -np.inf):
            out = value.copy()
            out.reshape(-1)[-1] = bad
            yield f"{bad}", out, True
    if name.endswith(("levels", "spare")):
        for bad in (-1, Q, 2**40):
            out = value.copy()
            out[:, -1] = bad  # the spare's last column is always a sample not yet returned in this rig
            yield f"level {bad}", out, True
    knob_limits = {"temperature": (0.0, -1.0, 1e-4), "min_p": (-0.1, 1.5), "gain": (-1.0,)}
    for knob, bad_values in knob_limits.items():
        if name.endswith(f"knob.{knob}"):
            for bad in bad_values:
                yield f"{knob} {bad}", np.full_like(value, bad), True
    if name.split("/")[-1].startswith(("state.", "cond.")):
        yield "huge but finite", np.full_like(value, 1e30), False


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_array_member_mutated_is_refused_naming_it_or_plays(rig, kind, tmp_path):
    engine, path, load, prefix, clean = _setup(rig, kind)
    arrays = members(path)
    results = {}
    for name, value in arrays.items():
        if name == "slots" or name.endswith("meta"):
            continue
        for what, mutated, must_refuse in array_mutations(name, value):
            changed = {k: v for k, v in arrays.items() if k != name}
            if mutated is not None:
                changed[name] = mutated
            case = write(tmp_path / f"{name.replace('/', '_')}-{len(results)}.npz", changed)
            result = outcome(engine, case, load, clean)
            results[(name, what)] = result
            if must_refuse:
                assert result.startswith(f"refused: {case}: member {name} "), (name, what, result)
            elif what == "huge but finite":
                assert result == "played", (name, what, result)
    assert len(results) > 60  # every member of a real file, each in several ways


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_member_claiming_1e9_elements_is_refused_from_the_directory_without_allocating(rig, kind, tmp_path):
    engine, path, load, prefix, clean = _setup(rig, kind)
    arrays = members(path)
    for name in arrays:
        case = claiming(tmp_path / f"{name.replace('/', '_')}.npz", arrays, name, 10**9)
        result = outcome(engine, case, load, clean)  # memory under 2x a clean load: nothing of 10^9 allocated
        assert result.startswith(f"refused: {case}: member {name} "), result
        assert "1000000000 elements" in result or name != "slots" and "this model's is" in result, result


META_CASES = [
    ("position", -1),
    ("position", F_TOP),
    ("position", 3),
    ("position", "x"),
    ("spare_start", -1),
    ("spare_start", F0 + 1),
    ("noise_used", -1),
    ("noise_used", 65),
    ("seed", -1),
    ("seed", 2**70),
    ("seed", 1.5),
    ("voices", 0),
    ("voices", True),
    ("voices", VOICES + 1),
    ("voices", 10**9),
    ("tiers", []),
    ("tiers", [1] * 17),
    ("tiers", [3, 2]),
    ("tiers", [1, 1]),  # a GRU's
    ("tiers", [2, 2, 2]),  # a tier more than the arrays
    ("tiers", "2"),
    ("knobs", ["bogus"]),
    ("knobs", []),
    ("knobs", "gain"),
    ("noise_state", []),
    ("noise_state", [{}] * VOICES),
    ("noise_state", [{"bit_generator": "MT19937", "state": {"key": [1], "pos": 0}}] * VOICES),
    ("noise_state", [[1, 2]] * VOICES),
    ("noise_state", [{"bit_generator": "PCG64", "state": {"state": -1, "inc": 1}}] * VOICES),
    ("bundle_id", 7),
    ("bundle_id", "0123456789abcdef"),  # another bundle's: it loads and refuses to restore
    ("format", "x"),
    ("version", 2),
]


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_header_field_mutated_is_refused_or_plays(rig, kind, tmp_path):
    engine, path, load, prefix, clean = _setup(rig, kind)
    arrays = members(path)
    meta = json.loads(str(arrays[f"{prefix}meta"][()]))
    texts = [json.dumps({**meta, key: value}) for key, value in META_CASES]
    texts += ["not json", "[1, 2]", "[" * 3000, json.dumps({**meta, "seed": int("9" * 4000)})]
    for i, text in enumerate(texts):
        case = write(tmp_path / f"meta-{i}.npz", {**arrays, f"{prefix}meta": np.array(text)})
        result = outcome(engine, case, load, clean)
        assert result.startswith("refused: "), (text[:80], result)  # none of these is a state this engine plays
    other = META_CASES.index(("bundle_id", "0123456789abcdef"))
    assert "made with another bundle" in outcome(
        engine, write(tmp_path / "other.npz", {**arrays, f"{prefix}meta": np.array(texts[other])}), load, clean
    )


@pytest.mark.parametrize(
    "slots, words",
    [
        (np.array(10**9), "not a slot count in 0..64"),
        (np.array(-1), "not a slot count"),
        (np.array(MAX_SLOTS + 1), "not a slot count"),
        (np.array("3"), "not a slot count"),
        (np.array(3.0), "not a slot count"),
        (np.array([3]), "not a slot count"),
        (None, "not an rt-samplernn bookmarks file"),
    ],
)
def test_slot_counts_past_the_format_limit_are_refused_before_looping(rig, tmp_path, slots, words):
    engine, path, load, _, clean = _setup(rig, "bookmarks")
    arrays = {k: v for k, v in members(path).items() if k != "slots"}
    if slots is not None:
        arrays["slots"] = slots
    result = outcome(engine, write(tmp_path / "slots.npz", arrays), load, clean)  # work no more than a clean load
    assert result.startswith("refused: ") and words in result, result


def test_compressed_folders_pipes_and_junk_are_one_line(rig, tmp_path):
    import os

    engine, path, load, _, clean = _setup(rig, "bookmarks")
    arrays = members(path)
    np.savez_compressed(tmp_path / "zipped.npz", **arrays)
    assert "is compressed" in outcome(engine, tmp_path / "zipped.npz", load, clean)
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    assert "not a readable bookmarks (.npz) file" in outcome(engine, tmp_path / "junk.npz", load, clean)
    os.mkfifo(tmp_path / "pipe.npz")  # opening it would block the reader for ever
    assert "not a file" in outcome(engine, tmp_path / "pipe.npz", load, clean)
    assert "not a file" in outcome(engine, tmp_path, load, clean)


def test_a_clean_file_plays_exactly_on(rig):
    engine, marks, _ = rig
    slots = load_states(marks, engine.state_spec())
    assert slots[0] is None and slots[1] is not None and slots[2] is not None
    engine.restore(slots[2])
    after = engine.generate_levels(200)
    engine.restore(slots[1])
    engine.restore(load_states(marks, engine.state_spec())[2])
    assert np.array_equal(engine.generate_levels(200), after)


# -- class 3: the live load path in one line -----------------------------------------------------------------


def test_restore_of_a_state_built_in_memory_is_checked_like_a_file(rig):
    from dataclasses import replace

    engine, _, _ = rig
    good = engine.snapshot()
    cases = {
        "text levels": (replace(good, levels=np.full(good.levels.shape, "x")), "levels is text"),
        "level past the quantizer": (replace(good, levels=good.levels + Q), "levels holds"),
        "NaN state": (replace(good, conds=(good.conds[0] * np.nan, *good.conds[1:])), "cond.0 holds"),
        "string knob": (replace(good, knobs={**good.knobs, "gain": np.array("loud")}), "knob.gain is text"),
        "bad noise state": (replace(good, noise_state=({"x": 1},) * VOICES), "noise_state of voice 1"),
    }
    before = engine.generate_levels(1)  # whatever it plays goes on after each refusal
    for name, (state, words) in cases.items():
        with pytest.raises(UserError) as e:
            engine.restore(state, where="bookmark 2")
        assert str(e.value).startswith("bookmark 2: ") and words in str(e.value) and "\n" not in str(e.value), name
    assert before.shape == (VOICES, 1) and engine.temperatures[1] == pytest.approx(0.7)


def test_play_with_a_damaged_bookmarks_file_is_one_line_before_playing(rig, tmp_path, capsys):
    import socket

    engine, marks, _ = rig
    arrays = members(marks)
    arrays["2/levels"] = arrays["2/levels"] * 0 + Q
    bad = write(tmp_path / "bad.npz", arrays)
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    base = ["play", str(engine.bundle.root), "--voices", str(VOICES), "--force-voices", "--osc", str(port)]
    base += ["--device", "none"]  # forced: on a slow CPU the voice plan would play 1, and the file's 2-voice slots
    # are then another engine's, kept unread (the format's rules) rather than refused
    base += ["--seconds", "0.2", "-q"]
    assert main([*base, "--record", str(tmp_path / "a.wav"), "--bookmarks", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"rt-samplernn play: error: {bad}: member 2/levels holds "), err
    assert main([*base, "--record", str(tmp_path / "b.wav"), "--bookmarks", str(marks)]) == 0
    assert f"2 bookmark(s) from {marks}" in capsys.readouterr().err
    assert main(["play", str(engine.bundle.root), "--bookmarks", str(marks)]) == 1
    assert "add --midi PORT" in capsys.readouterr().err


def test_a_bookmark_file_is_read_at_the_start_and_written_when_a_slot_changes(rig, tmp_path):
    """`play --bookmarks`'s save path: what the pads or OSC save lands in the file, in the window's format."""
    from rt_samplernn.live.bookmarks import BookmarkFile
    from rt_samplernn.live.control import LiveControl
    from rt_samplernn.live.params import Parameters

    engine, marks, _ = rig
    path = tmp_path / "set.npz"
    path.write_bytes(marks.read_bytes())
    params = Parameters(voices=VOICES)
    control = LiveControl(params, engine, start=False)
    book = BookmarkFile(path, params, engine.state_spec(), "b")
    assert book.load() == 2 and not book.sync()  # nothing changed: nothing written
    control.save_bookmark(4)
    after = engine.generate_levels(100)
    assert book.sync() and not book.sync()
    slots = load_states(path, engine.state_spec())
    assert len(slots) == len(params.bookmarks) and slots[4] is not None and slots[1] is not None
    engine.restore(slots[4])
    assert np.array_equal(engine.generate_levels(100), after)
    assert BookmarkFile(tmp_path / "none-yet.npz", Parameters(voices=VOICES), engine.state_spec()).load() == 0


def test_recalling_a_damaged_bookmark_is_a_notice_and_the_music_goes_on_as_it_was(rig):
    """The pads' and OSC's recall (LiveControl, as in the window and play): refused before anything changes."""
    from dataclasses import replace

    from rt_samplernn.live.control import LiveControl
    from rt_samplernn.live.params import Parameters

    engine, _, _ = rig
    params = Parameters(voices=VOICES)
    control = LiveControl(params, engine, start=False)
    now = engine.snapshot()
    expected = engine.generate_levels(300)
    engine.restore(now)
    params.bookmarks[1] = replace(now, levels=now.levels + 10**6)  # would crash onnxruntime's Gather
    params.pad("bookmark_recall", 1)
    control.tick(F0)  # the producer's block boundary: the recall is refused there
    control.run_pending()  # the helper thread says it
    assert control.message.startswith("bookmark 2: levels holds ") and "\n" not in control.message
    assert control.recalls == 0
    assert np.array_equal(engine.generate_levels(300), expected)  # the old state, exactly
