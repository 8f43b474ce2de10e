"""The PyQt6 performance window (`rt-samplernn gui`), installed as `rt_samplernn.gui`; never imports torch.

One concern per module: `analysis` (pure-NumPy drawing data), `session` (the live rig without Qt: engine,
player, parameters, MIDI, seeds, recording), `widgets` (knobs, meters, scope, seed slots), `window` (the
layout and the polling timers), `theme` (the look), `app` (QApplication, settings, entry point).
"""
