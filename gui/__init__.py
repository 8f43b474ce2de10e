"""The PyQt6 performance window (`rt-samplernn gui`), installed as `rt_samplernn.gui`; never imports torch.

One concern per module: `session` and `session_midi` (the live rig without Qt: engine, player,
parameters, MIDI, seeds, recording, meters), `tap` (the output tap for the scope and recording),
`settings` (everything remembered between runs), `widgets` (knobs, meters, scope, seed slots),
`panels/` (transport, model and voices, seeds, MIDI, meters), `window` (the layout and the polling
timers), `theme` (the look), `analysis` (pure-NumPy drawing data), `app` (QApplication, signals, entry point).
"""
