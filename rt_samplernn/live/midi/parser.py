"""A MIDI byte-stream parser that never raises: running status, sysex, realtime and junk bytes handled."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

_DATA_BYTES = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
_COMMON_DATA_BYTES = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF4: 0, 0xF5: 0, 0xF6: 0}


class MidiParser:
    """Bytes -> channel messages ``(status, data1, data2)``, tolerant of anything.

    Running status (data bytes after an earlier channel status) is honoured, also across rtmidi
    messages; sysex (``F0 .. F7``, possibly split) and system common messages are skipped and cancel
    running status; real-time bytes (``F8``-``FF``: clock, active sensing, ...) are skipped anywhere;
    a status byte in the middle of a message drops the unfinished one; values that are not ints in
    0..255 are skipped. One-data-byte messages (program change, channel pressure) get ``data2 = 0``.
    """

    def __init__(self) -> None:
        self._running = 0  # channel status in force (0: none)
        self._need = 0  # data bytes the current message needs
        self._data: list[int] = []
        self._skip = 0  # data bytes of a system common message still to skip
        self._in_sysex = False

    def feed(self, data: Iterable[Any]) -> Iterator[tuple[int, int, int]]:
        for b in data:
            if not isinstance(b, int) or isinstance(b, bool) or not 0 <= b <= 0xFF:
                continue
            if b >= 0xF8:  # real-time: anywhere, no effect on running status
                continue
            if b >= 0x80:
                self._data.clear()
                self._skip = 0
                if b == 0xF0:
                    self._in_sysex, self._running = True, 0
                elif b == 0xF7:
                    self._in_sysex, self._running = False, 0
                elif b >= 0xF0:  # system common (or undefined F4/F5)
                    self._in_sysex, self._running = False, 0
                    self._skip = _COMMON_DATA_BYTES.get(b, 0)
                else:
                    self._in_sysex = False
                    self._running = b
                    self._need = _DATA_BYTES[b & 0xF0]
                continue
            # a data byte
            if self._in_sysex:
                continue
            if self._skip:
                self._skip -= 1
                continue
            if not self._running:
                continue  # stray data with no status in force
            self._data.append(b)
            if len(self._data) == self._need:
                d1 = self._data[0]
                d2 = self._data[1] if self._need == 2 else 0
                self._data.clear()
                yield self._running, d1, d2
