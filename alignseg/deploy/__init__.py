"""Deployment: complexity counting, export with parity checks, runtimes and speed benchmarks.

- ``complexity``: parameters and MACs with the papers' conventions (meta device, no arithmetic);
- ``fold``: ``fold_batchnorm(model)``, a copy with every Conv2d→BatchNorm2d pair fused;
- ``export``: ``export_model(model, path, format="onnx"|"openvino", ...)``: eval network (BN folded, deep-
  supervision heads removed) → ONNX / OpenVINO IR, checked against PyTorch at two sizes;
- ``runtimes``: ``build_runner(backend, model_or_file, **options)`` → ``runner(x) -> logits`` for eager,
  ``torch.compile``, ONNX Runtime and OpenVINO;
- ``bench``: ``benchmark(model, ...)`` → a JSON record of params, GMACs, latency, FPS and parity;
- ``extras``: ``require(module, extra)``, the lazy import of optional packages (extra ``deploy``).

Nothing here imports onnx, onnxruntime or openvino until a tool needs it.
"""
