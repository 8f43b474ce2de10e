"""The live path: bundle loading, the onnxruntime engine, streaming, the watchdog, parameters and MIDI.

Nothing under this package imports torch (tests/test_live_path_is_torch_free.py walks it): a performer's
machine needs onnxruntime, numpy, sounddevice and python-rtmidi, not PyTorch.
"""
