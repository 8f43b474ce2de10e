"""The effects panel: a chain per voice and the master's, its effects added, removed, bypassed and reordered
(the up and down buttons, or a drag in the list).

Everything goes through the session's `rt_samplernn.gui.session_fx.SessionFx` (``session.fx``): the same
rack `play` runs, its edits applied by the player's worker between blocks. The selected effect's parameters
are `ParamDial`s bound to their cells by name, so a drag, a MIDI knob and MIDI learn work as on the voices'
dials. The plugin picker lists the VST3 plugins installed in the usual folders, plus Browse…; both load
through the loader `--vst3` uses, and a plugin that does not load is one line in the status.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PyQt6.QtCore import QModelIndex, Qt
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from rt_samplernn.errors import UserError
from rt_samplernn.gui.panels import Host
from rt_samplernn.gui.session import KnobState
from rt_samplernn.gui.session_fx import SlotView
from rt_samplernn.gui.widgets import ParamDial
from rt_samplernn.live.effects import EFFECTS, MASTER, installed_vst3

NAME_ROLE = Qt.ItemDataRole.UserRole
LIST_HEIGHT = 110
DIAL_SIZE = 44


class EffectsPanel(QGroupBox):
    """The chain editor. ``chain_combo`` picks the chain, ``effects_list`` holds its effects in order (checked:
    on, unchecked: bypassed; drag one to reorder), ``dials`` the selected effect's knobs by cell name."""

    def __init__(self, host: Host) -> None:
        super().__init__("Effects")
        self.host = host
        self._layout: tuple[object, ...] | None = None
        self._views: list[SlotView] = []
        self._versions: dict[str, int] = {}
        self._mappings: dict[str, list[str]] = {}
        self._select = ""  # an effect just added: selected once the chain has it
        self.dials: dict[str, ParamDial] = {}

        self.chain_combo = QComboBox()
        self.chain_combo.setToolTip("the chain to edit: a voice's (after the model) or the master (after the mix)")
        self.chain_combo.currentIndexChanged.connect(lambda _: self.show_chain())
        self.chain_bypass = QCheckBox("bypass chain")
        self.chain_bypass.setToolTip("the chain's input goes out untouched (bit-exact), its effects keep their state")
        self.chain_bypass.toggled.connect(self._bypass_chain)
        self.limiter_check = QCheckBox("limiter")
        self.limiter_check.setToolTip("a brickwall limiter at the end of the master chain: no peak above its ceiling")
        self.limiter_check.toggled.connect(self._limiter)
        self.effect_combo = QComboBox()
        for name, kind in EFFECTS.items():
            self.effect_combo.addItem(name)
            self.effect_combo.setItemData(self.effect_combo.count() - 1, kind.help, Qt.ItemDataRole.ToolTipRole)
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("add the chosen effect at the end of the chain")
        self.add_button.clicked.connect(lambda: self.add(self.effect_combo.currentText()))
        self.plugin_menu = QMenu(self)
        self.plugin_menu.aboutToShow.connect(self.fill_plugin_menu)
        self.plugin_button = QPushButton("Plugin…")
        self.plugin_button.setToolTip("load a VST3 effect plugin into the chain")
        self.plugin_button.setMenu(self.plugin_menu)

        self.effects_list = QListWidget()
        self.effects_list.setFixedSize(190, LIST_HEIGHT)
        self.effects_list.setToolTip("the chain's effects in order; drag one to reorder, untick one to bypass it")
        self.effects_list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.effects_list.currentRowChanged.connect(lambda _: self.show_dials())
        self.effects_list.itemChanged.connect(self._item_changed)
        list_model = self.effects_list.model()
        if list_model is not None:  # always (a QListWidget's own), typed Optional
            list_model.rowsMoved.connect(self._row_dropped)
        self.up_button = QPushButton("▲")
        self.up_button.setToolTip("move the effect earlier in the chain")
        self.up_button.clicked.connect(lambda: self.move_effect(-1))
        self.down_button = QPushButton("▼")
        self.down_button.setToolTip("move the effect later in the chain")
        self.down_button.clicked.connect(lambda: self.move_effect(1))
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove)
        self.dial_row = QHBoxLayout()
        self.dial_row.setSpacing(6)
        self.empty_label = QLabel("no effect selected")
        self.empty_label.setObjectName("placeholder")
        self.dial_row.addWidget(self.empty_label)

        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(QLabel("Chain"))
        top.addWidget(self.chain_combo)
        top.addWidget(self.chain_bypass)
        top.addWidget(self.limiter_check)
        top.addStretch(1)
        top.addWidget(self.effect_combo)
        top.addWidget(self.add_button)
        top.addWidget(self.plugin_button)
        lay.addLayout(top)
        body = QHBoxLayout()
        body.addWidget(self.effects_list)
        buttons = QVBoxLayout()
        for b in (self.up_button, self.down_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        body.addLayout(buttons)
        dials = QWidget()
        dials.setLayout(self.dial_row)
        body.addWidget(dials, 1)
        lay.addLayout(body, 1)

    # ------------------------------------------------------------------ what is shown
    @property
    def chain(self) -> str:
        return self.chain_combo.currentText()

    def selected(self) -> SlotView | None:
        row = self.effects_list.currentRow()
        return self._views[row] if 0 <= row < len(self._views) else None

    def build(self) -> None:
        """After a bundle opens: the chains of its voice count, the master's first."""
        names = self.host.session.fx.chain_names()
        keep = self.chain or MASTER
        self.chain_combo.blockSignals(True)
        self.chain_combo.clear()
        for name in [n for n in names if n == MASTER] + [n for n in names if n != MASTER]:
            self.chain_combo.addItem(name)
        self.chain_combo.setCurrentIndex(max(self.chain_combo.findText(keep), 0))
        self.chain_combo.blockSignals(False)
        self.show_chain()

    def show_chain(self) -> None:
        """Redraw the list from the chain as it is (keeping the selected effect), and the switches."""
        fx = self.host.session.fx
        if not self.chain:
            return
        self._layout = fx.layout()
        keep = self.selected()
        self._views = fx.slots(self.chain)
        self.effects_list.blockSignals(True)
        self.effects_list.clear()
        for view in self._views:
            item = QListWidgetItem("limiter (ceiling)" if view.fixed else view.name)
            item.setData(NAME_ROLE, view.name)
            if view.fixed:  # the limiter is switched by its own box and stays last
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsDragEnabled)
            else:
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked if view.bypass else Qt.CheckState.Checked)
            self.effects_list.addItem(item)
        names = [v.name for v in self._views]
        if self._select in names:
            keep, self._select = self._views[names.index(self._select)], ""
        row = names.index(keep.name) if keep is not None and keep.name in names else len(names) - 1
        self.effects_list.setCurrentRow(row)
        self.effects_list.blockSignals(False)
        for check, on in ((self.chain_bypass, fx.chain_bypass(self.chain)), (self.limiter_check, fx.limiter_on)):
            check.blockSignals(True)
            check.setChecked(on)
            check.blockSignals(False)
        self.limiter_check.setVisible(self.chain == MASTER)
        self.show_dials()

    def show_dials(self) -> None:
        """The selected effect's knobs as dials (rebuilt when the selection changes)."""
        view = self.selected()
        wanted = [k.name for k in view.knobs] if view is not None else []
        self.up_button.setEnabled(view is not None and not view.fixed)
        self.down_button.setEnabled(view is not None and not view.fixed)
        self.remove_button.setEnabled(view is not None and not view.fixed)
        if wanted == list(self.dials):
            return
        for dial in self.dials.values():
            dial.setParent(None)
            dial.deleteLater()
        self.dials.clear()
        self._versions.clear()
        self.empty_label.setVisible(view is None)
        if view is None:
            return
        for knob in view.knobs:
            state = self._state(knob.name)
            if state is None:
                continue
            dial = ParamDial(knob.name, knob.title, state.position, state.text)
            dial.dial.setMinimumSize(DIAL_SIZE, DIAL_SIZE)  # smaller than the voices': the panel shares the screen
            dial.setToolTip(knob.tooltip)
            dial.moved.connect(lambda u, n=knob.name: self._on_dial(n, u))
            dial.learnToggled.connect(lambda on, n=knob.name: self.host.learn(n if on else None))
            dial.set_mapping_text(", ".join(self._mappings.get(knob.name, [])))
            self.dial_row.addWidget(dial)
            self.dials[knob.name] = dial
            self._versions[knob.name] = state.version

    def _state(self, name: str) -> KnobState | None:
        """A knob's state, or None for one whose effect the worker has just removed (it failed; redrawn next)."""
        try:
            return self.host.session.knob(name)
        except UserError:
            return None

    def show_mappings(self, by_name: dict[str, list[str]]) -> None:
        self._mappings = by_name
        for name, dial in self.dials.items():
            dial.set_mapping_text(", ".join(by_name.get(name, [])))

    def poll_fast(self) -> None:
        """Edits the worker applied (or an effect it removed) redraw the list; dials follow MIDI."""
        if self.host.session.fx.layout() != self._layout:
            self.show_chain()
        for name, dial in self.dials.items():
            state = self._state(name)
            if state is not None and self._versions.get(name) != state.version:
                self._versions[name] = state.version
                dial.set_position(state.position, state.text)

    def poll_slow(self) -> None:
        self.host.session.fx.poll()

    # ------------------------------------------------------------------ edits
    def _do(self, what: str, action: Callable[[], object]) -> bool:
        try:
            action()
        except UserError as e:
            self.host.show_error(str(e))
            return False
        self.host.set_status(what)
        self.poll_fast()
        return True

    def add(self, effect: str) -> None:
        """Add the built-in ``effect`` at the end of the chain shown."""
        chain = self.chain
        self._do(f"{effect} added to {chain}", lambda: self._added(self.host.session.fx.add(chain, effect)))

    def load_plugin(self, path: str | Path) -> bool:
        """Load a VST3 plugin into the chain shown (the `--vst3` loader); False and one status line if it fails."""
        chain = self.chain
        return self._do(
            f"{Path(path).name} loaded into {chain}", lambda: self._added(self.host.session.fx.add_plugin(chain, path))
        )

    def _added(self, name: str) -> None:
        self._select = name

    def fill_plugin_menu(self) -> None:
        """The installed VST3 plugins (~/.vst3, /usr/lib/vst3), then Browse…"""
        menu = self.plugin_menu
        menu.clear()
        plugins = installed_vst3()
        for path in plugins:
            menu.addAction(path.stem, lambda p=path: self.load_plugin(p))
        if not plugins:
            none = menu.addAction("no VST3 plugins in ~/.vst3 or /usr/lib/vst3")
            if none is not None:
                none.setEnabled(False)
        menu.addSeparator()
        menu.addAction("Browse…", self.browse_plugin)

    def browse_plugin(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a VST3 effect", str(Path.home()), "VST3 plugins (*.vst3)")
        if path:
            self.load_plugin(path)

    def remove(self) -> None:
        view = self.selected()
        if view is not None and not view.fixed:
            chain = self.chain
            self._do(f"{view.name} removed from {chain}", lambda: self.host.session.fx.remove(chain, view.name))

    def move_effect(self, step: int) -> None:
        """Move the selected effect ``step`` places (-1: earlier): the buttons' and a drag's one path."""
        view = self.selected()
        if view is not None and not view.fixed:
            chain = self.chain
            self._do(f"{view.name} moved", lambda: self.host.session.fx.move(chain, view.name, step))

    def _row_dropped(self, _parent: QModelIndex, start: int, _end: int, _to_parent: QModelIndex, before: int) -> None:
        """A drag in the list: Qt's InternalMove has moved row ``start`` to just before row ``before``. The views
        follow the rows (the moved effect stays selected), then the chain makes the same move (`move_effect`);
        the redraw shows the chain as it is (a drop past the limiter puts the effect before it)."""
        if not 0 <= start < len(self._views):
            return
        to = before if before < start else before - 1
        self._views.insert(to, self._views.pop(start))
        self.effects_list.setCurrentRow(to)
        self.move_effect(to - start)
        self.show_chain()

    def _item_changed(self, item: QListWidgetItem) -> None:
        name = item.data(NAME_ROLE)
        on = item.checkState() == Qt.CheckState.Checked
        chain = self.chain
        what = f"{name} {'on' if on else 'bypassed'}"
        self._do(what, lambda: self.host.session.fx.set_bypass(chain, name, not on))

    def _bypass_chain(self, on: bool) -> None:
        chain = self.chain
        self._do(f"{chain} {'bypassed' if on else 'on'}", lambda: self.host.session.fx.set_chain_bypass(chain, on))

    def _limiter(self, on: bool) -> None:
        self._do(f"limiter {'on' if on else 'off'}", lambda: self.host.session.fx.set_limiter(on))

    def _on_dial(self, name: str, u: float) -> None:
        """A drag: the same write a MIDI knob makes (the chain ramps it in at its next block)."""
        try:
            state = self.host.session.turn(name, u)
        except UserError:  # its effect was removed meanwhile: the dial goes at the next redraw
            return
        self._versions[name] = state.version
        self.dials[name].set_text(state.text)
