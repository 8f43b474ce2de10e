"""Every live parameter, declared once: name, label, kind, range and curve, unit, MIDI default binding.

No torch, no Qt. `rt_samplernn.live.params.Parameters` builds its cells from `PARAMETERS`;
`rt_samplernn.live.control.LiveControl` sends each float to the engine method its declaration names;
`rt_samplernn.live.midi.mapfile.default_map` binds each declared MIDI default; the window's session draws a
dial per float; OSC gives it an address; a float the engine takes is kept by bookmarks and carried over by
a hot-swap. Adding a MIDI-controllable parameter is one `Declaration` here plus the code that uses its value
(a float gets a dial by itself; a switch or trigger needs a button in a window panel); for a float, the
engine setter and value it names. The table of what there is: rt_samplernn/live/params.py's docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rt_samplernn.errors import UserError

CURVES = ("linear", "log")
KINDS = ("float", "index", "pick", "switch", "trigger")
SEED_SLOTS = 8  # seed slots (pads) in the window and the default map; play --seed-slot may add more
BOOKMARKS = 8  # bookmark slots: the exact state saved and recalled (rt_samplernn/live/snapshot.py)
MAX_VOICE_CONTROLS = 8  # per-voice knobs the default MIDI map binds (CC 21..28)
DEFAULT_CEILING_DB = -1.0  # the master limiter's ceiling knob (live/effects.py; play's default, `--limiter off`)


@dataclass(frozen=True)
class FloatSpec:
    """Range, knob curve, default and smoothing of a continuous parameter.

    ``from_normalized(u)``: u in [0, 1] -> ``u ** power`` -> linear (or geometric for ``curve="log"``)
    between ``minimum`` and ``maximum``. ``smoothing_ms``: ramp time of a full-range jump (0 = none).
    """

    minimum: float
    maximum: float
    default: float
    curve: str = "linear"
    power: float = 1.0
    smoothing_ms: float = 30.0

    def __post_init__(self) -> None:
        for field_name in ("minimum", "maximum", "default", "power", "smoothing_ms"):
            v = getattr(self, field_name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise UserError(f"{field_name} = {v!r}: must be a finite number")
        if not self.minimum < self.maximum:
            raise UserError(f"range {self.minimum}..{self.maximum}: minimum must be below maximum")
        if self.curve not in CURVES:
            raise UserError(f"curve {self.curve!r}: unknown; curves: {', '.join(CURVES)}")
        if self.curve == "log" and self.minimum <= 0:
            raise UserError(f"curve 'log' needs minimum > 0, got {self.minimum}; use curve 'linear'")
        if self.power <= 0:
            raise UserError(f"power {self.power}: must be > 0 (1 = straight)")
        if self.smoothing_ms < 0:
            raise UserError(f"smoothing_ms {self.smoothing_ms}: must be >= 0 (0 = no smoothing)")
        if not self.minimum <= self.default <= self.maximum:
            raise UserError(f"default {self.default}: outside {self.minimum}..{self.maximum}")

    def clamp(self, value: float) -> float:
        return min(max(float(value), self.minimum), self.maximum)

    def from_normalized(self, u: float) -> float:
        """Knob position u in [0, 1] (clamped) -> value in [minimum, maximum]."""
        u = min(max(float(u), 0.0), 1.0) ** self.power
        if self.curve == "log":
            return self.clamp(self.minimum * (self.maximum / self.minimum) ** u)
        return self.clamp(self.minimum + (self.maximum - self.minimum) * u)

    def to_normalized(self, value: float) -> float:
        """Value -> knob position in [0, 1]; the inverse of `from_normalized`."""
        value = self.clamp(value)
        if self.curve == "log":
            u = math.log(value / self.minimum) / math.log(self.maximum / self.minimum)
        else:
            u = (value - self.minimum) / (self.maximum - self.minimum)
        return float(min(max(u, 0.0), 1.0) ** (1.0 / self.power))


@dataclass(frozen=True)
class Declaration:
    """One live parameter, declared once; `Parameters`, the default MIDI map, the session and the window read it.

    ``name``: the parameter's name (in map files and code). ``label``: what the window and messages call
    it. ``kind``: "float" (a knob), "index" (the seed slot), "pick" (an index whose every write is an
    action: save or recall bookmark N), "switch" (on/off) or "trigger" (a button). ``count``: choices of an
    index or pick (0: the seed slots). ``fires``: the trigger a pad of an index fires once it has chosen
    (the seed slot's pads prime). ``osc``: the OSC address when it is not derived from the name (`osc_address`).
    ``spec``: a float's range, default, curve and smoothing. ``unit``/``digits``: how a float's value is
    shown ("dB": the linear factor as decibels). ``positive``: the range must stay above 0 (the engine
    divides by it). ``default``: a switch's starting state. ``midi``: the default binding, ("cc", N) or
    ("pads", first note). ``per_voice``: a float that also has one cell per voice, NAME.1 .. NAME.V,
    following NAME; ``voice_cc``: the CC of voice 1's cell in the default map (voice N: voice_cc + N - 1).
    ``engine``: the engine method a float goes to (``engine.<engine>(value)``, per voice ``voice=i``);
    ``reads``: the engine attribute that holds its current value (per voice: one value a voice), so a control
    surface attached to a running engine, or a snapshot of it, starts from what the engine plays; ``player``: the player method a switch goes to. ``short``: the word in a voice cell's caption.
    ``help``: one line for tooltips.
    """

    name: str
    label: str
    kind: str
    spec: FloatSpec | None = None
    unit: str = ""
    digits: int = 2
    positive: bool = False
    default: bool = False
    midi: tuple[str, int] | None = None
    per_voice: bool = False
    voice_cc: int | None = None
    engine: str = ""
    reads: str = ""
    player: str = ""
    short: str = ""
    help: str = ""
    count: int = 0
    fires: str = ""
    osc: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind {self.kind!r}; kinds: {', '.join(KINDS)}")
        if (self.kind == "float") != (self.spec is not None):
            raise ValueError(f"{self.name}: a float needs a spec, and only a float has one")

    def check_spec(self, spec: FloatSpec) -> None:
        """Refuse a range the engine cannot take (a UserError naming the parameter and the limit)."""
        if self.positive and spec.minimum <= 0:
            raise UserError(f"{self.name} range {spec.minimum:g}..{spec.maximum:g}: the minimum must be > 0")
        if spec.minimum < 0:
            raise UserError(f"{self.name} range {spec.minimum:g}..{spec.maximum:g}: the minimum must be >= 0")

    def format(self, value: float) -> str:
        """A float's display text, e.g. '1.25' or '-3.5 dB'."""
        if self.unit == "dB":
            return "-inf dB" if value <= 1e-5 else f"{20 * math.log10(value):+.1f} dB"
        return f"{value:.{self.digits}f}{' ' + self.unit if self.unit else ''}"

    @property
    def osc_address(self) -> str:
        """Where OSC reaches it: ``osc``, else the name as a path ('/gain', 'bookmark_save' -> '/bookmark/save')."""
        return self.osc or "/" + self.name.replace("_", "/")

    def voice_name(self, voice: int) -> str:
        """The name of voice ``voice``'s cell (voices from 1), e.g. 'temperature.2'."""
        return f"{self.name}.{voice}"

    def voice_label(self, voice: int) -> str:
        """The caption of voice ``voice``'s cell, e.g. 'Voice 2 temp'."""
        return f"Voice {voice} {self.short or self.label.lower()}"


PARAMETERS: tuple[Declaration, ...] = (
    Declaration(
        "temperature",
        "Temperature",
        "float",
        FloatSpec(0.05, 1.5, 1.0),
        positive=True,
        midi=("cc", 1),
        per_voice=True,
        voice_cc=21,
        engine="set_temperature",
        reads="temperatures",
        short="temp",
        help="sampling temperature: low is near-deterministic, high is noisier",
    ),
    Declaration(
        "min_p",
        "Tail cut",
        "float",
        FloatSpec(0.0, 0.5, 0.0, power=2.0),
        midi=("cc", 74),
        per_voice=True,
        voice_cc=41,
        engine="set_min_p",
        reads="min_p",
        short="cut",
        help="min-p: never draw a level less likely than this fraction of the most likely one (0 = off); "
        "cuts the hiss that a high temperature brings",
    ),
    Declaration(
        "gain",
        "Gain",
        "float",
        FloatSpec(0.0, 2.0, 1.0, power=2.0),
        unit="dB",
        midi=("cc", 7),
        engine="set_gain",
        reads="gain",
        help="output gain (a fader: finer near silence)",
    ),
    Declaration(
        "slot",
        "Pads",
        "index",
        midi=("pads", 36),
        fires="prime",
        osc="/prime",
        help="a note and the ones above it select and prime seed slots 1, 2, ...",
    ),
    Declaration("prime", "Re-prime", "trigger", midi=("cc", 102), help="prime again from the selected seed slot"),
    Declaration("reset", "Reset", "trigger", midi=("cc", 103), help="back to the model's initial state"),
    Declaration(
        "watchdog",
        "Watchdog",
        "switch",
        default=True,
        midi=("cc", 104),
        player="set_watchdog",
        help="re-prime when the output collapses",
    ),
    Declaration(
        "bookmark_save",
        "Save bookmark",
        "pick",
        count=BOOKMARKS,
        midi=("pads", 60),
        help="a note and the ones above it save the exact state into bookmarks 1, 2, ...",
    ),
    Declaration(
        "bookmark_recall",
        "Recall bookmark",
        "pick",
        count=BOOKMARKS,
        midi=("pads", 48),
        help="a note and the ones above it go back to bookmarks 1, 2, ... exactly as saved",
    ),
)
DECLARATIONS: dict[str, Declaration] = {d.name: d for d in PARAMETERS}


def declared() -> tuple[Declaration, ...]:
    """Every declaration, read at each call: what `Parameters`, the default MIDI map and OSC's addresses are
    built from, so a declaration added to `PARAMETERS` (and `DECLARATIONS`) reaches them all."""
    return PARAMETERS


def engine_knobs() -> tuple[Declaration, ...]:
    """The floats that reach the engine: ``engine`` names its setter, ``reads`` where it holds the value. The
    engine's `knob_values` (what a bookmark keeps), the hot-swap's hand-over and `LiveControl` follow them."""
    return tuple(d for d in PARAMETERS if d.kind == "float" and d.engine)


def declaration(name: str) -> Declaration | None:
    """The declaration of ``name`` (a per-voice name like 'temperature.2' gives its parameter's), or None."""
    base, _, voice = name.partition(".")
    d = DECLARATIONS.get(base)
    if d is None or (voice and not (d.per_voice and voice.isdigit() and int(voice) >= 1)):
        return None
    return d


def is_voice_name(name: str) -> bool:
    """True for a per-voice cell's name ('temperature.3'), whatever the engine's voice count."""
    return "." in name and declaration(name) is not None
