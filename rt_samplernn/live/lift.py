"""The quiet lift: a voice that falls quiet samples warmer and uncut until it sounds again (torch-free).

SampleRNN's silence is an attractor: once a voice's last samples sit at the zero level, the model gives that
level most of the probability, a lower temperature or a tail cut (min-p) sharpens it further, and the voice
stays silent for seconds (the demo at temperature 0.9 was silent in a third of its seconds). The lift breaks
the loop where it starts: before each sample-graph call (one finest frame, 2 ms at 8 kHz) the engine looks
at each voice's previous frame; when its peak is under ``below_dbfs``, that frame is drawn at no less than
``temperature`` and with no tail cut; loud frames keep the knobs' values exactly. It depends on the levels
already drawn and nothing else, so it adds no state: bookmarks, restores and renders stay sample-exact.

A bundle's usable-range scan (export/usable.py) finds the lift's temperature (the hottest temperature of its
grid at which the uncut model never fell silent, below the music's 5th percentile of one-second level) and
writes it under model.json `usable.lift`; bundles without it
play with no lift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rt_samplernn.errors import UserError

BELOW_DBFS = -30.0  # "quiet" without the training music's statistics to say (a finest frame's peak under this)


@dataclass(frozen=True)
class QuietLift:
    """The lift's temperature floor and the peak (dBFS) under which a frame counts as quiet."""

    temperature: float
    below_dbfs: float = BELOW_DBFS

    def __post_init__(self) -> None:
        if not (np.isfinite(self.temperature) and self.temperature > 0 and np.isfinite(self.below_dbfs)):
            raise UserError(f"quiet lift {self.temperature}, {self.below_dbfs} dBFS: needs a positive temperature")

    def to_manifest(self) -> dict[str, float]:
        return {"temperature": float(self.temperature), "below_dbfs": float(self.below_dbfs)}

    @classmethod
    def from_manifest(cls, entry: Mapping[str, Any], where: str) -> QuietLift:
        try:
            return cls(float(entry["temperature"]), float(entry.get("below_dbfs", BELOW_DBFS)))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise UserError(
                f"{where}: 'usable.lift' is malformed ({type(e).__name__}: {e}); re-export the bundle"
            ) from None


class LiftedKnobs:
    """Per block: the sample graph's temperature and cut inputs from the knobs' values, lifted where quiet.

    ``dequant``: the bundle's level -> amplitude table; a level counts as quiet when its amplitude is under
    the lift's peak, so a frame is quiet when every level in it is."""

    def __init__(self, lift: QuietLift, dequant: np.ndarray, voices: int, frame_size: int) -> None:
        self.lift = lift
        limit = 10.0 ** (lift.below_dbfs / 20.0)
        self._loud_level = np.abs(dequant) >= limit  # indexed by level
        self._loud = np.empty((voices, frame_size), dtype=bool)  # per block, allocated once (the producer's loop)
        self._quiet = np.empty(voices, dtype=bool)
        self._lifted_temps = np.empty(voices, dtype=np.float32)

    def apply(
        self, prev: np.ndarray, temps: np.ndarray, cuts: np.ndarray, temps_out: np.ndarray, cuts_out: np.ndarray
    ) -> None:
        """Write the inputs for the frame after ``prev`` (voices, frame levels) into temps_out and cuts_out."""
        quiet = self._quiet
        np.take(self._loud_level, prev, out=self._loud)
        np.any(self._loud, axis=1, out=quiet)
        np.logical_not(quiet, out=quiet)
        np.maximum(temps, np.float32(self.lift.temperature), out=self._lifted_temps)
        np.copyto(temps_out, temps)
        np.copyto(temps_out, self._lifted_temps, where=quiet)
        np.copyto(cuts_out, cuts)
        np.copyto(cuts_out, np.float32(0.0), where=quiet)
