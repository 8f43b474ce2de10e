"""PyTorch -> ONNX export (installed as rt_samplernn.export): step graphs, the model.json manifest, parity checks.

`onnx_export.export_bundle(model, dir)` writes a bundle (docs/bundle.md); `verify.verify_bundle(model, dir)`
proves it computes what the model computes. This package imports torch; the live path never imports it.
"""
