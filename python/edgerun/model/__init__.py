"""Reading, describing and building .tflite files (no runtime needed beyond the verifier).

- :mod:`edgerun.model.tflite_file`: model bytes <-> the flatbuffers schema module;
  metadata entries, associated files, atomic writes, operator and type names.
- :mod:`edgerun.model.metadata`: :class:`~edgerun.ModelMetadata`, read/write_metadata.
- :mod:`edgerun.model.info`: :class:`~edgerun.ModelInfo` (a loaded model's identity)
  and :class:`~edgerun.ModelDetails` (what :func:`edgerun.inspect` returns).
- :mod:`edgerun.model.inspect`: :func:`edgerun.inspect` and its table output.
- :mod:`edgerun.model.builder`: writing models without TensorFlow; the built-in
  bench model.

Modules here import ``edgerun._core`` and ``edgerun.errors`` and each other,
never the facades above them (session, pipeline, ...) nor ``edgerun.tools``
(tests/test_layout.py checks it).
"""
