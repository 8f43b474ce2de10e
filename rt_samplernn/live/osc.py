"""OSC control over UDP (python-osc): addresses derived from the parameter declarations (torch-free, no Qt).

Every declared parameter (rt_samplernn.live.declarations.PARAMETERS) has an address, so a new
declaration is reachable by itself (`routes_for`), and so has every cell added to the parameters
(`Parameters.add_cells`: ``/fx/master/reverb/room_size f``, ``/fx/voice2/lowpass/cutoff_frequency_hz f``,
``/tempo/bpm f``):

==========================  =====  ==================================================================
address                     args   what it does
==========================  =====  ==================================================================
``/temperature``            f      a float parameter, in its own units (clamped to its range)
``/voice/N/temperature``    f      voice N's cell of a per-voice float (N from 1)
``/gain``                   f      output gain (linear: 1.0 is unity)
``/watchdog``               i      a switch: 0 off, anything else on
``/reset``, ``/prime``      none   a trigger
``/prime``                  i      seed slot i (from 1): select it and prime (what its pad does)
``/bookmark/save``          i      save the exact state into bookmark i (from 1)
``/bookmark/recall``        i      back to bookmark i, at the next block
==========================  =====  ==================================================================

Hosts add their own routes (``/bundle s``: open another bundle while playing). Messages write the same
lock-free cells MIDI writes; `rt_samplernn.live.control.LiveControl` applies them at block boundaries.

Threads: `OscServer` receives on its own thread (``rt-samplernn-osc``), which never blocks the producer.
Malformed packets, unknown addresses and wrong arguments are ignored and counted (``ignored``), and
reported through `Notices`: at most one line a second, the rest summed up.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pythonosc.osc_packet import OscPacket, ParseError

from rt_samplernn.errors import UserError
from rt_samplernn.live.control import Notices
from rt_samplernn.live.declarations import declared
from rt_samplernn.live.params import FloatParam, IndexParam, Parameters, SwitchParam, Trigger

log = logging.getLogger("rt_samplernn.live.osc")
DEFAULT_HOST = "127.0.0.1"
POLL_S = 0.1  # the receive thread wakes this often to flush notices and to notice close()


class BadArguments(ValueError):
    """A message for a known address with arguments it does not take."""


Handler = Callable[[Sequence[object]], None]


@dataclass(frozen=True)
class Route:
    """One OSC address and what it takes: ``args`` is "f", "i", "s" or "" (no argument)."""

    address: str
    args: str
    handle: Handler
    help: str = ""


def _number(args: Sequence[object], address: str) -> float:
    if len(args) != 1 or isinstance(args[0], bool) or not isinstance(args[0], (int, float)):
        raise BadArguments(f"{address} takes one number, got {list(args)!r}")
    value = float(args[0])
    if not math.isfinite(value):
        raise BadArguments(f"{address} takes a finite number, got {value}")
    return value


def _index(args: Sequence[object], address: str, count: int) -> int:
    value = _number(args, address)
    if value != int(value) or not 1 <= value <= count:
        raise BadArguments(f"{address} takes a whole number 1..{count}, got {value:g}")
    return int(value) - 1


def routes_for(params: Parameters) -> list[Route]:
    """The address of every declared parameter (see the module docstring)."""
    routes: list[Route] = []
    for d in declared():
        cell, address = params[d.name], d.osc_address
        if isinstance(cell, FloatParam):
            routes.append(Route(address, "f", _float_route(cell, address), d.help))
            voices = params.voice_cells(d.name) or ([cell] if d.per_voice else [])  # one voice: the master's
            for v, voice_cell in enumerate(voices, 1):
                routes.append(Route(f"/voice/{v}{address}", "f", _float_route(voice_cell, f"/voice/{v}{address}")))
        elif isinstance(cell, SwitchParam):
            routes.append(Route(address, "i", _switch_route(cell, address), d.help))
        elif isinstance(cell, Trigger):
            routes.append(Route(address, "", _trigger_route(cell, address), d.help))
        elif isinstance(cell, IndexParam):
            routes.append(Route(address, "i", _pad_route(params, cell, address), d.help))
    for cell in params.added():  # effect knobs and the tempo's: their declarations name the address
        address = cell.decl.osc_address
        routes.append(Route(address, "f", _float_route(cell, address), cell.decl.help))
    return routes


def _float_route(cell: FloatParam, address: str) -> Handler:
    return lambda args: cell.set(_number(args, address))


def _switch_route(cell: SwitchParam, address: str) -> Handler:
    return lambda args: cell.set(_number(args, address) != 0)


def _trigger_route(cell: Trigger, address: str) -> Handler:
    def fire(args: Sequence[object]) -> None:
        if args:
            raise BadArguments(f"{address} takes no argument, got {list(args)!r}")
        cell.fire()

    return fire


def _pad_route(params: Parameters, cell: IndexParam, address: str) -> Handler:
    return lambda args: None if params.pad(cell.name, _index(args, address, cell.count)) else None


class OscServer:
    """Receives OSC on UDP ``host:port`` and applies each message to its route (`routes_for` plus ``extra``).

    ``port`` 0 takes a free port (``port`` says which once started). Counters for a status line:
    ``messages`` (applied), ``ignored`` (malformed, unknown or bad arguments); ``notices`` reports them.
    """

    def __init__(
        self,
        params: Parameters,
        port: int,
        host: str = DEFAULT_HOST,
        extra: Sequence[Route] = (),
        quiet_s: float = 1.0,
        logger: logging.Logger = log,
    ) -> None:
        self.host, self.port = host, int(port)
        self._extra = tuple(extra)
        self._routes: dict[str, dict[int, Route]] = {}
        self.set_params(params)
        self.messages = 0
        self.ignored = 0
        self.notices = Notices(quiet_s, logger)
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def set_params(self, params: Parameters) -> None:
        """Route to these parameter cells from now on (a model reopened with new cells; any thread). Cells
        added to them later (`Parameters.add_cells`: an effect) are routed from the next message on."""
        self._params, self._added_version = params, params.added_version
        routes: dict[str, dict[int, Route]] = {}
        for route in [*routes_for(params), *self._extra]:
            routes.setdefault(route.address, {})[len(route.args)] = route
        self._routes = routes  # one assignment: the receive thread sees the old table or the new one

    @property
    def addresses(self) -> list[str]:
        """Every address with its arguments, e.g. '/temperature f', for --help and the README."""
        return [f"{a} {r.args}".strip() for a, by_arity in self._routes.items() for r in by_arity.values()]

    def start(self) -> None:
        """Bind the socket (a one-line UserError if the port is taken) and start receiving."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError as e:
            sock.close()
            raise UserError(
                f"--osc {self.port} on {self.host}: cannot listen there ({e.strerror or e}); choose another port"
            ) from None
        sock.settimeout(POLL_S)
        self._sock, self.port = sock, int(sock.getsockname()[1])
        self._thread = threading.Thread(target=self._receive, name="rt-samplernn-osc", daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stop.is_set():
            try:
                data, sender = sock.recvfrom(65536)
            except TimeoutError:
                self.notices.flush()
                continue
            except OSError:
                return  # closed
            self.handle(data, f"{sender[0]}:{sender[1]}")
            self.notices.flush()

    def handle(self, data: bytes, sender: str = "") -> None:
        """Apply one datagram (a message or a bundle); never raises."""
        try:
            packet = OscPacket(data)
        except ParseError:
            self._ignore(f"OSC: a malformed packet{' from ' + sender if sender else ''} ignored ({len(data)} bytes)")
            return
        except Exception as e:  # python-osc raises other types on some junk; nothing stops the thread
            self._ignore(f"OSC: an unreadable packet ignored ({type(e).__name__})")
            return
        if self._params.added_version != self._added_version:
            self.set_params(self._params)  # an effect came or went: its addresses with it
        for timed in packet.messages:
            message = timed.message
            address, args = message.address, list(message.params)
            by_arity = self._routes.get(address)
            if by_arity is None:
                self._ignore(f"OSC: unknown address {address!r} ignored; `--help` of play lists the addresses")
                continue
            route = by_arity.get(len(args)) or next(iter(by_arity.values()))
            try:
                route.handle(args)
            except (BadArguments, UserError) as e:
                self._ignore(f"OSC: {e}")
                continue
            except Exception as e:  # a host route failed: say it, keep listening
                self._ignore(f"OSC: {address} failed: {type(e).__name__}: {e}")
                continue
            self.messages += 1

    def _ignore(self, text: str) -> None:
        self.ignored += 1
        self.notices.say(text)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        if self._sock is not None:
            self._sock.close()
        self._thread = None


__all__ = ["DEFAULT_HOST", "BadArguments", "Route", "OscServer", "routes_for"]
